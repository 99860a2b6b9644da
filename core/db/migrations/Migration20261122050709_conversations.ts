import { Migration } from '@mikro-orm/migrations';

export class Migration20261122050709_conversations extends Migration {
  override name = 'Migration20261122050709_conversations';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "conversations" ("id" uuid not null, "repository_id" uuid not null, "title" varchar(200) not null, "model" varchar(200) not null, "system_prompt" text null, "context_tokens" int not null, "created_by" uuid null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "conversations_repository_id_updated_at_index" on "conversations" ("repository_id", "updated_at");`,
    );

    this.addSql(
      `create table "conversation_messages" ("id" bigserial primary key, "conversation_id" uuid not null, "sequence" int not null, "role" text not null, "content" text not null, "tokens_in" int null, "tokens_out" int null, "created_at" timestamptz not null);`,
    );
    this.addSql(
      `create index "conversation_messages_conversation_id_sequence_index" on "conversation_messages" ("conversation_id", "sequence");`,
    );

    this.addSql(
      `alter table "conversations" add constraint "conversations_repository_id_foreign" foreign key ("repository_id") references "repositories" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "conversation_messages" add constraint "conversation_messages_conversation_id_foreign" foreign key ("conversation_id") references "conversations" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "conversation_messages" add constraint "conversation_messages_role_check" check ("role" in ('user', 'assistant'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(
      `alter table "conversation_messages" drop constraint "conversation_messages_conversation_id_foreign";`,
    );

    this.addSql(`drop table if exists "conversations" cascade;`);
    this.addSql(`drop table if exists "conversation_messages" cascade;`);
  }
}
