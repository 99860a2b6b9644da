import { Migration } from '@mikro-orm/migrations';

export class Migration20261122022427_control_plane extends Migration {
  override name = 'Migration20261122022427_control_plane';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "invitations" ("id" uuid not null, "organization_id" uuid not null, "email" varchar(320) not null, "role" text not null, "token_hash" varchar(64) not null, "expires_at" timestamptz not null, "accepted_at" timestamptz null, "invited_by" uuid null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "invitations" add constraint "invitations_token_hash_unique" unique ("token_hash");`,
    );

    this.addSql(
      `create table "groups" ("id" uuid not null, "organization_id" uuid not null, "name" varchar(100) not null, "description" varchar(1000) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "groups" add constraint "groups_organization_id_name_unique" unique ("organization_id", "name");`,
    );

    this.addSql(
      `create table "audit_events" ("id" uuid not null, "organization_id" uuid not null, "actor_user_id" uuid null, "actor_email" varchar(320) null, "action" varchar(100) not null, "target_type" varchar(50) null, "target_id" varchar(100) null, "workspace_id" uuid null, "outcome" text not null, "details" jsonb null, "request_id" varchar(128) null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "audit_events_organization_id_created_at_index" on "audit_events" ("organization_id", "created_at");`,
    );

    this.addSql(
      `create table "group_members" ("group_id" uuid not null, "user_id" uuid not null, primary key ("group_id", "user_id"));`,
    );

    this.addSql(
      `create table "repositories" ("id" uuid not null, "workspace_id" uuid not null, "name" varchar(100) not null, "description" varchar(1000) null, "storage_endpoint_type" text null, "ai_endpoint_type" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "repositories" add constraint "repositories_workspace_id_name_unique" unique ("workspace_id", "name");`,
    );

    this.addSql(
      `create table "repo_storage_keys" ("id" uuid not null, "repository_id" uuid not null, "name" varchar(100) not null, "access_key_id" varchar(20) not null, "secret" jsonb not null, "scope" text not null, "expires_at" timestamptz null, "revoked_at" timestamptz null, "last_used_at" timestamptz null, "created_by" uuid null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "repo_storage_keys" add constraint "repo_storage_keys_access_key_id_unique" unique ("access_key_id");`,
    );

    this.addSql(
      `create table "repo_ai_keys" ("id" uuid not null, "repository_id" uuid not null, "name" varchar(100) not null, "prefix" varchar(24) not null, "secret_hash" varchar(64) not null, "expires_at" timestamptz null, "revoked_at" timestamptz null, "last_used_at" timestamptz null, "created_by" uuid null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "repo_ai_keys" add constraint "repo_ai_keys_prefix_unique" unique ("prefix");`);

    this.addSql(
      `create table "group_grants" ("id" uuid not null, "group_id" uuid not null, "repository_id" uuid not null, "access" text not null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "group_grants" add constraint "group_grants_group_id_repository_id_unique" unique ("group_id", "repository_id");`,
    );

    this.addSql(
      `create table "buckets" ("id" uuid not null, "workspace_id" uuid not null, "name" varchar(63) not null, "provider" text not null, "bucket_name" varchar(255) not null, "region" varchar(64) null, "endpoint" varchar(2048) null, "force_path_style" boolean not null default false, "credentials_kind" varchar(40) not null, "credentials" jsonb not null, "credentials_hint" varchar(255) null, "storage_cap_bytes" bigint null, "egress_cap_bytes_per_day" bigint null, "requests_per_minute_cap" int null, "status" text not null default 'PENDING', "status_reason" text null, "last_validated_at" timestamptz null, "validation_latency_ms" jsonb null, "validation_job_id" varchar(100) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "buckets" add constraint "buckets_workspace_id_name_unique" unique ("workspace_id", "name");`,
    );

    this.addSql(
      `create table "repository_buckets" ("repository_id" uuid not null, "bucket_id" uuid not null, primary key ("repository_id", "bucket_id"));`,
    );

    this.addSql(
      `create table "ai_policies" ("id" uuid not null, "organization_id" uuid not null, "scope" text not null, "workspace_id" uuid null, "repository_id" uuid null, "name" varchar(100) not null, "rule" text not null, "action" text not null, "target" text not null, "enabled" boolean not null default true, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );

    this.addSql(
      `create table "ai_policy_violations" ("id" uuid not null, "organization_id" uuid not null, "policy_id" uuid null, "repository_id" uuid null, "direction" text not null, "detector" varchar(100) not null, "action_taken" text not null, "excerpt" text null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "ai_policy_violations_organization_id_created_at_index" on "ai_policy_violations" ("organization_id", "created_at");`,
    );

    this.addSql(
      `create table "ai_llm_configs" ("id" uuid not null, "workspace_id" uuid not null, "name" varchar(100) not null, "type" text not null, "api_endpoint" varchar(2048) not null, "api_key" jsonb null, "api_secret" jsonb not null, "status" text not null default 'UNVALIDATED', "status_reason" text null, "last_validated_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "ai_llm_configs" add constraint "ai_llm_configs_workspace_id_name_unique" unique ("workspace_id", "name");`,
    );

    this.addSql(
      `create table "repository_ai_configs" ("repository_id" uuid not null, "ai_llm_config_id" uuid not null, primary key ("repository_id", "ai_llm_config_id"));`,
    );

    this.addSql(
      `alter table "invitations" add constraint "invitations_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "invitations" add constraint "invitations_role_check" check ("role" in ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER'));`,
    );

    this.addSql(
      `alter table "groups" add constraint "groups_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "audit_events" add constraint "audit_events_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "audit_events" add constraint "audit_events_outcome_check" check ("outcome" in ('SUCCESS', 'FAILURE'));`,
    );

    this.addSql(
      `alter table "group_members" add constraint "group_members_group_id_foreign" foreign key ("group_id") references "groups" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "group_members" add constraint "group_members_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "repositories" add constraint "repositories_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "repositories" add constraint "repositories_storage_endpoint_type_check" check ("storage_endpoint_type" in ('S3', 'GCS', 'AZURE'));`,
    );
    this.addSql(
      `alter table "repositories" add constraint "repositories_ai_endpoint_type_check" check ("ai_endpoint_type" in ('OPENAI'));`,
    );

    this.addSql(
      `alter table "repo_storage_keys" add constraint "repo_storage_keys_repository_id_foreign" foreign key ("repository_id") references "repositories" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "repo_storage_keys" add constraint "repo_storage_keys_scope_check" check ("scope" in ('READ', 'WRITE', 'READ_WRITE', 'ADMIN'));`,
    );

    this.addSql(
      `alter table "repo_ai_keys" add constraint "repo_ai_keys_repository_id_foreign" foreign key ("repository_id") references "repositories" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "group_grants" add constraint "group_grants_group_id_foreign" foreign key ("group_id") references "groups" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "group_grants" add constraint "group_grants_repository_id_foreign" foreign key ("repository_id") references "repositories" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "group_grants" add constraint "group_grants_access_check" check ("access" in ('READ', 'WRITE', 'ADMIN'));`,
    );

    this.addSql(
      `alter table "buckets" add constraint "buckets_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "buckets" add constraint "buckets_provider_check" check ("provider" in ('S3', 'S3_COMPATIBLE', 'GCS', 'AZURE'));`,
    );
    this.addSql(
      `alter table "buckets" add constraint "buckets_status_check" check ("status" in ('PENDING', 'VALIDATING', 'VALID', 'INVALID'));`,
    );

    this.addSql(
      `alter table "repository_buckets" add constraint "repository_buckets_repository_id_foreign" foreign key ("repository_id") references "repositories" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "repository_buckets" add constraint "repository_buckets_bucket_id_foreign" foreign key ("bucket_id") references "buckets" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "ai_policies" add constraint "ai_policies_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "ai_policies" add constraint "ai_policies_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "ai_policies" add constraint "ai_policies_repository_id_foreign" foreign key ("repository_id") references "repositories" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "ai_policies" add constraint "ai_policies_scope_check" check ("scope" in ('ORGANIZATION', 'WORKSPACE', 'REPOSITORY'));`,
    );
    this.addSql(
      `alter table "ai_policies" add constraint "ai_policies_action_check" check ("action" in ('LOG', 'ALERT', 'BLOCK'));`,
    );
    this.addSql(
      `alter table "ai_policies" add constraint "ai_policies_target_check" check ("target" in ('PROMPT', 'RESPONSE', 'BOTH'));`,
    );

    this.addSql(
      `alter table "ai_policy_violations" add constraint "ai_policy_violations_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "ai_policy_violations" add constraint "ai_policy_violations_policy_id_foreign" foreign key ("policy_id") references "ai_policies" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "ai_policy_violations" add constraint "ai_policy_violations_repository_id_foreign" foreign key ("repository_id") references "repositories" ("id") on delete set null;`,
    );
    this.addSql(
      `alter table "ai_policy_violations" add constraint "ai_policy_violations_direction_check" check ("direction" in ('PROMPT', 'RESPONSE'));`,
    );
    this.addSql(
      `alter table "ai_policy_violations" add constraint "ai_policy_violations_action_taken_check" check ("action_taken" in ('LOG', 'ALERT', 'BLOCK'));`,
    );

    this.addSql(
      `alter table "ai_llm_configs" add constraint "ai_llm_configs_workspace_id_foreign" foreign key ("workspace_id") references "workspaces" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "ai_llm_configs" add constraint "ai_llm_configs_type_check" check ("type" in ('OPENAI', 'GOOGLE', 'ANTHROPIC', 'AWS', 'OTHER'));`,
    );
    this.addSql(
      `alter table "ai_llm_configs" add constraint "ai_llm_configs_status_check" check ("status" in ('UNVALIDATED', 'VALID', 'INVALID'));`,
    );

    this.addSql(
      `alter table "repository_ai_configs" add constraint "repository_ai_configs_repository_id_foreign" foreign key ("repository_id") references "repositories" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "repository_ai_configs" add constraint "repository_ai_configs_ai_llm_config_id_foreign" foreign key ("ai_llm_config_id") references "ai_llm_configs" ("id") on update cascade on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "group_members" drop constraint "group_members_group_id_foreign";`);
    this.addSql(`alter table "group_grants" drop constraint "group_grants_group_id_foreign";`);
    this.addSql(`alter table "repo_storage_keys" drop constraint "repo_storage_keys_repository_id_foreign";`);
    this.addSql(`alter table "repo_ai_keys" drop constraint "repo_ai_keys_repository_id_foreign";`);
    this.addSql(`alter table "group_grants" drop constraint "group_grants_repository_id_foreign";`);
    this.addSql(
      `alter table "repository_buckets" drop constraint "repository_buckets_repository_id_foreign";`,
    );
    this.addSql(`alter table "ai_policies" drop constraint "ai_policies_repository_id_foreign";`);
    this.addSql(
      `alter table "ai_policy_violations" drop constraint "ai_policy_violations_repository_id_foreign";`,
    );
    this.addSql(
      `alter table "repository_ai_configs" drop constraint "repository_ai_configs_repository_id_foreign";`,
    );
    this.addSql(`alter table "repository_buckets" drop constraint "repository_buckets_bucket_id_foreign";`);
    this.addSql(
      `alter table "ai_policy_violations" drop constraint "ai_policy_violations_policy_id_foreign";`,
    );
    this.addSql(
      `alter table "repository_ai_configs" drop constraint "repository_ai_configs_ai_llm_config_id_foreign";`,
    );

    this.addSql(`drop table if exists "invitations" cascade;`);
    this.addSql(`drop table if exists "groups" cascade;`);
    this.addSql(`drop table if exists "audit_events" cascade;`);
    this.addSql(`drop table if exists "group_members" cascade;`);
    this.addSql(`drop table if exists "repositories" cascade;`);
    this.addSql(`drop table if exists "repo_storage_keys" cascade;`);
    this.addSql(`drop table if exists "repo_ai_keys" cascade;`);
    this.addSql(`drop table if exists "group_grants" cascade;`);
    this.addSql(`drop table if exists "buckets" cascade;`);
    this.addSql(`drop table if exists "repository_buckets" cascade;`);
    this.addSql(`drop table if exists "ai_policies" cascade;`);
    this.addSql(`drop table if exists "ai_policy_violations" cascade;`);
    this.addSql(`drop table if exists "ai_llm_configs" cascade;`);
    this.addSql(`drop table if exists "repository_ai_configs" cascade;`);
  }
}
