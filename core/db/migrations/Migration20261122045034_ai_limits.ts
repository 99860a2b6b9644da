import { Migration } from '@mikro-orm/migrations';

export class Migration20261122045034_ai_limits extends Migration {
  override name = 'Migration20261122045034_ai_limits';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "ai_limit_counters" ("subject_id" uuid not null, "window" varchar(10) not null, "window_start" timestamptz not null, "requests" int not null default 0, "tokens" bigint not null default '0', primary key ("subject_id", "window", "window_start"));`,
    );

    this.addSql(`alter table "repositories" add "ai_limits" jsonb null;`);

    this.addSql(`alter table "repo_ai_keys" add "ai_limits" jsonb null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "ai_limit_counters" cascade;`);

    this.addSql(`alter table "repo_ai_keys" drop column "ai_limits";`);

    this.addSql(`alter table "repositories" drop column "ai_limits";`);
  }
}
