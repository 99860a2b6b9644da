/** The order in which a virtual bucket's members are offered a write, from the policy (policy.ts). */
import type { CircuitState } from './health.ts';
import type { RoutingPolicy, RoutingWeights } from './policy.ts';
import { neutralReputation } from './reputation.ts';

/** What routing knows of one member when a write comes. */
export interface MemberFactors {
  bucketId: string;
  /** Its place in the virtual bucket's members. */
  position: number;
  /** OBS-4 score in [0, 1]; undefined when there is none. */
  reputation?: number;
  /** OBS-4: the member misses its SLA targets. */
  failingSla?: boolean;
  /** Undefined until a call measured it. */
  latencyMs?: number;
  errorRate: number;
  storagePricePerGbMonth: number;
  state: CircuitState;
}

/**
 * The members that may take a write, best first. Open circuits are left out;
 * members failing their SLA come after all the others. Under WEIGHTED a
 * half-open member comes first: its trial is how a recovered backend gets
 * writes again (a failed trial before the body costs a retry on the next
 * member). Under PRIORITY it keeps its place.
 */
export function rankWriteCandidates(
  members: readonly MemberFactors[],
  policy: RoutingPolicy,
): MemberFactors[] {
  const available = members.filter((member) => member.state !== 'open');
  const byPosition = (a: MemberFactors, b: MemberFactors) => a.position - b.position;
  const slaFirst = (a: MemberFactors, b: MemberFactors) =>
    Number(a.failingSla ?? false) - Number(b.failingSla ?? false);
  if (policy.strategy === 'PRIORITY') return available.sort((a, b) => slaFirst(a, b) || byPosition(a, b));
  const scores = weightedScores(available, policy.weights);
  const trialFirst = (member: MemberFactors) => (member.state === 'half-open' ? 0 : 1);
  return available.sort(
    (a, b) =>
      trialFirst(a) - trialFirst(b) ||
      slaFirst(a, b) ||
      (scores.get(b.bucketId) ?? 0) - (scores.get(a.bucketId) ?? 0) ||
      byPosition(a, b),
  );
}

/** Each member's score in [0, 1]: the weighted mean of its factors, times its success rate. */
export function weightedScores(
  members: readonly MemberFactors[],
  weights: RoutingWeights,
): Map<string, number> {
  // A member not measured yet counts as the fastest, so that it is tried and measured.
  const fastest = Math.max(1, Math.min(...members.map((member) => member.latencyMs ?? 0)));
  const cheapest = Math.min(...members.map((member) => member.storagePricePerGbMonth));
  const totalWeight = weights.reputation + weights.latency + weights.price;
  return new Map(
    members.map((member) => {
      const factors =
        weights.reputation * (member.reputation ?? neutralReputation) +
        weights.latency * latencyFactor(member.latencyMs, fastest) +
        weights.price * priceFactor(member.storagePricePerGbMonth, cheapest);
      const mean = totalWeight > 0 ? factors / totalWeight : 1;
      return [member.bucketId, mean * (1 - member.errorRate)];
    }),
  );
}

/** 1 for the fastest member (and for one not measured yet), less for slower ones. */
const latencyFactor = (latencyMs: number | undefined, fastest: number) =>
  latencyMs === undefined ? 1 : fastest / Math.max(1, latencyMs);

/** 1 for the cheapest member, less for dearer ones. */
const priceFactor = (price: number, cheapest: number) => (price <= 0 ? 1 : cheapest / price);
