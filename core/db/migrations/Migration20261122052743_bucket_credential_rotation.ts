import { Migration } from '@mikro-orm/migrations';

export class Migration20261122052743_bucket_credential_rotation extends Migration {
  override name = 'Migration20261122052743_bucket_credential_rotation';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "buckets" add "pending_credentials" jsonb null, add "previous_credentials" jsonb null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(
      `alter table "buckets" drop column "pending_credentials", drop column "previous_credentials";`,
    );
  }
}
