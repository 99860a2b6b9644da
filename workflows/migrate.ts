import type { RetryPolicy } from '@temporalio/common';
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  ContinueAsNew,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import {
  cancelMigrationUpdate,
  type JobMemo,
  type MigrationBackoffDetails,
  type MigrationBatchResult,
  type MigrationInput,
  type MigrationPhase,
  type MigrationPlanBatchResult,
  type MigrationPlanCursor,
  type MigrationProgress,
  type MigrationSummary,
  maxDeletesExceededFailure,
  maxMigrationConcurrency,
  migrationBackoffFailure,
  migrationBatchSize,
  migrationDefaults,
  migrationProgressQuery,
  pauseMigrationUpdate,
  resumeMigrationUpdate,
  searchAttributes,
  setMigrationConcurrencyUpdate,
  setMigrationRateUpdate,
} from './definitions.ts';
import { failureReason } from './failures.ts';

type Activities = ReturnType<typeof createActivities>;

const batchRetry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 20,
  // The workflow backs off from these itself, visibly, and pauses after repeated ones.
  nonRetryableErrorTypes: [migrationBackoffFailure],
};

const { planMigrationBatch, copyMigrationBatch, deleteMigrationBatch } = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  // A crashed worker's batch is retried (and resumes from its heartbeat and manifest) after this;
  // batches heartbeat every few seconds even during long server-side copies.
  heartbeatTimeout: '15 seconds',
  retry: batchRetry,
});

const shortActivity = {
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
} as const;
const { summarizeMigration, recordJobAudit } = proxyActivities<Activities>(shortActivity);
const local = proxyLocalActivities<Activities>(shortActivity);

/**
 * An audit entry is one insert: run in the workflow's own task, it spares two trips through
 * Temporal's task queue at the end of every job. Histories from before still replay.
 */
const AUDIT_IN_WORKFLOW_TASK = 'audit-as-local-activity';
const recordAudit = (entry: Parameters<Activities['recordJobAudit']>[0]) =>
  patched(AUDIT_IN_WORKFLOW_TASK) ? local.recordJobAudit(entry) : recordJobAudit(entry);

/** Backoff failures in a row before the job pauses itself; the waits between them, in seconds. */
const BACKOFF_WAITS_SECONDS = [2, 4, 8, 16];

/** Where a run starts: everything a continued run needs, and nothing as long as an object list. */
export interface MigrationCarry {
  stage: 'PLANNING' | 'COPYING' | 'DELETING';
  cursor: MigrationPlanCursor | null;
  progress: MigrationProgress;
  paused: boolean;
}

const terminalPhases: MigrationPhase[] = ['DONE', 'FAILED', 'CANCELLED'];

/**
 * JOB-2: plan (list both buckets into the manifest), then unless it is a dry
 * run copy, then (sync) delete, batch by batch. Between batches the job
 * obeys pause, resume, cancel and new limits; on throttling, quota or access
 * failures it backs off, then pauses itself with the reason. Long jobs
 * continue as new, carrying only totals, the stage and the cursor.
 */
export async function migrationWorkflow(
  input: MigrationInput,
  carried?: MigrationCarry,
): Promise<MigrationProgress> {
  const jobId = workflowInfo().workflowId;
  const progress: MigrationProgress = carried?.progress ?? initialProgress(input);
  let stage: MigrationCarry['stage'] = carried?.stage ?? 'PLANNING';
  let paused = carried?.paused ?? false;
  let cancelled = false;
  let batchesThisRun = 0;
  const batchesPerRun = input.batchesPerRun ?? migrationDefaults.batchesPerRun;

  const steerable = (..._args: unknown[]) => {
    if (terminalPhases.includes(progress.phase) || cancelled)
      throw ApplicationFailure.nonRetryable(`The migration is already ${progress.phase.toLowerCase()}`);
  };
  const setStatus = (status: string) =>
    upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
  const pause = (reason: string) => {
    paused = true;
    progress.pausedReason = reason;
    progress.phase = 'PAUSED';
    setStatus('PAUSED');
  };
  const audit = async (action: string, outcome: 'SUCCESS' | 'FAILURE', details: Record<string, unknown>) => {
    const { organizationId } = (workflowInfo().memo ?? {}) as Partial<JobMemo>;
    if (!organizationId) return;
    const workspaceId = workflowInfo().typedSearchAttributes.get(searchAttributes.workspace);
    await recordAudit({
      organizationId,
      workspaceId,
      jobId,
      action: `job.migration.${action}`,
      outcome,
      details,
    });
  };

  setHandler(migrationProgressQuery, () => progress);
  setHandler(
    pauseMigrationUpdate,
    ({ reason }) => {
      if (!paused) pause(reason || 'paused by an operator');
      return progress;
    },
    { validator: steerable },
  );
  setHandler(
    resumeMigrationUpdate,
    () => {
      paused = false;
      return progress;
    },
    { validator: steerable },
  );
  setHandler(
    cancelMigrationUpdate,
    () => {
      cancelled = true;
      return progress;
    },
    { validator: steerable },
  );
  setHandler(
    setMigrationConcurrencyUpdate,
    ({ concurrency }) => {
      progress.concurrency = concurrency;
      return progress;
    },
    {
      validator: ({ concurrency }) => {
        steerable();
        if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > maxMigrationConcurrency)
          throw ApplicationFailure.nonRetryable(
            `concurrency must be a whole number from 1 to ${maxMigrationConcurrency}`,
          );
      },
    },
  );
  setHandler(
    setMigrationRateUpdate,
    ({ bytesPerSecond }) => {
      progress.bytesPerSecond = bytesPerSecond;
      return progress;
    },
    {
      validator: ({ bytesPerSecond }) => {
        steerable();
        if (bytesPerSecond !== null && (!Number.isInteger(bytesPerSecond) || bytesPerSecond < 1))
          throw ApplicationFailure.nonRetryable('bytesPerSecond must be a positive whole number, or null');
      },
    },
  );

  /** Waits while paused; false when the job was cancelled. */
  const mayGoOn = async (): Promise<boolean> => {
    if (paused && progress.phase !== 'PAUSED') pause(progress.pausedReason ?? 'paused by an operator');
    await condition(() => !paused || cancelled);
    if (progress.phase === 'PAUSED') {
      progress.phase = stage;
      progress.pausedReason = undefined;
      setStatus('RUNNING');
    }
    return !cancelled;
  };

  /** The current limits, as the next batch should use them. */
  const steeredInput = (): MigrationInput => ({
    ...input,
    concurrency: progress.concurrency,
    bytesPerSecond: progress.bytesPerSecond ?? undefined,
  });

  /**
   * Runs one batch; on a backoff failure waits and tries again, and after
   * repeated ones pauses until resumed. Undefined when cancelled meanwhile.
   */
  const withBackoff = async <T>(batch: () => Promise<T>): Promise<T | undefined> => {
    let failures = 0;
    for (;;) {
      if (!(await mayGoOn())) return undefined;
      try {
        const result = await batch();
        batchesThisRun++;
        return result;
      } catch (error) {
        const backoff = backoffDetails(error);
        if (!backoff) throw error;
        if (backoff.batch) applyBatch(progress, backoff.batch, 0);
        const reason = failureReason(error);
        const wait = BACKOFF_WAITS_SECONDS[failures++];
        if (wait === undefined) {
          pause(`${reason} (after ${failures} attempts; resume to try again)`);
          await audit('paused', 'FAILURE', { reason });
          failures = 0;
          continue;
        }
        progress.notice = `backing off ${wait} s: ${reason}`;
        await condition(() => cancelled || paused, wait * 1000);
        progress.notice = undefined;
      }
    }
  };

  const continueIfLong = async (cursor: MigrationPlanCursor | null) => {
    if (batchesThisRun < batchesPerRun && !workflowInfo().continueAsNewSuggested) return;
    await condition(allHandlersFinished);
    progress.runs++;
    await continueAsNew<typeof migrationWorkflow>(input, { stage, cursor, progress, paused });
  };

  /** The manifest's totals as the last batch left them: from that batch when it brought them. */
  const summaryAfter = async (batch: { summary?: MigrationSummary } | undefined) =>
    batch?.summary ?? (await summarizeMigration(jobId, input));

  const finish = async (
    phase: 'DONE' | 'CANCELLED',
    lastBatch?: MigrationBatchResult,
  ): Promise<MigrationProgress> => {
    // A plan cut short by a cancel is no plan: only copies and deletes are reported then.
    if (stage !== 'PLANNING') applyFinalSummary(progress, await summaryAfter(lastBatch));
    progress.phase = phase;
    progress.etaSeconds = null;
    progress.pausedReason = undefined;
    setStatus(phase === 'DONE' ? 'COMPLETED' : 'CANCELLED');
    await audit(phase === 'DONE' ? 'completed' : 'cancelled', 'SUCCESS', outcomeDetails(progress));
    await condition(allHandlersFinished);
    return progress;
  };

  try {
    if (stage === 'PLANNING') {
      let cursor: MigrationPlanCursor | null = carried?.cursor ?? { side: 'source' };
      let planned: MigrationPlanBatchResult | undefined;
      progress.phase = 'PLANNING';
      while (cursor) {
        planned = await withBackoff(() => planMigrationBatch(jobId, input, cursor as MigrationPlanCursor));
        if (!planned) return await finish('CANCELLED');
        progress.listed.source += planned.listed.source;
        progress.listed.destination += planned.listed.destination;
        cursor = planned.next;
        if (cursor) await continueIfLong(cursor);
      }
      applyPlan(progress, await summaryAfter(planned));
      if (input.dryRun) {
        progress.phase = 'DONE';
        setStatus('COMPLETED');
        await condition(allHandlersFinished);
        return progress;
      }
      const deletes = progress.plan?.delete.objects ?? 0;
      if (input.mode === 'sync' && input.maxDeletes !== undefined && deletes > input.maxDeletes)
        throw ApplicationFailure.create({
          type: maxDeletesExceededFailure,
          message: `sync would delete ${deletes} destination objects, more than maxDeletes (${input.maxDeletes}): nothing was copied or deleted`,
          nonRetryable: true,
        });
      stage = 'COPYING';
      progress.phase = 'COPYING';
    }
    let lastBatch: MigrationBatchResult | undefined;
    if (stage === 'COPYING') {
      for (;;) {
        const started = Date.now();
        const batch = await withBackoff(() =>
          copyMigrationBatch(jobId, steeredInput(), migrationBatchSize(progress.concurrency)),
        );
        if (!batch) return await finish('CANCELLED');
        applyBatch(progress, batch, Date.now() - started);
        lastBatch = batch;
        if (batch.remaining === 0) break;
        await continueIfLong(null);
      }
      stage = 'DELETING';
    }
    if (stage === 'DELETING' && input.mode === 'sync') {
      progress.phase = 'DELETING';
      if (progress.failed.objects > 0)
        progress.notice = `deletes withheld: ${progress.failed.objects} copies failed`;
      else
        for (;;) {
          const batch = await withBackoff(() =>
            deleteMigrationBatch(jobId, steeredInput(), migrationBatchSize(progress.concurrency)),
          );
          if (!batch) return await finish('CANCELLED');
          applyBatch(progress, batch, 0);
          lastBatch = batch;
          if (batch.remaining === 0) break;
          await continueIfLong(null);
        }
    }
    return await finish('DONE', lastBatch);
  } catch (error) {
    if (error instanceof ContinueAsNew) throw error;
    if (isCancellation(error)) {
      progress.phase = 'CANCELLED';
      setStatus('CANCELLED');
      throw error;
    }
    progress.phase = 'FAILED';
    progress.failureReason = failureReason(error);
    progress.etaSeconds = null;
    setStatus('FAILED');
    await audit('failed', 'FAILURE', { ...outcomeDetails(progress), reason: progress.failureReason });
    throw error instanceof ApplicationFailure
      ? error
      : ApplicationFailure.nonRetryable(progress.failureReason, 'MigrationFailed');
  }
}

/** What the audit log keeps of a finished migration: counts, never keys. */
function outcomeDetails(progress: MigrationProgress): Record<string, unknown> {
  const { dryRun, mode, done, skipped, failed, conflicts, deleted, sourcesDeleted, retried } = progress;
  return { dryRun, mode, done, skipped, failed, conflicts, deleted, sourcesDeleted, retried };
}

function initialProgress(input: MigrationInput): MigrationProgress {
  const zero = () => ({ objects: 0, bytes: 0 });
  return {
    phase: 'PLANNING',
    mode: input.mode,
    dryRun: input.dryRun,
    listed: { source: 0, destination: 0 },
    planned: zero(),
    done: zero(),
    skipped: zero(),
    failed: zero(),
    conflicts: zero(),
    deleted: 0,
    sourcesDeleted: 0,
    retried: 0,
    methods: { native: 0, streamed: 0 },
    concurrency: input.concurrency,
    bytesPerSecond: input.bytesPerSecond ?? null,
    rateBytesPerSecond: 0,
    etaSeconds: null,
    runs: 1,
  };
}

/** The details of a `MigrationBackoff` failure; undefined for any other error. */
function backoffDetails(error: unknown): MigrationBackoffDetails | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (!(cause instanceof ApplicationFailure) || cause.type !== migrationBackoffFailure) return undefined;
  return (cause.details?.[0] as MigrationBackoffDetails | undefined) ?? { code: 'Unknown', side: 'source' };
}

function applyPlan(progress: MigrationProgress, summary: MigrationSummary): void {
  const { copy, skip, conflict, methods, estimate } = summary;
  progress.plan = { copy, skip, conflict, delete: summary.delete, methods, estimate };
  progress.planned = { ...copy };
  progress.skipped = { ...skip };
  progress.conflicts = { ...conflict };
}

function applyBatch(progress: MigrationProgress, batch: MigrationBatchResult, elapsedMs: number): void {
  progress.done.objects += batch.done.objects;
  progress.done.bytes += batch.done.bytes;
  progress.failed.objects += batch.failed.objects;
  progress.failed.bytes += batch.failed.bytes;
  progress.methods.native += batch.native;
  progress.methods.streamed += batch.streamed;
  progress.sourcesDeleted += batch.sourcesDeleted;
  progress.deleted += batch.deleted;
  if (elapsedMs <= 0) return;
  progress.rateBytesPerSecond = Math.round((batch.done.bytes * 1000) / elapsedMs);
  const left = progress.planned.bytes - progress.done.bytes - progress.failed.bytes;
  progress.etaSeconds =
    progress.rateBytesPerSecond > 0 ? Math.ceil(Math.max(0, left) / progress.rateBytesPerSecond) : null;
}

/** The manifest is the truth: a batch retried after a crash reports only what its last attempt did. */
function applyFinalSummary(progress: MigrationProgress, summary: MigrationSummary): void {
  if (!progress.plan) applyPlan(progress, summary);
  progress.done = summary.done;
  progress.failed = summary.failed;
  progress.deleted = summary.deleted;
  progress.methods = summary.methodsDone;
  progress.retried = summary.retried;
}
