import { Migration } from '@mikro-orm/migrations';

export class Migration20261122042433_multipart_uploads extends Migration {
  override name = 'Migration20261122042433_multipart_uploads';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "multipart_uploads" ("id" varchar(32) not null, "repository_id" uuid not null, "bucket_id" uuid not null, "key" text not null, "backend_upload_id" text null, "content_type" varchar(255) null, "metadata" jsonb null, "checksum_algorithm" varchar(16) null, "initiator_key_id" uuid null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "multipart_uploads_bucket_id_key_created_at_index" on "multipart_uploads" ("bucket_id", "key", "created_at");`,
    );

    this.addSql(
      `create table "multipart_parts" ("upload_id" varchar(32) not null, "part_number" int not null, "etag" varchar(100) not null, "size" bigint not null, "locator" jsonb null, "checksum_algorithm" varchar(16) null, "checksum_value" varchar(100) null, "uploaded_at" timestamptz not null, primary key ("upload_id", "part_number"));`,
    );

    this.addSql(
      `alter table "multipart_uploads" add constraint "multipart_uploads_repository_id_foreign" foreign key ("repository_id") references "repositories" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "multipart_uploads" add constraint "multipart_uploads_bucket_id_foreign" foreign key ("bucket_id") references "buckets" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "multipart_parts" add constraint "multipart_parts_upload_id_foreign" foreign key ("upload_id") references "multipart_uploads" ("id") on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "multipart_parts" drop constraint "multipart_parts_upload_id_foreign";`);

    this.addSql(`drop table if exists "multipart_uploads" cascade;`);
    this.addSql(`drop table if exists "multipart_parts" cascade;`);
  }
}
