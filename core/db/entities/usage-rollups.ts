import { defineEntity, p } from '@mikro-orm/core';

/**
 * The stats rollups' output (JOB-4): raw `usage_events` summed per minute and
 * per UTC day, one row per window and combination of dimensions. Rows are
 * only ever written by `core/stats/rollup.ts`, which replaces a whole window
 * at a time, so a row is never incremented and a re-run cannot count twice.
 * Written and read with SQL (the stats endpoints sum them); the entities
 * exist for the schema.
 *
 * Ids are plain columns, as in `usage_events`: figures of a deleted
 * repository or bucket stay until they age out.
 */
const windowFigures = () => ({
  id: p.bigint('string').primary().autoincrement(),
  /** The window's first instant (a whole minute, or 00:00 UTC of the day). */
  windowStart: p.datetime(),
  organizationId: p.uuid(),
  /** The repository's workspace when the window was rolled up; null if the repository was gone. */
  workspaceId: p.uuid().nullable(),
  repositoryId: p.uuid(),
  keyId: p.uuid().nullable(),
  operation: p.string().length(64),
  requests: p.bigint('number'),
  /** Answers with status 400 or more (499: the client went away). */
  errors: p.bigint('number'),
  /** Answers with status 500 or more. */
  serverErrors: p.bigint('number'),
  bytesIn: p.bigint('number'),
  bytesOut: p.bigint('number'),
  latencySumMs: p.bigint('number'),
  latencyMaxMs: p.integer(),
  /** Requests per latency bucket (`core/stats/latency-histogram.ts`). */
  latencyHistogram: p.array(Number).columnType('bigint[]'),
});

const storageFigures = () => ({
  ...windowFigures(),
  /** Null for requests that name no bucket (ListBuckets). */
  bucketId: p.uuid().nullable(),
});

const aiFigures = () => ({
  ...windowFigures(),
  model: p.string().length(200).nullable(),
  provider: p.string().length(20).nullable(),
  aiConfigId: p.uuid().nullable(),
  conversationId: p.string().length(200).nullable(),
  policyOutcome: p.string().length(20).nullable(),
  tokensIn: p.bigint('number'),
  tokensOut: p.bigint('number'),
  /** Over the streamed requests that reported a time to first token. */
  timeToFirstTokenSumMs: p.bigint('number'),
  timeToFirstTokenCount: p.bigint('number'),
});

const windowIndexes = () => [
  { properties: ['organizationId' as const, 'windowStart' as const] },
  { properties: ['windowStart' as const] },
];

const StorageUsageMinuteSchema = defineEntity({
  name: 'StorageUsageMinute',
  tableName: 'storage_usage_minutes',
  indexes: windowIndexes(),
  properties: storageFigures(),
});
export class StorageUsageMinute extends StorageUsageMinuteSchema.class {}
StorageUsageMinuteSchema.setClass(StorageUsageMinute);

const StorageUsageDaySchema = defineEntity({
  name: 'StorageUsageDay',
  tableName: 'storage_usage_days',
  indexes: windowIndexes(),
  properties: storageFigures(),
});
export class StorageUsageDay extends StorageUsageDaySchema.class {}
StorageUsageDaySchema.setClass(StorageUsageDay);

const AiUsageMinuteSchema = defineEntity({
  name: 'AiUsageMinute',
  tableName: 'ai_usage_minutes',
  indexes: windowIndexes(),
  properties: aiFigures(),
});
export class AiUsageMinute extends AiUsageMinuteSchema.class {}
AiUsageMinuteSchema.setClass(AiUsageMinute);

const AiUsageDaySchema = defineEntity({
  name: 'AiUsageDay',
  tableName: 'ai_usage_days',
  indexes: windowIndexes(),
  properties: aiFigures(),
});
export class AiUsageDay extends AiUsageDaySchema.class {}
AiUsageDaySchema.setClass(AiUsageDay);

/**
 * Where the rollups stand: one row. `watermarkId` is the last usage event id
 * known to be rolled up (events are found by insertion, so a late event with
 * an old `occurred_at` is still found); `rawPrunedBefore` is the instant raw
 * events were pruned up to, so no run recomputes a window whose raw rows are
 * gone.
 */
const UsageRollupStateSchema = defineEntity({
  name: 'UsageRollupState',
  tableName: 'usage_rollup_state',
  properties: {
    name: p.string().length(40).primary(),
    watermarkId: p.bigint('string').default('0'),
    rawPrunedBefore: p.datetime().nullable(),
    lastRunAt: p.datetime().nullable(),
  },
});
export class UsageRollupState extends UsageRollupStateSchema.class {}
UsageRollupStateSchema.setClass(UsageRollupState);
