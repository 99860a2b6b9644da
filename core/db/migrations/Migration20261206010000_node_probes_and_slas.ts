import { Migration } from '@mikro-orm/migrations';

export class Migration20261206010000_node_probes_and_slas extends Migration {
  override name = 'Migration20261206010000_node_probes_and_slas';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "bridge_nodes" ("id" uuid not null, "label" varchar(200) not null, "api" varchar(20) not null, "region" varchar(64) not null, "provider" varchar(64) not null, "address" varchar(2048) not null, "openai_address" varchar(2048) null, "health_url" varchar(2048) not null, "version" varchar(64) not null, "heartbeat_seconds" int not null, "started_at" timestamptz not null, "last_seen_at" timestamptz not null, "stopped_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "bridge_nodes" add constraint "bridge_nodes_label_address_unique" unique ("label", "address");`,
    );

    this.addSql(
      `create table "probe_results" ("id" bigserial primary key, "target_kind" text not null, "target_id" uuid not null, "minute" timestamptz not null, "ok" boolean not null, "latency_ms" int not null, "reason" text null, "probed_at" timestamptz not null);`,
    );
    this.addSql(`create index "probe_results_minute_index" on "probe_results" ("minute");`);
    this.addSql(
      `alter table "probe_results" add constraint "probe_results_target_kind_target_id_minute_unique" unique ("target_kind", "target_id", "minute");`,
    );
    this.addSql(
      `alter table "probe_results" add constraint "probe_results_target_kind_check" check ("target_kind" in ('NODE', 'BUCKET'));`,
    );

    this.addSql(
      `create table "bucket_slas" ("id" uuid not null, "bucket_id" uuid not null, "availability_percent" double precision null, "p95_latency_ms" int null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "bucket_slas" add constraint "bucket_slas_bucket_id_unique" unique ("bucket_id");`,
    );
    this.addSql(
      `alter table "bucket_slas" add constraint "bucket_slas_bucket_id_foreign" foreign key ("bucket_id") references "buckets" ("id") on delete cascade;`,
    );

    this.addSql(
      `create table "provider_slas" ("id" uuid not null, "organization_id" uuid not null, "provider" text not null, "availability_percent" double precision null, "p95_latency_ms" int null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "provider_slas" add constraint "provider_slas_organization_id_provider_unique" unique ("organization_id", "provider");`,
    );
    this.addSql(
      `alter table "provider_slas" add constraint "provider_slas_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "provider_slas" add constraint "provider_slas_provider_check" check ("provider" in ('S3', 'S3_COMPATIBLE', 'GCS', 'AZURE'));`,
    );

    this.addSql(
      `create table "sla_compliance" ("id" bigserial primary key, "subject_kind" text not null, "subject_id" uuid not null, "window_name" text not null, "availability_percent" double precision null, "p95_latency_ms" int null, "target_availability_percent" double precision not null, "target_p95_latency_ms" int not null, "compliant" boolean null, "probes" int not null, "probe_failures" int not null, "requests" bigint not null, "server_errors" bigint not null, "measured_at" timestamptz not null);`,
    );
    this.addSql(
      `alter table "sla_compliance" add constraint "sla_compliance_subject_kind_subject_id_window_name_unique" unique ("subject_kind", "subject_id", "window_name");`,
    );
    this.addSql(
      `alter table "sla_compliance" add constraint "sla_compliance_subject_kind_check" check ("subject_kind" in ('NODE', 'BUCKET'));`,
    );
    this.addSql(
      `alter table "sla_compliance" add constraint "sla_compliance_window_name_check" check ("window_name" in ('1h', '24h', '7d'));`,
    );

    this.addSql(
      `create table "reputations" ("id" bigserial primary key, "subject_kind" text not null, "subject_id" uuid not null, "score" double precision not null, "availability_percent" double precision null, "p95_latency_ms" int null, "compliant" boolean null, "recent_failures" int not null, "measured_at" timestamptz not null);`,
    );
    this.addSql(
      `alter table "reputations" add constraint "reputations_subject_kind_subject_id_unique" unique ("subject_kind", "subject_id");`,
    );
    this.addSql(
      `alter table "reputations" add constraint "reputations_subject_kind_check" check ("subject_kind" in ('NODE', 'BUCKET'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "bridge_nodes" cascade;`);
    this.addSql(`drop table if exists "probe_results" cascade;`);
    this.addSql(`drop table if exists "bucket_slas" cascade;`);
    this.addSql(`drop table if exists "provider_slas" cascade;`);
    this.addSql(`drop table if exists "sla_compliance" cascade;`);
    this.addSql(`drop table if exists "reputations" cascade;`);
  }
}
