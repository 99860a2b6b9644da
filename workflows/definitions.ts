/**
 * Everything callers and workflows share: workflow names, signals, queries,
 * updates, search attributes and payload types. Imported by workflow code, so
 * it must stay deterministic and free of I/O.
 */
import { type ActivityOptions, defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AgentReview } from '../core/rebalancing/agent-review.ts';
import type { PlannerThresholds, RebalancePlan } from '../core/rebalancing/plan.ts';
import type { ComplianceRun } from '../core/sla/compliance.ts';
import type { RollupResult, RollupSettings } from '../core/stats/rollup.ts';

/** Custom search attributes registered on the namespace so operators can filter jobs in the Temporal UI. */
export const searchAttributes = {
  organization: defineSearchAttributeKey('SkybridgeOrganization', SearchAttributeType.KEYWORD),
  kind: defineSearchAttributeKey('SkybridgeKind', SearchAttributeType.KEYWORD),
  workspace: defineSearchAttributeKey('SkybridgeWorkspace', SearchAttributeType.KEYWORD),
  repository: defineSearchAttributeKey('SkybridgeRepository', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('SkybridgeStatus', SearchAttributeType.KEYWORD),
  /** Every bucket a job reads or writes (a migration: source and destination). */
  buckets: defineSearchAttributeKey('SkybridgeBuckets', SearchAttributeType.KEYWORD_LIST),
} as const;

export const jobKinds = [
  'ping',
  'bucket-validation',
  'key-rotation',
  'credential-rotation',
  'migration',
  'rebalance',
  'usage-rollup',
  'node-probe',
] as const;
export type JobKind = (typeof jobKinds)[number];

/** Kept in each job's memo: who may read or steer it. */
export interface JobMemo {
  organizationId: string;
  startedBy: string;
}

/** An audit log entry a job writes about itself (no user acted): e.g. a migration pausing on a quota. */
export interface JobAuditEntry {
  organizationId: string;
  jobId: string;
  workspaceId?: string;
  action: string;
  outcome: 'SUCCESS' | 'FAILURE';
  details?: Record<string, unknown>;
}

export interface PingInput {
  message: string;
}

export interface PingReply {
  echo: string;
  workerHost: string;
  answeredAt: string;
}

export interface PingState {
  phase: 'WAITING_FOR_WORKER' | 'COMPLETED';
  message: string;
  reply?: PingReply;
}

export const pingStateQuery = defineQuery<PingState>('pingState');

/** JOB-1: checks one bucket's credentials and reachability and records the result on the bucket. */
export interface BucketValidationInput {
  bucketId: string;
}

export interface BucketProbeReport {
  /** Milliseconds per step: access, list, put, get, delete. */
  latencyMs: Record<string, number>;
}

export interface BucketValidationState {
  phase: 'PROBING' | 'RECORDING' | 'DONE';
  outcome?: 'VALID' | 'INVALID';
  reason?: string;
  latencyMs?: Record<string, number>;
}

export const bucketValidationStateQuery = defineQuery<BucketValidationState>('bucketValidationState');

/** Failure types the probe raises that no retry can fix. */
export const permanentProbeFailures = [
  'InvalidCredentials',
  'AccessDenied',
  'NotFound',
  'SecretUnavailable',
  'Invalid',
  'QuotaExceeded',
];

/** How workflows call a probe activity: transient failures retried with backoff, the permanent ones not. */
export const probeActivityOptions: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '20 seconds',
    maximumAttempts: 4,
    nonRetryableErrorTypes: permanentProbeFailures,
  },
};

/**
 * JOB-3: a repo key's rotation. The successor is issued by the API (its
 * secret must never enter workflow history); the workflow keeps both keys
 * valid for the grace period, then revokes the old one.
 */
export interface KeyRotationInput {
  keyKind: 'storage' | 'ai';
  oldKeyId: string;
  newKeyId: string;
  graceSeconds: number;
}

export interface KeyRotationState {
  phase: 'GRACE' | 'REVOKING' | 'DONE';
  keyKind: 'storage' | 'ai';
  oldKeyId: string;
  newKeyId: string;
  /** When the old key stops working (ISO 8601). */
  graceEndsAt: string;
  revokedAt?: string;
}

/** The longest grace period a rotation may have. */
export const maxGraceSeconds = 30 * 24 * 3600;

export const keyRotationStateQuery = defineQuery<KeyRotationState>('keyRotationState');

/** Shortens or extends the grace period, counted from the rotation's start (0 ends it now). */
export const setGracePeriodUpdate = defineUpdate<KeyRotationState, [{ graceSeconds: number }]>(
  'setGracePeriod',
);

/** JOB-3 for a bucket's credentials: the new ones are already sealed in the bucket's pending column. */
export interface CredentialRotationInput {
  bucketId: string;
}

export interface CredentialRotationState {
  phase: 'PROBING_NEW' | 'SWITCHING' | 'CONFIRMING' | 'ROLLING_BACK' | 'DONE';
  outcome?: 'ROTATED' | 'REJECTED' | 'ROLLED_BACK';
  reason?: string;
}

export const credentialRotationStateQuery = defineQuery<CredentialRotationState>('credentialRotationState');

/**
 * JOB-2: bucket-to-bucket migration. Keys are mapped by prefix: the source
 * key `sourcePrefix + rest` becomes `destinationPrefix + rest`.
 */
export const migrationModes = ['copy', 'move', 'sync'] as const;
export type MigrationMode = (typeof migrationModes)[number];

export interface MigrationInput {
  sourceBucketId: string;
  sourcePrefix: string;
  destinationBucketId: string;
  destinationPrefix: string;
  /** copy: add and update; move: copy, then delete each verified source; sync: copy, then delete what the source lacks. */
  mode: MigrationMode;
  /** Plan only: list both sides, write the manifest, touch no bucket. */
  dryRun: boolean;
  /**
   * Globs over the key below the prefix: `*` and `?` stay within one `/`
   * segment, `**` crosses them; a pattern without `/` is matched against the
   * last segment (`*.jpg` matches at any depth). A key is taken when it
   * matches some include (or there are none) and no exclude.
   */
  include?: string[];
  exclude?: string[];
  /** Objects copied at once. */
  concurrency: number;
  /** Bytes per second through the worker (streamed copies); none: unlimited. */
  bytesPerSecond?: number;
  /** sync: the most destination objects the job may delete; beyond it the job refuses before copying. */
  maxDeletes?: number;
  /** Batches per workflow run before it continues as new (history stays short); default 200. */
  batchesPerRun?: number;
  /**
   * How long one copy or delete batch keeps taking objects (default 3 s): longer batches spend less
   * time between batches; steering and the progress query see each batch's end.
   */
  batchSeconds?: number;
}

export const migrationDefaults = {
  dryRun: true,
  concurrency: 8,
  batchesPerRun: 200,
  batchSeconds: 3,
} as const;

/**
 * Objects per copy or delete batch: enough that every slot stays busy and the
 * round trip through the workflow between batches is paid rarely, few enough
 * that steering takes effect soon. A worker crash copies at most this many
 * objects again.
 */
export const migrationBatchSize = (concurrency: number) => Math.min(1000, Math.max(16, concurrency * 16));
export const maxMigrationConcurrency = 64;

export type MigrationPhase = 'PLANNING' | 'COPYING' | 'DELETING' | 'PAUSED' | 'DONE' | 'FAILED' | 'CANCELLED';

export interface MigrationCounts {
  objects: number;
  bytes: number;
}

/** What the plan found, by action; `methods` counts the objects to copy by how they would be copied. */
export interface MigrationPlan {
  copy: MigrationCounts;
  /** Already identical at the destination. */
  skip: MigrationCounts;
  /** The destination differs and is newer than the source: left untouched and reported. */
  conflict: MigrationCounts;
  /** sync: destination objects the source lacks. */
  delete: MigrationCounts;
  methods: { native: number; streamed: number };
  /** What the copies would cost at the price table's figures (examples unless an admin set prices). */
  estimate?: MigrationCostEstimate;
}

/**
 * Egress: bytes streamed out of the source to another provider or region,
 * at the source's egress price (server-side copies inside one account, and
 * copies within one provider and region, count none). Requests: one write
 * per object copied, at the destination's price.
 */
export interface MigrationCostEstimate {
  egressBytes: number;
  egressUsd: number;
  requests: number;
  requestsUsd: number;
  totalUsd: number;
  /** `override` when an organization's own prices were used. */
  prices: 'default' | 'override';
}

/** The live state of a migration, read by the API and the CLI through `migrationProgressQuery`. */
export interface MigrationProgress {
  phase: MigrationPhase;
  mode: MigrationMode;
  dryRun: boolean;
  /** Objects listed so far on each side. */
  listed: { source: number; destination: number };
  plan?: MigrationPlan;
  /** To copy (the plan's `copy`). */
  planned: MigrationCounts;
  /** Copied and verified. */
  done: MigrationCounts;
  /** Identical already, not copied. */
  skipped: MigrationCounts;
  failed: MigrationCounts;
  conflicts: MigrationCounts;
  /** sync: destination objects deleted; move: source objects deleted. */
  deleted: number;
  sourcesDeleted: number;
  /**
   * Copied objects claimed by more than one attempt: their batch was retried
   * after a worker crash, or a transient failure was retried. An upper bound
   * on the objects copied twice; a crash adds at most one batch (known when
   * the job ends).
   */
  retried: number;
  /** Copies done, by method. */
  methods: { native: number; streamed: number };
  concurrency: number;
  bytesPerSecond: number | null;
  /** Bytes per second over the last batch. */
  rateBytesPerSecond: number;
  etaSeconds: number | null;
  pausedReason?: string;
  failureReason?: string;
  /** Why part of the job was not done, e.g. sync deletes withheld after failed copies. */
  notice?: string;
  /** Runs of the workflow so far (continueAsNew keeps each history short). */
  runs: number;
}

export const migrationProgressQuery = defineQuery<MigrationProgress>('migrationProgress');
/** Stops taking new batches once the one in flight ends; `reason` is shown in the progress. */
export const pauseMigrationUpdate = defineUpdate<MigrationProgress, [{ reason?: string }]>('pauseMigration');
export const resumeMigrationUpdate = defineUpdate<MigrationProgress, []>('resumeMigration');
/** Finishes the batch in flight, then ends the job as CANCELLED with its report. */
export const cancelMigrationUpdate = defineUpdate<MigrationProgress, []>('cancelMigration');
export const setMigrationConcurrencyUpdate = defineUpdate<MigrationProgress, [{ concurrency: number }]>(
  'setMigrationConcurrency',
);
/** null removes the limit. */
export const setMigrationRateUpdate = defineUpdate<MigrationProgress, [{ bytesPerSecond: number | null }]>(
  'setMigrationRate',
);

/**
 * Failure type of a migration activity that met Throttled, QuotaExceeded,
 * AccessDenied or InvalidCredentials on either side: the workflow backs off
 * and, after repeated ones, pauses itself with the reason.
 */
export const migrationBackoffFailure = 'MigrationBackoff';

/** The details of a `MigrationBackoff` failure: who refused, and what the batch did before it stopped. */
export interface MigrationBackoffDetails {
  code: string;
  side: 'source' | 'destination';
  batch?: MigrationBatchResult;
}

/** Failure type when a sync would delete more than `maxDeletes`. */
export const maxDeletesExceededFailure = 'MaxDeletesExceeded';

/** A copy or delete batch's outcome, as the activity saw it in its last attempt. */
export interface MigrationBatchResult {
  done: MigrationCounts;
  failed: MigrationCounts;
  native: number;
  streamed: number;
  sourcesDeleted: number;
  deleted: number;
  /** Pending items left after this batch. */
  remaining: number;
  /** When none is left: the manifest's totals, read at the end of the batch (no summarizeMigration needed). */
  summary?: MigrationSummary;
}

/** Where listing resumes: the side being listed and its continuation token. */
export interface MigrationPlanCursor {
  side: 'source' | 'destination';
  token?: string;
}

export interface MigrationPlanBatchResult {
  next: MigrationPlanCursor | null;
  listed: { source: number; destination: number };
  /** When listing is over: the plan's totals (no summarizeMigration needed). */
  summary?: MigrationSummary;
}

/** The manifest's totals, read from PostgreSQL. */
export interface MigrationSummary extends MigrationPlan {
  done: MigrationCounts;
  failed: MigrationCounts;
  pending: MigrationCounts;
  deleted: number;
  methodsDone: { native: number; streamed: number };
  /** Done copies that took more than one attempt (see MigrationProgress.retried). */
  retried: number;
}

/*
 * Rebalancing (JOB-6): a plan of prefix moves between a workspace's buckets,
 * proposed by the planner in core/rebalancing/, optionally reviewed by an AI
 * agent, approved by an operator (or automatically when small), then run as
 * child migrations in move mode.
 */
export interface RebalanceSettings {
  workspaceId: string;
  /** Plans that move at most this many bytes in all are approved without an operator; 0: every plan waits. */
  autoApproveBytes: number;
  /** How long a plan waits for approval before it expires and does nothing. */
  approvalTimeoutSeconds: number;
  /** Hours of metered usage read for latency, errors and request peaks. */
  usageWindowHours: number;
  /** Overrides of the planner's defaults (`defaultPlannerThresholds`). */
  thresholds?: Partial<PlannerThresholds>;
  /** An AI LLM config of the workspace and its model, asked to reorder or veto the moves. */
  agent?: { aiConfigId: string; model: string };
}

export interface RebalanceInput extends RebalanceSettings {
  organizationId: string;
  /** A user id, or `schedule` for runs started by the workspace's schedule. */
  startedBy: string;
}

export const rebalanceDefaults = {
  autoApproveBytes: 0,
  approvalTimeoutSeconds: 24 * 3600,
  usageWindowHours: 24,
  intervalMinutes: 24 * 60,
} as const;

export type RebalancePhase =
  | 'PROPOSED'
  | 'WAITING_APPROVAL'
  | 'APPROVED'
  | 'REJECTED'
  | 'EXPIRED'
  | 'RUNNING'
  | 'DONE';

export interface RebalanceDecision {
  /** A user id, or `auto` below the auto-approve size. */
  by: string;
  reason?: string;
  at: string;
}

/** One approved move as a child migration job. */
export interface RebalanceMoveRun {
  moveId: string;
  jobId: string;
  outcome: 'PENDING' | 'RUNNING' | 'DONE' | 'FAILED';
  movedObjects?: number;
  movedBytes?: number;
  failedObjects?: number;
  reason?: string;
}

export interface RebalanceState {
  phase: RebalancePhase;
  workspaceId: string;
  /** The planner's proposal, untouched by the agent. */
  plan?: RebalancePlan;
  agent?: AgentReview;
  /** The move ids that run once approved, in order (the agent's order, its vetoes left out). */
  toRun: string[];
  bytesToMove: number;
  autoApproveBytes: number;
  /** While waiting for approval: when the plan expires (ISO 8601). */
  expiresAt?: string;
  decision?: RebalanceDecision;
  runs: RebalanceMoveRun[];
}

export const rebalanceStateQuery = defineQuery<RebalanceState>('rebalanceState');
/** Accepted only while the plan waits for approval. */
export const approveRebalanceUpdate = defineUpdate<RebalanceState, [{ by: string; reason?: string }]>(
  'approveRebalance',
);
export const rejectRebalanceUpdate = defineUpdate<RebalanceState, [{ by: string; reason?: string }]>(
  'rejectRebalance',
);

/** The Temporal schedule that plans a workspace's rebalancing. */
export const rebalanceScheduleId = (workspaceId: string) => `rebalance-schedule-${workspaceId}`;

// Stats rollups (JOB-4): raw usage events into minute and day aggregates, on a schedule the worker sets up.

/** How long raw events and minute rows are kept, and how long a written event waits before the watermark passes it. */
export type UsageRollupInput = RollupSettings;

export interface UsageRollupState {
  phase: 'ROLLING_UP' | 'DONE';
  startedAt: string;
  result?: RollupResult;
}

export const usageRollupStateQuery = defineQuery<UsageRollupState>('usageRollupState');

/** One schedule per Temporal namespace: the rollups cover every organization. */
export const usageRollupScheduleId = 'usage-rollup-schedule';

/** Written events the watermark waits for: far longer than any batch INSERT takes. */
export const usageRollupSettleSeconds = 60;

// Node probes (JOB-5) and SLA compliance (OBS-4): one namespace-wide schedule the worker sets up.

export interface NodeProbeInput {
  /** Each probe's limit; a slower answer is a failure. */
  timeoutMs: number;
  /** Probe results older than this are pruned; nodes silent for longer are no longer probed. */
  retentionDays: number;
}

export interface ProbeCounts {
  probed: number;
  failed: number;
}

export interface ProbeRoundResult {
  /** The minute the results were stored under (ISO 8601). */
  minute: string;
  nodes: ProbeCounts;
  buckets: ProbeCounts;
}

export interface NodeProbeState {
  phase: 'PROBING' | 'SCORING' | 'PRUNING' | 'DONE';
  startedAt: string;
  probes?: ProbeRoundResult;
  compliance?: ComplianceRun;
  resultsPruned?: number;
}

export const nodeProbeStateQuery = defineQuery<NodeProbeState>('nodeProbeState');

export const nodeProbeScheduleId = 'node-probe-schedule';
