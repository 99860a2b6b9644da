import { defineEntity, p } from '@mikro-orm/core';

/**
 * Requests admitted and tokens used by one key or repository in one window
 * (a minute, or a budget period), shared by every bridge process: the AI
 * gateway admits a request with one atomic upsert per limit, so concurrent
 * requests on several bridges cannot pass a limit together. Rows of past
 * windows are pruned by the gateway.
 */
const AiLimitCounterSchema = defineEntity({
  name: 'AiLimitCounter',
  tableName: 'ai_limit_counters',
  properties: {
    /** The key's or the repository's id. */
    subjectId: p.uuid().primary(),
    /** `minute` or the budget period (`DAY`, `MONTH`, `TOTAL`). */
    window: p.string().length(10).primary(),
    windowStart: p.datetime().primary(),
    requests: p.integer().default(0),
    tokens: p.bigint('number').default(0),
  },
});

export class AiLimitCounter extends AiLimitCounterSchema.class {}
AiLimitCounterSchema.setClass(AiLimitCounter);
