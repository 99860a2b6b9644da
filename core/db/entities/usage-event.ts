import { defineEntity, p } from '@mikro-orm/core';

/** Which gateway served the request: the S3 bridge and the OpenAI-compatible gateway share one table. */
export const usageApis = ['S3', 'OPENAI'] as const;
export type UsageApi = (typeof usageApis)[number];

/**
 * One metered request (BR-6, AI-5), the raw input of the stats rollups
 * (JOB-4). Written only in batches by `core/metering/usage-recorder.ts`.
 *
 * The ids are plain columns, not foreign keys, on purpose: an event describes
 * something that already happened, so it must be insertable even when its
 * organization, repository, bucket or key was deleted in the meantime (a
 * single dangling id would otherwise fail the whole multi-row batch), and the
 * hot insert path stays free of FK checks and locks on the parent rows.
 * Events of deleted resources are left for the rollups' pruning to remove.
 */
const UsageEventSchema = defineEntity({
  name: 'UsageEvent',
  tableName: 'usage_events',
  indexes: [
    { properties: ['organizationId', 'occurredAt'] },
    { properties: ['repositoryId', 'occurredAt'] },
    // The S3 bridge sums a bucket's egress of the day for its cap.
    { properties: ['bucketId', 'occurredAt'] },
    // The rollups rebuild a window from every event in it, whatever its organization.
    { properties: ['occurredAt'] },
  ],
  properties: {
    /** A sequence, not a UUID: cheap appends to a compact index, and a watermark rollups can resume from. */
    id: p.bigint('string').primary().autoincrement(),
    /** When the exchange ended (response sent or connection closed). */
    occurredAt: p.datetime(),
    /**
     * When the batch holding the event was written (the database's clock). The
     * rollups advance their id watermark only past events written a while ago,
     * so an id committed out of order by a slower concurrent batch is not skipped.
     */
    recordedAt: p.datetime().defaultRaw('now()'),
    api: p.enum(usageApis),
    organizationId: p.uuid(),
    repositoryId: p.uuid(),
    bucketId: p.uuid().nullable(),
    /** The repository key (storage or AI key) that signed the request. */
    keyId: p.uuid().nullable(),
    /** The protocol's operation name: `PutObject`, `GetObject`, `ChatCompletions`, ... */
    operation: p.string().length(64),
    /** HTTP status sent; 499 when the client went away before a response was sent. */
    status: p.integer(),
    bytesIn: p.bigint('number'),
    bytesOut: p.bigint('number'),
    latencyMs: p.integer(),
    /** Filled by the AI gateway; null for storage requests. */
    model: p.string().length(200).nullable(),
    tokensIn: p.integer().nullable(),
    tokensOut: p.integer().nullable(),
    conversationId: p.string().length(200).nullable(),
    aiConfigId: p.uuid().nullable(),
    provider: p.string().length(20).nullable(),
    timeToFirstTokenMs: p.integer().nullable(),
    policyOutcome: p.string().length(20).nullable(),
    /** Every provider call made for the request, fallbacks included: config, provider, model, outcome, latency. */
    attempts: p.json<unknown[]>().nullable(),
  },
});

export class UsageEvent extends UsageEventSchema.class {}
UsageEventSchema.setClass(UsageEvent);
