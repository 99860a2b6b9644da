/**
 * Where routing reads each backend's reputation (OBS-4): a score in [0, 1]
 * per bucket (1 the best) and whether it is failing its SLA. The SLA rollups
 * compute them (core/sla, read through sla-reputation.ts); routing only needs
 * this small interface, so a source is plugged in where the bridge is
 * assembled. A bucket without an entry ranks as neutral (score 0.5).
 *
 * Called for every routed write: a source backed by the database caches.
 */
export interface MemberReputation {
  score: number;
  /** Its SLA window misses a target: it gets writes only when no other member can take them. */
  failingSla: boolean;
}

export interface ReputationSource {
  reputationsOf(bucketIds: readonly string[]): Promise<Map<string, MemberReputation>>;
}

/** Until a reputation source is plugged in: no entries, every member neutral. */
export const noReputation: ReputationSource = {
  async reputationsOf() {
    return new Map();
  },
};

export const neutralReputation = 0.5;
