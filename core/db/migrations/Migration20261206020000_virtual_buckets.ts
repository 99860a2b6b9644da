import { Migration } from '@mikro-orm/migrations';

export class Migration20261206020000_virtual_buckets extends Migration {
  override name = 'Migration20261206020000_virtual_buckets';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "virtual_buckets" ("id" uuid not null, "repository_id" uuid not null, "name" varchar(63) not null, "policy" jsonb not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `alter table "virtual_buckets" add constraint "virtual_buckets_repository_id_name_unique" unique ("repository_id", "name");`,
    );

    this.addSql(
      `create table "virtual_objects" ("virtual_bucket_id" uuid not null, "key" text collate "C" not null, "bucket_id" uuid not null, "size" bigint not null, "etag" varchar(100) null, "last_modified" timestamptz not null, "content_type" varchar(255) null, primary key ("virtual_bucket_id", "key"));`,
    );
    this.addSql(`create index "virtual_objects_bucket_id_index" on "virtual_objects" ("bucket_id");`);

    this.addSql(
      `create table "virtual_bucket_members" ("virtual_bucket_id" uuid not null, "bucket_id" uuid not null, "position" int not null, primary key ("virtual_bucket_id", "bucket_id"));`,
    );
    this.addSql(
      `create index "virtual_bucket_members_bucket_id_index" on "virtual_bucket_members" ("bucket_id");`,
    );

    this.addSql(
      `create table "virtual_bucket_uploads" ("upload_id" varchar(32) not null, "virtual_bucket_id" uuid not null, primary key ("upload_id"));`,
    );
    this.addSql(
      `create index "virtual_bucket_uploads_virtual_bucket_id_index" on "virtual_bucket_uploads" ("virtual_bucket_id");`,
    );

    this.addSql(
      `alter table "virtual_buckets" add constraint "virtual_buckets_repository_id_foreign" foreign key ("repository_id") references "repositories" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "virtual_objects" add constraint "virtual_objects_virtual_bucket_id_foreign" foreign key ("virtual_bucket_id") references "virtual_buckets" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "virtual_objects" add constraint "virtual_objects_bucket_id_foreign" foreign key ("bucket_id") references "buckets" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "virtual_bucket_members" add constraint "virtual_bucket_members_virtual_bucket_id_foreign" foreign key ("virtual_bucket_id") references "virtual_buckets" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "virtual_bucket_members" add constraint "virtual_bucket_members_bucket_id_foreign" foreign key ("bucket_id") references "buckets" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "virtual_bucket_uploads" add constraint "virtual_bucket_uploads_upload_id_foreign" foreign key ("upload_id") references "multipart_uploads" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "virtual_bucket_uploads" add constraint "virtual_bucket_uploads_virtual_bucket_id_foreign" foreign key ("virtual_bucket_id") references "virtual_buckets" ("id") on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "virtual_objects" drop constraint "virtual_objects_virtual_bucket_id_foreign";`);
    this.addSql(
      `alter table "virtual_bucket_members" drop constraint "virtual_bucket_members_virtual_bucket_id_foreign";`,
    );
    this.addSql(
      `alter table "virtual_bucket_uploads" drop constraint "virtual_bucket_uploads_virtual_bucket_id_foreign";`,
    );

    this.addSql(`drop table if exists "virtual_buckets" cascade;`);
    this.addSql(`drop table if exists "virtual_objects" cascade;`);
    this.addSql(`drop table if exists "virtual_bucket_members" cascade;`);
    this.addSql(`drop table if exists "virtual_bucket_uploads" cascade;`);
  }
}
