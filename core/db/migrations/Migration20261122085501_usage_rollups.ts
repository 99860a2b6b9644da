import { Migration } from '@mikro-orm/migrations';

export class Migration20261122085501_usage_rollups extends Migration {
  override name = 'Migration20261122085501_usage_rollups';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "ai_usage_days" ("id" bigserial primary key, "window_start" timestamptz not null, "organization_id" uuid not null, "workspace_id" uuid null, "repository_id" uuid not null, "key_id" uuid null, "operation" varchar(64) not null, "requests" bigint not null, "errors" bigint not null, "server_errors" bigint not null, "bytes_in" bigint not null, "bytes_out" bigint not null, "latency_sum_ms" bigint not null, "latency_max_ms" int not null, "latency_histogram" bigint[] not null, "model" varchar(200) null, "provider" varchar(20) null, "ai_config_id" uuid null, "conversation_id" varchar(200) null, "policy_outcome" varchar(20) null, "tokens_in" bigint not null, "tokens_out" bigint not null, "time_to_first_token_sum_ms" bigint not null, "time_to_first_token_count" bigint not null);`,
    );
    this.addSql(
      `create index "ai_usage_days_organization_id_window_start_index" on "ai_usage_days" ("organization_id", "window_start");`,
    );
    this.addSql(`create index "ai_usage_days_window_start_index" on "ai_usage_days" ("window_start");`);

    this.addSql(
      `create table "ai_usage_minutes" ("id" bigserial primary key, "window_start" timestamptz not null, "organization_id" uuid not null, "workspace_id" uuid null, "repository_id" uuid not null, "key_id" uuid null, "operation" varchar(64) not null, "requests" bigint not null, "errors" bigint not null, "server_errors" bigint not null, "bytes_in" bigint not null, "bytes_out" bigint not null, "latency_sum_ms" bigint not null, "latency_max_ms" int not null, "latency_histogram" bigint[] not null, "model" varchar(200) null, "provider" varchar(20) null, "ai_config_id" uuid null, "conversation_id" varchar(200) null, "policy_outcome" varchar(20) null, "tokens_in" bigint not null, "tokens_out" bigint not null, "time_to_first_token_sum_ms" bigint not null, "time_to_first_token_count" bigint not null);`,
    );
    this.addSql(
      `create index "ai_usage_minutes_organization_id_window_start_index" on "ai_usage_minutes" ("organization_id", "window_start");`,
    );
    this.addSql(`create index "ai_usage_minutes_window_start_index" on "ai_usage_minutes" ("window_start");`);

    this.addSql(
      `create table "storage_usage_days" ("id" bigserial primary key, "window_start" timestamptz not null, "organization_id" uuid not null, "workspace_id" uuid null, "repository_id" uuid not null, "key_id" uuid null, "operation" varchar(64) not null, "requests" bigint not null, "errors" bigint not null, "server_errors" bigint not null, "bytes_in" bigint not null, "bytes_out" bigint not null, "latency_sum_ms" bigint not null, "latency_max_ms" int not null, "latency_histogram" bigint[] not null, "bucket_id" uuid null);`,
    );
    this.addSql(
      `create index "storage_usage_days_organization_id_window_start_index" on "storage_usage_days" ("organization_id", "window_start");`,
    );
    this.addSql(
      `create index "storage_usage_days_window_start_index" on "storage_usage_days" ("window_start");`,
    );

    this.addSql(
      `create table "storage_usage_minutes" ("id" bigserial primary key, "window_start" timestamptz not null, "organization_id" uuid not null, "workspace_id" uuid null, "repository_id" uuid not null, "key_id" uuid null, "operation" varchar(64) not null, "requests" bigint not null, "errors" bigint not null, "server_errors" bigint not null, "bytes_in" bigint not null, "bytes_out" bigint not null, "latency_sum_ms" bigint not null, "latency_max_ms" int not null, "latency_histogram" bigint[] not null, "bucket_id" uuid null);`,
    );
    this.addSql(
      `create index "storage_usage_minutes_organization_id_window_start_index" on "storage_usage_minutes" ("organization_id", "window_start");`,
    );
    this.addSql(
      `create index "storage_usage_minutes_window_start_index" on "storage_usage_minutes" ("window_start");`,
    );

    this.addSql(
      `create table "usage_rollup_state" ("name" varchar(40) not null, "watermark_id" bigint not null default '0', "raw_pruned_before" timestamptz null, "last_run_at" timestamptz null, primary key ("name"));`,
    );

    this.addSql(`alter table "usage_events" add "recorded_at" timestamptz not null default now();`);
    this.addSql(`create index "usage_events_occurred_at_index" on "usage_events" ("occurred_at");`);

    // Latency histograms (core/stats/latency-histogram.ts) merge by element-wise addition.
    this.addSql(`create function "histogram_add"(bigint[], bigint[]) returns bigint[]
      language sql immutable parallel safe as
      $$ select coalesce(array_agg(coalesce(a, 0) + coalesce(b, 0) order by i), '{}')
         from unnest($1, $2) with ordinality as t(a, b, i) $$;`);
    this.addSql(
      `create aggregate "histogram_sum"(bigint[]) (sfunc = "histogram_add", stype = bigint[], initcond = '{}', combinefunc = "histogram_add", parallel = safe);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "ai_usage_days" cascade;`);
    this.addSql(`drop table if exists "ai_usage_minutes" cascade;`);
    this.addSql(`drop table if exists "storage_usage_days" cascade;`);
    this.addSql(`drop table if exists "storage_usage_minutes" cascade;`);
    this.addSql(`drop table if exists "usage_rollup_state" cascade;`);

    this.addSql(`drop index "usage_events_occurred_at_index";`);
    this.addSql(`alter table "usage_events" drop column "recorded_at";`);
    this.addSql(`drop aggregate if exists "histogram_sum"(bigint[]);`);
    this.addSql(`drop function if exists "histogram_add"(bigint[], bigint[]);`);
  }
}
