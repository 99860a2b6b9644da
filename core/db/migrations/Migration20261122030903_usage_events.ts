import { Migration } from '@mikro-orm/migrations';

export class Migration20261122030903_usage_events extends Migration {
  override name = 'Migration20261122030903_usage_events';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "usage_events" ("id" bigserial primary key, "occurred_at" timestamptz not null, "api" text not null, "organization_id" uuid not null, "repository_id" uuid not null, "bucket_id" uuid null, "key_id" uuid null, "operation" varchar(64) not null, "status" int not null, "bytes_in" bigint not null, "bytes_out" bigint not null, "latency_ms" int not null, "model" varchar(200) null, "tokens_in" int null, "tokens_out" int null, "conversation_id" varchar(200) null);`,
    );
    this.addSql(
      `create index "usage_events_organization_id_occurred_at_index" on "usage_events" ("organization_id", "occurred_at");`,
    );
    this.addSql(
      `create index "usage_events_repository_id_occurred_at_index" on "usage_events" ("repository_id", "occurred_at");`,
    );

    this.addSql(
      `alter table "usage_events" add constraint "usage_events_api_check" check ("api" in ('S3', 'OPENAI'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "usage_events" cascade;`);
  }
}
