import { Migration } from '@mikro-orm/migrations';

export class Migration20261206233325_credits extends Migration {
  override name = 'Migration20261206233325_credits';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "prices" ("id" uuid not null, "organization_id" uuid not null, "kind" text not null, "provider" varchar(20) not null, "match" varchar(200) not null, "rates" jsonb not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "prices" add constraint "prices_organization_id_kind_provider_match_unique" unique ("organization_id", "kind", "provider", "match");`,
    );

    this.addSql(
      `create table "budgets" ("id" uuid not null, "organization_id" uuid not null, "repository_id" uuid not null, "subject_kind" text not null, "subject_id" uuid not null, "amount_usd" double precision not null, "period" text not null default 'MONTH', "alert_thresholds" jsonb not null, "webhook_url" varchar(2048) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "budgets" add constraint "budgets_subject_kind_subject_id_unique" unique ("subject_kind", "subject_id");`,
    );

    this.addSql(
      `create table "budget_spends" ("budget_id" uuid not null, "period_start" timestamptz not null, "spent_nano_usd" bigint not null default '0', "alerted_percent" int not null default 0, primary key ("budget_id", "period_start"));`,
    );

    this.addSql(
      `alter table "prices" add constraint "prices_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "prices" add constraint "prices_kind_check" check ("kind" in ('STORAGE', 'AI'));`,
    );

    this.addSql(
      `alter table "budgets" add constraint "budgets_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "budgets" add constraint "budgets_repository_id_foreign" foreign key ("repository_id") references "repositories" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "budgets" add constraint "budgets_subject_kind_check" check ("subject_kind" in ('REPOSITORY', 'STORAGE_KEY', 'AI_KEY'));`,
    );
    this.addSql(
      `alter table "budgets" add constraint "budgets_period_check" check ("period" in ('DAY', 'MONTH', 'TOTAL'));`,
    );

    this.addSql(
      `alter table "budget_spends" add constraint "budget_spends_budget_id_foreign" foreign key ("budget_id") references "budgets" ("id") on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "budget_spends" drop constraint "budget_spends_budget_id_foreign";`);
    this.addSql(`drop table if exists "prices" cascade;`);
    this.addSql(`drop table if exists "budgets" cascade;`);
    this.addSql(`drop table if exists "budget_spends" cascade;`);
  }
}
