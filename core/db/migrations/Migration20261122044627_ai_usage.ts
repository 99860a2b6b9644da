import { Migration } from '@mikro-orm/migrations';

export class Migration20261122044627_ai_usage extends Migration {
  override name = 'Migration20261122044627_ai_usage';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "usage_events" add "ai_config_id" uuid null, add "provider" varchar(20) null, add "time_to_first_token_ms" int null, add "policy_outcome" varchar(20) null, add "attempts" jsonb null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(
      `alter table "usage_events" drop column "ai_config_id", drop column "provider", drop column "time_to_first_token_ms", drop column "policy_outcome", drop column "attempts";`,
    );
  }
}
