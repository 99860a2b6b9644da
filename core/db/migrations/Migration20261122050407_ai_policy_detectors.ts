import { Migration } from '@mikro-orm/migrations';

export class Migration20261122050407_ai_policy_detectors extends Migration {
  override name = 'Migration20261122050407_ai_policy_detectors';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "ai_policies" add "detectors" jsonb null, add "redact" boolean not null default false, add "judge_config_id" uuid null, add "judge_model" varchar(200) null, add "webhook_url" varchar(2048) null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(
      `alter table "ai_policies" drop column "detectors", drop column "redact", drop column "judge_config_id", drop column "judge_model", drop column "webhook_url";`,
    );
  }
}
