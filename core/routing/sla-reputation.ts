/**
 * The OBS-4 reputations (core/sla/reputation.ts: computed by the SLA
 * rollups) as routing reads them, cached per bucket for `ttlMs` so that a
 * routed write costs no database round trip most of the time.
 */
import type { EntityManager } from '../db/orm.ts';
import { loadBucketReputations } from '../sla/reputation.ts';
import type { MemberReputation, ReputationSource } from './reputation.ts';

export function slaReputationSource(
  em: EntityManager,
  options: { ttlMs?: number; now?: () => number } = {},
): ReputationSource {
  const ttlMs = options.ttlMs ?? 30_000;
  const now = options.now ?? Date.now;
  const cached = new Map<string, { reputation?: MemberReputation; expires: number }>();
  return {
    async reputationsOf(bucketIds) {
      const stale = bucketIds.filter((id) => (cached.get(id)?.expires ?? 0) <= now());
      if (stale.length > 0) {
        const loaded = await loadBucketReputations(em.fork(), stale);
        for (const id of stale) {
          const found = loaded.get(id);
          const reputation = found && { score: found.score, failingSla: found.compliant === false };
          cached.set(id, { reputation, expires: now() + ttlMs });
        }
      }
      return new Map(
        bucketIds.flatMap((id) => {
          const reputation = cached.get(id)?.reputation;
          return reputation ? [[id, reputation] as const] : [];
        }),
      );
    },
  };
}
