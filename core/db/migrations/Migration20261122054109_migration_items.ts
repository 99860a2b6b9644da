import { Migration } from '@mikro-orm/migrations';

export class Migration20261122054109_migration_items extends Migration {
  override name = 'Migration20261122054109_migration_items';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "migration_items" ("id" bigserial primary key, "job_id" varchar(100) not null, "key" text not null, "size" bigint not null, "source_etag" varchar(100) null, "source_modified_at" timestamptz null, "action" text not null, "state" text not null, "method" text null, "error" text null, "attempts" int not null default 0, "claimed_by" varchar(200) null, "claimed_at" timestamptz null);`,
    );
    this.addSql(
      `create index "migration_items_job_id_state_key_index" on "migration_items" ("job_id", "state", "key");`,
    );
    this.addSql(
      `alter table "migration_items" add constraint "migration_items_job_id_key_unique" unique ("job_id", "key");`,
    );

    this.addSql(
      `alter table "migration_items" add constraint "migration_items_action_check" check ("action" in ('copy', 'skip', 'delete', 'conflict'));`,
    );
    this.addSql(
      `alter table "migration_items" add constraint "migration_items_state_check" check ("state" in ('pending', 'done', 'failed'));`,
    );
    this.addSql(
      `alter table "migration_items" add constraint "migration_items_method_check" check ("method" in ('native', 'streamed'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "migration_items" cascade;`);
  }
}
