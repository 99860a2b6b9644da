import { Migration } from '@mikro-orm/migrations';

export class Migration20261122044408_usage_events_by_bucket extends Migration {
  override name = 'Migration20261122044408_usage_events_by_bucket';

  override up(): void | Promise<void> {
    this.addSql(
      `create index "usage_events_bucket_id_occurred_at_index" on "usage_events" ("bucket_id", "occurred_at");`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "usage_events_bucket_id_occurred_at_index";`);
  }
}
