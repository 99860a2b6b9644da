/**
 * How a virtual bucket (BR-8) picks the member a write goes to. Stored with
 * the virtual bucket and edited through the API; every field has a default.
 *
 * - `WEIGHTED` ranks the members that may take the write by a score in [0, 1]:
 *   the weighted mean of their reputation (OBS-4), their latency (the
 *   fastest member's latency over theirs) and their storage price (the
 *   cheapest member's price per GB-month over theirs), times one minus their
 *   recent error rate. Ties keep the members' order.
 * - `PRIORITY` tries the members in their order: the first healthy member
 *   under its cap takes the write.
 *
 * In both, a member whose circuit is open (`failureThreshold` failed or slow
 * calls in a row) takes no writes until `coolDownSeconds` have passed; then one
 * write is let through as a trial, and its success closes the circuit.
 */
export const routingStrategies = ['WEIGHTED', 'PRIORITY'] as const;
export type RoutingStrategy = (typeof routingStrategies)[number];

export interface RoutingWeights {
  reputation: number;
  latency: number;
  price: number;
}

export interface RoutingPolicy {
  strategy: RoutingStrategy;
  /** WEIGHTED only: how much each factor counts; all zero ranks by the members' order. */
  weights: RoutingWeights;
  /** Failed or slow calls in a row that open a member's circuit. */
  failureThreshold: number;
  /** How long an open circuit keeps writes away from a member before a trial write. */
  coolDownSeconds: number;
  /** A backend call slower than this counts as a failure for the circuit (a timeout). */
  slowCallMs: number;
}

export const defaultRoutingPolicy: RoutingPolicy = {
  strategy: 'WEIGHTED',
  weights: { reputation: 1, latency: 1, price: 1 },
  failureThreshold: 3,
  coolDownSeconds: 30,
  slowCallMs: 5_000,
};

export type PolicyChange = Partial<Omit<RoutingPolicy, 'weights'>> & { weights?: Partial<RoutingWeights> };

/** `change` applied to `base` (the defaults unless given): each field it leaves out keeps its value. */
export function completePolicy(
  change: PolicyChange = {},
  base: RoutingPolicy = defaultRoutingPolicy,
): RoutingPolicy {
  return {
    ...base,
    ...definedOnly(change),
    weights: { ...base.weights, ...definedOnly(change.weights ?? {}) },
  };
}

/** An absent field and one set to `undefined` both mean "the default". */
const definedOnly = <T extends object>(fields: T): Partial<T> =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
