import { defineEntity, p } from '@mikro-orm/core';
import { Bucket, bucketProviders } from './bucket.ts';
import { updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { Organization } from './organization.ts';
import { probeTargetKinds } from './probe-result.ts';

/**
 * OBS-4 targets. A null field falls back to the organization's default for
 * the bucket's provider, then to Skybridge's (`core/sla/targets.ts`).
 */
const slaFigures = () => ({
  availabilityPercent: p.double().nullable(),
  // The naming strategy would write `p95latency_ms`.
  p95LatencyMs: p.integer().nullable().fieldName('p95_latency_ms'),
  updatedAt: updatedAt(),
});

const BucketSlaSchema = defineEntity({
  name: 'BucketSla',
  tableName: 'bucket_slas',
  uniques: [{ properties: ['bucket'] }],
  properties: {
    id: uuidPrimaryKey(),
    bucket: () => p.manyToOne(Bucket).deleteRule('cascade'),
    ...slaFigures(),
  },
});
export class BucketSla extends BucketSlaSchema.class {}
BucketSlaSchema.setClass(BucketSla);

const ProviderSlaSchema = defineEntity({
  name: 'ProviderSla',
  tableName: 'provider_slas',
  uniques: [{ properties: ['organization', 'provider'] }],
  properties: {
    id: uuidPrimaryKey(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    provider: p.enum(bucketProviders),
    ...slaFigures(),
  },
});
export class ProviderSla extends ProviderSlaSchema.class {}
ProviderSlaSchema.setClass(ProviderSla);

export const slaWindows = ['1h', '24h', '7d'] as const;
export type SlaWindow = (typeof slaWindows)[number];

/**
 * Compliance per subject (bridge node or bucket) and rolling window, and
 * below the reputation per subject: rebuilt by every probe run
 * (`core/sla/compliance.ts`), read by the stats endpoints, routing and the
 * rebalancing planner. Subject ids are plain columns, as in `probe_results`.
 */
const SlaComplianceSchema = defineEntity({
  name: 'SlaCompliance',
  tableName: 'sla_compliance',
  uniques: [{ properties: ['subjectKind', 'subjectId', 'windowName'] }],
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    subjectKind: p.enum(probeTargetKinds),
    subjectId: p.uuid(),
    windowName: p.enum(slaWindows),
    /** Null when the window holds no probe and no request. */
    availabilityPercent: p.double().nullable(),
    p95LatencyMs: p.integer().nullable().fieldName('p95_latency_ms'),
    targetAvailabilityPercent: p.double(),
    targetP95LatencyMs: p.integer().fieldName('target_p95_latency_ms'),
    /** Null when there is nothing to judge. */
    compliant: p.boolean().nullable(),
    probes: p.integer(),
    probeFailures: p.integer(),
    requests: p.bigint('number'),
    serverErrors: p.bigint('number'),
    measuredAt: p.datetime(),
  },
});
export class SlaCompliance extends SlaComplianceSchema.class {}
SlaComplianceSchema.setClass(SlaCompliance);

const ReputationSchema = defineEntity({
  name: 'Reputation',
  tableName: 'reputations',
  uniques: [{ properties: ['subjectKind', 'subjectId'] }],
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    subjectKind: p.enum(probeTargetKinds),
    subjectId: p.uuid(),
    /** 0 (avoid) to 1 (meets its SLA, nothing failing): `core/sla/reputation.ts`. */
    score: p.double(),
    /** The 24-hour window's figures. */
    availabilityPercent: p.double().nullable(),
    p95LatencyMs: p.integer().nullable().fieldName('p95_latency_ms'),
    compliant: p.boolean().nullable(),
    /** Failed probes among the recent ones. */
    recentFailures: p.integer(),
    measuredAt: p.datetime(),
  },
});
export class Reputation extends ReputationSchema.class {}
ReputationSchema.setClass(Reputation);
