/**
 * OBS-4 targets: a bucket's own, else its organization's default for the
 * bucket's provider, else Skybridge's; field by field, so a bucket may set
 * only its latency and inherit its availability.
 */
import type { StorageProvider } from '../../providers/storage/object-store.ts';
import { BucketSla, ProviderSla } from '../db/entities/index.ts';
import type { EntityManager } from '../db/orm.ts';

export interface SlaTarget {
  /** Share of probes and requests that must succeed, in percent. */
  availabilityPercent: number;
  p95LatencyMs: number;
}

/** A stored target: null fields are inherited. */
export interface PartialSlaTarget {
  availabilityPercent: number | null;
  p95LatencyMs: number | null;
}

export type TargetSource = 'bucket' | 'provider' | 'default';

export interface EffectiveTarget extends SlaTarget {
  sources: { availabilityPercent: TargetSource; p95LatencyMs: TargetSource };
}

/** Skybridge's targets where nobody set one. */
export const defaultBucketTarget: SlaTarget = { availabilityPercent: 99, p95LatencyMs: 1000 };
/** Bridge nodes answer a health check, not storage calls: a tighter latency. */
export const defaultNodeTarget: SlaTarget = { availabilityPercent: 99, p95LatencyMs: 500 };

export function effectiveTarget(
  own: PartialSlaTarget | undefined,
  providerDefault: PartialSlaTarget | undefined,
): EffectiveTarget {
  const pick = <K extends keyof SlaTarget>(field: K): [number, TargetSource] => {
    const fromBucket = own?.[field];
    if (fromBucket != null) return [fromBucket, 'bucket'];
    const fromProvider = providerDefault?.[field];
    if (fromProvider != null) return [fromProvider, 'provider'];
    return [defaultBucketTarget[field], 'default'];
  };
  const [availabilityPercent, availabilitySource] = pick('availabilityPercent');
  const [p95LatencyMs, latencySource] = pick('p95LatencyMs');
  return {
    availabilityPercent,
    p95LatencyMs,
    sources: { availabilityPercent: availabilitySource, p95LatencyMs: latencySource },
  };
}

export interface TargetedBucket {
  id: string;
  provider: StorageProvider;
  organizationId: string;
}

/** Each bucket's effective target, in two queries whatever the number of buckets. */
export async function bucketTargets(
  em: EntityManager,
  buckets: readonly TargetedBucket[],
): Promise<Map<string, EffectiveTarget>> {
  if (buckets.length === 0) return new Map();
  const own = await em.find(BucketSla, { bucket: { $in: buckets.map((bucket) => bucket.id) } });
  const defaults = await em.find(ProviderSla, {
    organization: { $in: [...new Set(buckets.map((bucket) => bucket.organizationId))] },
  });
  const ownByBucket = new Map(own.map((sla) => [sla.bucket.id, sla]));
  const defaultFor = (bucket: TargetedBucket) =>
    defaults.find((sla) => sla.organization.id === bucket.organizationId && sla.provider === bucket.provider);
  return new Map(
    buckets.map((bucket) => [
      bucket.id,
      effectiveTarget(partialOf(ownByBucket.get(bucket.id)), partialOf(defaultFor(bucket))),
    ]),
  );
}

export const partialOf = (sla: BucketSla | ProviderSla | undefined): PartialSlaTarget | undefined =>
  sla && {
    // A double column comes back as a number or, by some drivers, as text.
    availabilityPercent: sla.availabilityPercent == null ? null : Number(sla.availabilityPercent),
    p95LatencyMs: sla.p95LatencyMs ?? null,
  };
