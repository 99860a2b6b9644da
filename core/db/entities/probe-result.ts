import { defineEntity, p } from '@mikro-orm/core';

export const probeTargetKinds = ['NODE', 'BUCKET'] as const;
export type ProbeTargetKind = (typeof probeTargetKinds)[number];

/**
 * JOB-5's measurements: at most one per target and minute (a second probe in
 * the same minute replaces the first). Written and read with SQL
 * (`core/nodes/probe-results.ts`); pruned after NODE_PROBE_RETENTION_DAYS.
 */
const ProbeResultSchema = defineEntity({
  name: 'ProbeResult',
  tableName: 'probe_results',
  uniques: [{ properties: ['targetKind', 'targetId', 'minute'] }],
  indexes: [{ properties: ['minute'] }],
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    targetKind: p.enum(probeTargetKinds),
    /** A bridge node's or a bucket's id (a plain column: results outlive neither for long). */
    targetId: p.uuid(),
    minute: p.datetime(),
    ok: p.boolean(),
    /** Until the answer, or until the failure (a timeout counts its full length). */
    latencyMs: p.integer(),
    reason: p.text().nullable(),
    probedAt: p.datetime(),
  },
});
export class ProbeResult extends ProbeResultSchema.class {}
ProbeResultSchema.setClass(ProbeResult);
