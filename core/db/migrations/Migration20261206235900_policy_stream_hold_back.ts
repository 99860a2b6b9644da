import { Migration } from '@mikro-orm/migrations';

export class Migration20261206235900_policy_stream_hold_back extends Migration {
  override name = 'Migration20261206235900_policy_stream_hold_back';

  override up(): void | Promise<void> {
    this.addSql(`alter table "ai_policies" add column "stream_hold_back" boolean not null default true;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "ai_policies" drop column "stream_hold_back";`);
  }
}
