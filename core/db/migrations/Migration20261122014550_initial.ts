import { Migration } from '@mikro-orm/migrations';

export class Migration20261122014550_initial extends Migration {
  override name = 'Migration20261122014550_initial';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "organizations" ("id" uuid not null, "name" varchar(200) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );

    this.addSql(
      `create table "users" ("id" uuid not null, "email" varchar(320) not null, "display_name" varchar(200) null, "password_hash" varchar(300) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);

    this.addSql(
      `create table "memberships" ("id" uuid not null, "user_id" uuid not null, "organization_id" uuid not null, "role" text not null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "memberships" add constraint "memberships_user_id_organization_id_unique" unique ("user_id", "organization_id");`,
    );
    this.addSql(
      `alter table "memberships" add constraint "memberships_role_check" check ("role" in ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER'));`,
    );

    this.addSql(
      `create table "workspaces" ("id" uuid not null, "organization_id" uuid not null, "name" varchar(200) not null, "is_default" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "workspaces" add constraint "workspaces_organization_id_name_unique" unique ("organization_id", "name");`,
    );

    this.addSql(
      `alter table "memberships" add constraint "memberships_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "memberships" add constraint "memberships_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "workspaces" add constraint "workspaces_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`,
    );

    this.addSql(`create index "memberships_organization_id_index" on "memberships" ("organization_id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "memberships" cascade;`);
    this.addSql(`drop table if exists "workspaces" cascade;`);
    this.addSql(`drop table if exists "users" cascade;`);
    this.addSql(`drop table if exists "organizations" cascade;`);
  }
}
