/**
 * OBS-4: how far a backend bucket or a bridge node meets its SLA, as one
 * score that routing (BR-8) and the rebalancing planner (JOB-6) compare.
 *
 *   score = availability × latency × recent, each factor in 0..1
 *   availability = 1 − (points below the availability target over 24 h) / 10
 *                  (at or above target: 1; 10 points below or worse: 0)
 *   latency      = target p95 / p95 over 24 h when slower than the target, else 1
 *   recent       = share of the probes of the last 15 minutes that succeeded
 *
 * A subject with nothing measured in 24 hours has no reputation (unknown, not
 * bad). Scores are computed by the probe workflow (`compliance.ts`) into the
 * `reputations` table; readers only load them.
 */
import type { ProbeTargetKind } from '../db/entities/index.ts';
import type { EntityManager } from '../db/orm.ts';
import type { SlaTarget } from './targets.ts';

/** Availability points below target that take the availability factor to 0. */
export const availabilityPointsToZero = 10;
/** How far back "recent" probe failures count. */
export const recentMinutes = 15;

export interface ReputationInputs {
  target: SlaTarget;
  /** Over 24 hours; null when nothing was measured. */
  availabilityPercent: number | null;
  p95LatencyMs: number | null;
  recentProbes: number;
  recentFailures: number;
}

/** The score (4 decimals), or null when there is nothing to judge. */
export function reputationScore(inputs: ReputationInputs): number | null {
  if (inputs.availabilityPercent === null) return null;
  const shortfall = Math.max(0, inputs.target.availabilityPercent - inputs.availabilityPercent);
  const availability = clamp01(1 - shortfall / availabilityPointsToZero);
  const latency =
    inputs.p95LatencyMs === null || inputs.p95LatencyMs <= inputs.target.p95LatencyMs
      ? 1
      : inputs.target.p95LatencyMs / inputs.p95LatencyMs;
  const recent = inputs.recentProbes === 0 ? 1 : 1 - inputs.recentFailures / inputs.recentProbes;
  return Math.round(availability * latency * recent * 10_000) / 10_000;
}

const clamp01 = (value: number) => Math.min(1, Math.max(0, value));

/** What routing and the planner read about one subject. */
export interface Reputation {
  score: number;
  /** Over the last 24 hours. */
  availabilityPercent: number | null;
  p95LatencyMs: number | null;
  /** Whether the 24-hour window meets both targets. */
  compliant: boolean | null;
  recentFailures: number;
  measuredAt: Date;
}

export interface BucketReputation extends Reputation {
  bucketId: string;
}

/** The latest reputations of these buckets; a bucket never measured has no entry. */
export async function loadBucketReputations(
  em: EntityManager,
  bucketIds: readonly string[],
): Promise<Map<string, BucketReputation>> {
  const loaded = await loadReputations(em, 'BUCKET', bucketIds);
  return new Map([...loaded].map(([bucketId, reputation]) => [bucketId, { ...reputation, bucketId }]));
}

export function loadNodeReputations(
  em: EntityManager,
  nodeIds: readonly string[],
): Promise<Map<string, Reputation>> {
  return loadReputations(em, 'NODE', nodeIds);
}

async function loadReputations(
  em: EntityManager,
  kind: ProbeTargetKind,
  ids: readonly string[],
): Promise<Map<string, Reputation>> {
  if (ids.length === 0) return new Map();
  const rows = await em.getConnection().execute<
    {
      subject_id: string;
      score: number;
      availability_percent: number | null;
      p95_latency_ms: number | null;
      compliant: boolean | null;
      recent_failures: number;
      measured_at: Date | string;
    }[]
  >(
    `select subject_id, score, availability_percent, p95_latency_ms, compliant, recent_failures, measured_at
     from reputations where subject_kind = ? and subject_id = any(?::uuid[])`,
    [kind, `{${ids.join(',')}}`],
  );
  return new Map(
    rows.map((row) => [
      row.subject_id,
      {
        score: row.score,
        availabilityPercent: row.availability_percent,
        p95LatencyMs: row.p95_latency_ms,
        compliant: row.compliant,
        recentFailures: row.recent_failures,
        measuredAt: new Date(row.measured_at),
      },
    ]),
  );
}

/** As the API shows it. */
export const presentReputation = (reputation: Reputation | undefined) =>
  reputation
    ? {
        score: reputation.score,
        availabilityPercent: reputation.availabilityPercent,
        p95LatencyMs: reputation.p95LatencyMs,
        compliant: reputation.compliant,
        recentFailures: reputation.recentFailures,
        measuredAt: reputation.measuredAt.toISOString(),
      }
    : null;
