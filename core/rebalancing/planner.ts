/**
 * JOB-6's deterministic planner: from each bucket's caps, metered usage and
 * prices, proposes moves of top-level prefixes off buckets that are near a
 * cap, failing, slow or dear, to buckets of the same workspace that are
 * healthy and have room, each with the numbers behind it. Pure: the same
 * figures always give the same plan.
 *
 * - NEAR_CAP: the largest prefixes move until the bucket's projected cap use
 *   falls below the target (egress and request use are assumed to shrink in
 *   proportion to the bytes moved: usage is metered per bucket, not per key).
 * - FAILING / SLOW: every prefix moves, to the healthiest destination.
 * - EXPENSIVE: a healthy bucket's prefixes move where storage is much
 *   cheaper, when the saving is worth it.
 * A bucket is a source or a destination within one plan, never both, so no
 * move depends on another. A bucket failing its SLA (reputation below
 * `minDestinationReputation`, OBS-4) receives no moves; between equally
 * priced destinations, the better reputation wins.
 */
import type {
  BucketAssessment,
  BucketFigures,
  CapUse,
  MoveFigures,
  PlannerThresholds,
  PrefixSize,
  RebalanceMove,
  RebalancePlan,
  RebalanceTrigger,
} from './plan.ts';

const BYTES_PER_GB = 1e9;

interface Candidate {
  figures: BucketFigures;
  triggers: RebalanceTrigger[];
  capUse: CapUse;
  errorRate: number | null;
  p95LatencyMs: number | null;
}

/** What the plan has moved so far, per bucket. */
interface Ledger {
  incoming: Map<string, number>;
  outgoing: Map<string, number>;
}

export function planRebalance(
  buckets: readonly BucketFigures[],
  thresholds: PlannerThresholds,
): RebalancePlan {
  const candidates = buckets.map((figures) => assess(figures, thresholds));
  const ledger: Ledger = { incoming: new Map(), outgoing: new Map() };
  const moves: RebalanceMove[] = [];
  const notes: string[] = [];
  for (const source of bySeverity(candidates)) {
    if (ledger.incoming.has(source.figures.bucketId)) continue;
    const proposed = source.triggers.length
      ? movesOffTroubled(source, candidates, ledger, thresholds)
      : movesToCheaper(source, candidates, ledger, thresholds);
    for (const move of proposed) {
      if (moves.length >= thresholds.maxMoves) {
        notes.push(
          `Stopped at ${thresholds.maxMoves} moves (maxMoves): ${move.sourceBucketName}/${move.prefix} and later ones wait for the next plan`,
        );
        break;
      }
      moves.push({ ...move, id: `move-${moves.length + 1}` });
    }
    if (source.triggers.length && proposed.length === 0)
      notes.push(
        `${source.figures.name} is ${source.triggers.join(', ')} but no bucket of the workspace can take its prefixes`,
      );
  }
  const finished = moves.map((move) => withSourceAfter(move, candidates, ledger));
  return {
    moves: finished,
    totalBytes: sum(finished, (move) => move.figures.bytes),
    totalObjects: sum(finished, (move) => move.figures.objects),
    estimatedMonthlySaving: round(sum(finished, (move) => move.figures.estimatedMonthlySaving)),
    thresholds,
    buckets: candidates.map(assessment),
    notes,
  };
}

function assess(figures: BucketFigures, thresholds: PlannerThresholds): Candidate {
  const capUse = capUseOf(figures, 0);
  const trusted = figures.usage.requests >= thresholds.minRequests;
  const errorRate = trusted ? figures.usage.errors / figures.usage.requests : null;
  const p95LatencyMs = trusted ? figures.usage.p95LatencyMs : null;
  const triggers: RebalanceTrigger[] = [];
  if (highestUse(capUse) >= thresholds.capUsePercent) triggers.push('NEAR_CAP');
  if (errorRate !== null && errorRate >= thresholds.errorRate) triggers.push('FAILING');
  if (p95LatencyMs !== null && p95LatencyMs >= thresholds.slowP95LatencyMs) triggers.push('SLOW');
  return { figures, triggers, capUse, errorRate, p95LatencyMs };
}

/** Cap use once `movedOut` bytes left the bucket. */
function capUseOf(figures: BucketFigures, movedOut: number): CapUse {
  const { caps, usage, storedBytes } = figures;
  const remaining = storedBytes > 0 ? Math.max(0, storedBytes - movedOut) / storedBytes : 1;
  return {
    storage: percent(Math.max(0, storedBytes - movedOut), caps.storageBytes),
    egress: percent(usage.egressBytesToday * remaining, caps.egressBytesPerDay),
    requests: percent(usage.peakRequestsPerMinute * remaining, caps.requestsPerMinute),
  };
}

const severity: Record<RebalanceTrigger, number> = { FAILING: 0, NEAR_CAP: 1, SLOW: 2, EXPENSIVE: 3 };

/** Troubled buckets first (failing, then near a cap, then slow), then the dearest. */
function bySeverity(candidates: Candidate[]): Candidate[] {
  const rank = (candidate: Candidate) =>
    Math.min(3, ...candidate.triggers.map((trigger) => severity[trigger]));
  return [...candidates].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      b.figures.price.storagePerGbMonth - a.figures.price.storagePerGbMonth ||
      a.figures.name.localeCompare(b.figures.name),
  );
}

function movesOffTroubled(
  source: Candidate,
  candidates: Candidate[],
  ledger: Ledger,
  thresholds: PlannerThresholds,
): Omit<RebalanceMove, 'id'>[] {
  const moveAll = source.triggers.includes('FAILING') || source.triggers.includes('SLOW');
  const moves: Omit<RebalanceMove, 'id'>[] = [];
  for (const prefix of source.figures.prefixes) {
    const outgoing = ledger.outgoing.get(source.figures.bucketId) ?? 0;
    if (!moveAll && highestUse(capUseOf(source.figures, outgoing)) < thresholds.targetCapUsePercent) break;
    const destination = healthiestWithRoom(source, prefix, candidates, ledger, thresholds);
    if (destination) moves.push(record(source, destination, prefix, source.triggers, ledger));
  }
  return moves;
}

function movesToCheaper(
  source: Candidate,
  candidates: Candidate[],
  ledger: Ledger,
  thresholds: PlannerThresholds,
): Omit<RebalanceMove, 'id'>[] {
  const moves: Omit<RebalanceMove, 'id'>[] = [];
  const cheapEnough = source.figures.price.storagePerGbMonth * (1 - thresholds.minPriceDropPercent / 100);
  for (const prefix of source.figures.prefixes) {
    const destination = destinationsWithRoom(source, prefix, candidates, ledger, thresholds)
      .filter((candidate) => candidate.figures.price.storagePerGbMonth <= cheapEnough)
      .sort(byPriceThenSpeed)[0];
    if (!destination) continue;
    if (monthlySaving(source, destination, prefix.bytes) < thresholds.minMonthlySaving) continue;
    moves.push(record(source, destination, prefix, ['EXPENSIVE'], ledger));
  }
  return moves;
}

function healthiestWithRoom(
  source: Candidate,
  prefix: PrefixSize,
  candidates: Candidate[],
  ledger: Ledger,
  thresholds: PlannerThresholds,
): Candidate | undefined {
  const fits = destinationsWithRoom(source, prefix, candidates, ledger, thresholds);
  if (source.triggers.includes('FAILING'))
    return fits.sort((a, b) => (a.errorRate ?? 0) - (b.errorRate ?? 0) || byPriceThenSpeed(a, b))[0];
  if (source.triggers.includes('SLOW'))
    return fits
      .filter((candidate) => (candidate.p95LatencyMs ?? 0) < (source.p95LatencyMs ?? 0))
      .sort((a, b) => (a.p95LatencyMs ?? 0) - (b.p95LatencyMs ?? 0) || byPriceThenSpeed(a, b))[0];
  return fits.sort(byPriceThenSpeed)[0];
}

/** Healthy buckets, not sources in this plan, that stay at or below the target cap use with the prefix added. */
function destinationsWithRoom(
  source: Candidate,
  prefix: PrefixSize,
  candidates: Candidate[],
  ledger: Ledger,
  thresholds: PlannerThresholds,
): Candidate[] {
  return candidates.filter((candidate) => {
    const { bucketId, storedBytes, caps } = candidate.figures;
    if (bucketId === source.figures.bucketId || candidate.triggers.length) return false;
    if (ledger.outgoing.has(bucketId)) return false;
    if (reputationOf(candidate) < thresholds.minDestinationReputation) return false;
    const after = storedBytes + (ledger.incoming.get(bucketId) ?? 0) + prefix.bytes;
    const use = percent(after, caps.storageBytes);
    return use === null || use <= thresholds.targetCapUsePercent;
  });
}

/** Unmeasured buckets are given the benefit of the doubt. */
const reputationOf = (candidate: Candidate) => candidate.figures.reputation ?? 1;

function byPriceThenSpeed(a: Candidate, b: Candidate): number {
  return (
    a.figures.price.storagePerGbMonth - b.figures.price.storagePerGbMonth ||
    reputationOf(b) - reputationOf(a) ||
    (a.p95LatencyMs ?? 0) - (b.p95LatencyMs ?? 0) ||
    a.figures.name.localeCompare(b.figures.name)
  );
}

function record(
  source: Candidate,
  destination: Candidate,
  prefix: PrefixSize,
  reasons: RebalanceTrigger[],
  ledger: Ledger,
): Omit<RebalanceMove, 'id'> {
  const add = (map: Map<string, number>, id: string) => map.set(id, (map.get(id) ?? 0) + prefix.bytes);
  add(ledger.outgoing, source.figures.bucketId);
  add(ledger.incoming, destination.figures.bucketId);
  const incoming = ledger.incoming.get(destination.figures.bucketId) ?? 0;
  const gigabytes = prefix.bytes / BYTES_PER_GB;
  const figures = {
    bytes: prefix.bytes,
    objects: prefix.objects,
    source: {
      capUsePercent: source.capUse,
      capUsePercentAfter: source.capUse,
      p95LatencyMs: source.p95LatencyMs,
      errorRate: source.errorRate,
      pricePerGbMonth: source.figures.price.storagePerGbMonth,
      egressPerGb: source.figures.price.egressPerGb,
    },
    destination: {
      storageCapUsePercentAfter: percent(
        destination.figures.storedBytes + incoming,
        destination.figures.caps.storageBytes,
      ),
      p95LatencyMs: destination.p95LatencyMs,
      errorRate: destination.errorRate,
      pricePerGbMonth: destination.figures.price.storagePerGbMonth,
    },
    estimatedMonthlySaving: round(monthlySaving(source, destination, prefix.bytes)),
    oneTimeEgressCost: round(gigabytes * source.figures.price.egressPerGb),
  };
  return {
    sourceBucketId: source.figures.bucketId,
    sourceBucketName: source.figures.name,
    destinationBucketId: destination.figures.bucketId,
    destinationBucketName: destination.figures.name,
    prefix: prefix.prefix,
    reasons,
    explanation: '',
    figures,
  };
}

/** Fills in what the source looks like after all of the plan's moves off it, and the explanation. */
function withSourceAfter(move: RebalanceMove, candidates: Candidate[], ledger: Ledger): RebalanceMove {
  const source = candidates.find((candidate) => candidate.figures.bucketId === move.sourceBucketId);
  const after = source ? capUseOf(source.figures, ledger.outgoing.get(move.sourceBucketId) ?? 0) : null;
  const figures = {
    ...move.figures,
    source: { ...move.figures.source, capUsePercentAfter: after ?? move.figures.source.capUsePercent },
  };
  const explained = { ...move, figures };
  return { ...explained, explanation: explain(explained) };
}

export function explain(move: Omit<RebalanceMove, 'id'>): string {
  const { figures } = move;
  const { source, destination } = figures;
  const why = move.reasons.map((reason) => reasonText(reason, figures)).join('; ');
  const size = `${formatBytes(figures.bytes)} in ${figures.objects} objects`;
  const room =
    destination.storageCapUsePercentAfter === null
      ? 'which has no storage cap'
      : `whose storage cap use becomes ${destination.storageCapUsePercentAfter}%`;
  const price = `storage ${money(source.pricePerGbMonth)} → ${money(destination.pricePerGbMonth)} per GB-month, estimated saving ${money(figures.estimatedMonthlySaving)}/month, one-time egress ≈ ${money(figures.oneTimeEgressCost)}`;
  const speed = `p95 ${latency(source.p95LatencyMs)} → ${latency(destination.p95LatencyMs)}, errors ${rate(source.errorRate)} → ${rate(destination.errorRate)}`;
  return `Move ${move.sourceBucketName}/${move.prefix} (${size}) to ${move.destinationBucketName}, ${room}. Why: ${why}. ${price}; ${speed}.`;
}

function reasonText(reason: RebalanceTrigger, figures: MoveFigures): string {
  const { source } = figures;
  switch (reason) {
    case 'NEAR_CAP':
      return `cap use ${capText(source.capUsePercent)}, after the plan's moves ${capText(source.capUsePercentAfter)}`;
    case 'FAILING':
      return `${rate(source.errorRate)} of its requests failed`;
    case 'SLOW':
      return `its p95 latency is ${latency(source.p95LatencyMs)}`;
    case 'EXPENSIVE':
      return `storage costs ${money(source.pricePerGbMonth)} per GB-month there against ${money(figures.destination.pricePerGbMonth)}`;
  }
}

function capText(use: CapUse): string {
  const parts = Object.entries(use)
    .filter(([, value]) => value !== null)
    .map(([cap, value]) => `${cap} ${value}%`);
  return parts.length ? parts.join(', ') : 'no caps';
}

function assessment(candidate: Candidate): BucketAssessment {
  const { figures } = candidate;
  return {
    bucketId: figures.bucketId,
    name: figures.name,
    triggers: candidate.triggers,
    capUsePercent: candidate.capUse,
    p95LatencyMs: candidate.p95LatencyMs,
    errorRate: candidate.errorRate,
    pricePerGbMonth: figures.price.storagePerGbMonth,
    storedBytes: figures.storedBytes,
    reputation: figures.reputation ?? null,
  };
}

function monthlySaving(source: Candidate, destination: Candidate, bytes: number): number {
  const drop = source.figures.price.storagePerGbMonth - destination.figures.price.storagePerGbMonth;
  return (bytes / BYTES_PER_GB) * drop;
}

const highestUse = (use: CapUse) => Math.max(0, ...Object.values(use).map((value) => value ?? 0));

function percent(value: number, cap: number | null): number | null {
  if (cap === null || cap <= 0) return null;
  return Math.round((value / cap) * 1000) / 10;
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;
const sum = <T>(items: T[], of: (item: T) => number) => items.reduce((total, item) => total + of(item), 0);
const money = (value: number) => `$${value.toFixed(4)}`;
const latency = (ms: number | null) => (ms === null ? 'unknown' : `${ms} ms`);
const rate = (value: number | null) => (value === null ? 'unknown' : `${Math.round(value * 1000) / 10}%`);

function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Math.round(value * 10) / 10} ${units[unit]}`;
}
