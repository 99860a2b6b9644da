/**
 * The vocabulary of JOB-6's rebalancing plans: what the planner reads about
 * each bucket, the thresholds it applies, and the moves it proposes. Plain
 * data, shared by the planner, the worker's activities, the workflow (which
 * keeps the plan in its state) and the API.
 */
import type { StorageProvider } from '../../providers/storage/object-store.ts';
import type { PriceQuote } from '../pricing/prices.ts';

/** A top-level prefix of a bucket (`logs/`), sized from a listing. */
export interface PrefixSize {
  prefix: string;
  bytes: number;
  objects: number;
}

/** Metered requests to a bucket over the planner's window (usage_events). */
export interface BucketUsage {
  requests: number;
  /** Answers with a 5xx status: the backend or the bridge failed. */
  errors: number;
  p95LatencyMs: number | null;
  /** Bytes sent out since 00:00 UTC, as the egress cap counts them. */
  egressBytesToday: number;
  /** The busiest minute of the window. */
  peakRequestsPerMinute: number;
}

export interface BucketCapsFigures {
  storageBytes: number | null;
  egressBytesPerDay: number | null;
  requestsPerMinute: number | null;
}

/** Everything the planner knows about one bucket. */
export interface BucketFigures {
  bucketId: string;
  name: string;
  provider: StorageProvider;
  region: string | null;
  storedBytes: number;
  /** Largest first; objects at the bucket's root (in no prefix) are never moved. */
  prefixes: PrefixSize[];
  caps: BucketCapsFigures;
  usage: BucketUsage;
  price: PriceQuote;
  /** OBS-4 reputation, 0..1 (`core/sla/reputation.ts`); null or absent when never measured. */
  reputation?: number | null;
}

export interface PlannerThresholds {
  /** A cap used to this percentage or more makes the bucket a source of moves. */
  capUsePercent: number;
  /** Moves off a bucket near its cap stop once it is projected below this; no destination is filled above it. */
  targetCapUsePercent: number;
  /** A p95 latency (milliseconds) of this or more is slow. */
  slowP95LatencyMs: number;
  /** A share of failed requests (0 to 1) of this or more is failing. */
  errorRate: number;
  /** Below this many requests in the window, latency and error figures are not trusted. */
  minRequests: number;
  /** A move for price alone needs a destination this much cheaper per GB-month (percent)... */
  minPriceDropPercent: number;
  /** ...and at least this saving per month, in the price table's currency. */
  minMonthlySaving: number;
  /** The most moves one plan proposes. */
  maxMoves: number;
  /** A bucket whose reputation is below this (0..1) receives no moves: it is failing its SLA. */
  minDestinationReputation: number;
}

export const defaultPlannerThresholds: PlannerThresholds = {
  capUsePercent: 80,
  targetCapUsePercent: 70,
  slowP95LatencyMs: 1000,
  errorRate: 0.05,
  minRequests: 20,
  minPriceDropPercent: 20,
  minMonthlySaving: 1,
  maxMoves: 20,
  minDestinationReputation: 0.5,
};

export const rebalanceTriggers = ['NEAR_CAP', 'FAILING', 'SLOW', 'EXPENSIVE'] as const;
export type RebalanceTrigger = (typeof rebalanceTriggers)[number];

/** Percentages of each cap in use; null where the bucket has no such cap. */
export interface CapUse {
  storage: number | null;
  egress: number | null;
  requests: number | null;
}

/** The numbers behind one proposed move. */
export interface MoveFigures {
  bytes: number;
  objects: number;
  source: {
    capUsePercent: CapUse;
    /** The source's storage cap use once every move of the plan off it is done (estimated for egress and requests). */
    capUsePercentAfter: CapUse;
    p95LatencyMs: number | null;
    errorRate: number | null;
    pricePerGbMonth: number;
    egressPerGb: number;
  };
  destination: {
    storageCapUsePercentAfter: number | null;
    p95LatencyMs: number | null;
    errorRate: number | null;
    pricePerGbMonth: number;
  };
  /** Storage price difference times the bytes moved; negative when the destination costs more. */
  estimatedMonthlySaving: number;
  /** What reading the bytes out of the source costs once. */
  oneTimeEgressCost: number;
}

export interface RebalanceMove {
  /** `move-1`, `move-2`...: what an operator or the AI agent refers to. */
  id: string;
  sourceBucketId: string;
  sourceBucketName: string;
  destinationBucketId: string;
  destinationBucketName: string;
  /** The same prefix on both sides. */
  prefix: string;
  reasons: RebalanceTrigger[];
  explanation: string;
  figures: MoveFigures;
}

/** How the planner saw one bucket, whether or not anything moves. */
export interface BucketAssessment {
  bucketId: string;
  name: string;
  triggers: RebalanceTrigger[];
  capUsePercent: CapUse;
  p95LatencyMs: number | null;
  errorRate: number | null;
  pricePerGbMonth: number;
  storedBytes: number;
  reputation: number | null;
}

export interface RebalancePlan {
  moves: RebalanceMove[];
  totalBytes: number;
  totalObjects: number;
  estimatedMonthlySaving: number;
  thresholds: PlannerThresholds;
  buckets: BucketAssessment[];
  /** Why something that looked wrong got no move (no destination with room, the move limit). */
  notes: string[];
}
