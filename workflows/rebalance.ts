import type { SearchAttributePair } from '@temporalio/common';
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  executeChild,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import type { RebalanceMove } from '../core/rebalancing/plan.ts';
import {
  approveRebalanceUpdate,
  type JobMemo,
  type MigrationInput,
  type MigrationProgress,
  migrationDefaults,
  type RebalanceInput,
  type RebalanceMoveRun,
  type RebalancePhase,
  type RebalanceState,
  rebalanceStateQuery,
  rejectRebalanceUpdate,
  searchAttributes,
} from './definitions.ts';
import { failureReason } from './failures.ts';
import { migrationWorkflow } from './migrate.ts';

type Activities = ReturnType<typeof createActivities>;

const { proposeRebalancePlan } = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 5 },
});

const { reviewRebalancePlan } = proxyActivities<Activities>({
  startToCloseTimeout: '3 minutes',
  retry: { maximumAttempts: 2 },
});

const { recordJobAudit } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
});

/**
 * JOB-6: plan, let the agent reorder or veto (when configured), then wait for
 * an operator's approval unless the plan is small enough to approve itself;
 * run the approved moves one by one as child migrations in move mode; record
 * the outcome in the audit log. A rejected or expired plan does nothing.
 */
export async function rebalanceWorkflow(input: RebalanceInput): Promise<RebalanceState> {
  const state: RebalanceState = {
    phase: 'PROPOSED',
    workspaceId: input.workspaceId,
    toRun: [],
    bytesToMove: 0,
    autoApproveBytes: input.autoApproveBytes,
    runs: [],
  };
  setHandler(rebalanceStateQuery, () => state);
  const decide = (phase: 'APPROVED' | 'REJECTED') => (decision: { by: string; reason?: string }) => {
    state.decision = { ...decision, at: new Date().toISOString() };
    state.phase = phase;
    return state;
  };
  const waiting = (_decision: { by: string; reason?: string }) => {
    if (state.phase !== 'WAITING_APPROVAL')
      throw ApplicationFailure.nonRetryable(`The plan is ${state.phase}, not waiting for approval`);
  };
  setHandler(approveRebalanceUpdate, decide('APPROVED'), { validator: waiting });
  setHandler(rejectRebalanceUpdate, decide('REJECTED'), { validator: waiting });

  const plan = await proposeRebalancePlan(input);
  state.plan = plan;
  let moves = plan.moves;
  if (input.agent && moves.length > 0) {
    const reviewed = await reviewRebalancePlan(input, moves);
    state.agent = reviewed.review;
    moves = reviewed.moves;
  }
  state.toRun = moves.map((move) => move.id);
  state.bytesToMove = moves.reduce((total, move) => total + move.figures.bytes, 0);

  if (moves.length === 0) return finish(input, state, 'DONE');
  if (state.bytesToMove <= input.autoApproveBytes) {
    decide('APPROVED')({ by: 'auto', reason: `${state.bytesToMove} bytes ≤ autoApproveBytes` });
  } else {
    const decided = await waitForDecision(input, state);
    if (decided !== 'APPROVED') return finish(input, state, decided);
  }
  state.phase = 'RUNNING';
  setStatus('RUNNING');
  state.runs = moves.map((move, index) => ({ moveId: move.id, jobId: moveJobId(index), outcome: 'PENDING' }));
  for (const [index, move] of moves.entries())
    await runMove(input, move, state.runs[index] as RebalanceMoveRun);
  return finish(input, state, 'DONE');
}

async function waitForDecision(
  input: RebalanceInput,
  state: RebalanceState,
): Promise<'APPROVED' | 'REJECTED' | 'EXPIRED'> {
  const timeoutMs = input.approvalTimeoutSeconds * 1000;
  state.expiresAt = new Date(Date.now() + timeoutMs).toISOString();
  state.phase = 'WAITING_APPROVAL';
  setStatus('WAITING_APPROVAL');
  const decided = await condition(() => state.decision !== undefined, timeoutMs);
  if (!decided) return 'EXPIRED';
  return state.phase as 'APPROVED' | 'REJECTED';
}

async function runMove(input: RebalanceInput, move: RebalanceMove, run: RebalanceMoveRun): Promise<void> {
  const migration: MigrationInput = {
    sourceBucketId: move.sourceBucketId,
    sourcePrefix: move.prefix,
    destinationBucketId: move.destinationBucketId,
    destinationPrefix: move.prefix,
    mode: 'move',
    dryRun: false,
    concurrency: migrationDefaults.concurrency,
  };
  run.outcome = 'RUNNING';
  try {
    const progress: MigrationProgress = await executeChild(migrationWorkflow, {
      workflowId: run.jobId,
      args: [migration],
      // A cancelled plan lets the move in flight finish its batch and report, rather than cutting it off.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      ...childLabels(input, [move.sourceBucketId, move.destinationBucketId]),
    });
    run.movedObjects = progress.done.objects;
    run.movedBytes = progress.done.bytes;
    run.failedObjects = progress.failed.objects;
    run.outcome = progress.phase === 'DONE' && progress.failed.objects === 0 ? 'DONE' : 'FAILED';
    if (run.outcome === 'FAILED') run.reason = `${progress.phase}: ${progress.failed.objects} objects failed`;
  } catch (error) {
    run.outcome = 'FAILED';
    run.reason = failureReason(error);
  }
}

async function finish(
  input: RebalanceInput,
  state: RebalanceState,
  phase: Extract<RebalancePhase, 'DONE' | 'REJECTED' | 'EXPIRED'>,
): Promise<RebalanceState> {
  state.phase = phase;
  state.expiresAt = undefined;
  setStatus(phase === 'DONE' ? 'COMPLETED' : phase);
  const failed = state.runs.filter((run) => run.outcome === 'FAILED').length;
  await recordJobAudit({
    organizationId: input.organizationId,
    jobId: workflowInfo().workflowId,
    workspaceId: input.workspaceId,
    action: `job.rebalance.${phase.toLowerCase()}`,
    outcome: failed ? 'FAILURE' : 'SUCCESS',
    details: {
      proposed: state.plan?.moves.length ?? 0,
      vetoed: state.agent?.vetoes.length ?? 0,
      agentIgnoredReason: state.agent?.ignoredReason,
      decidedBy: state.decision?.by,
      reason: state.decision?.reason,
      moves: state.runs.map(({ moveId, jobId, outcome }) => ({ moveId, jobId, outcome })),
    },
  });
  await condition(allHandlersFinished);
  return state;
}

function setStatus(status: string): void {
  upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
}

/**
 * A child job's id: the parent run's id with the move's index in its last
 * group, so it is unique, derived from the parent, and has a job id's shape.
 */
function moveJobId(index: number): string {
  const runId = workflowInfo().runId;
  return `rebalance-move-${runId.slice(0, 24)}${(index + 1).toString(16).padStart(12, '0')}`;
}

/** What `jobStartOptions` gives a job started through the API, for a child migration. */
function childLabels(input: RebalanceInput, bucketIds: string[]) {
  const memo: Record<string, unknown> = {
    organizationId: input.organizationId,
    startedBy: input.startedBy,
  } satisfies JobMemo;
  const typedSearchAttributes: SearchAttributePair[] = [
    { key: searchAttributes.kind, value: 'migration' },
    { key: searchAttributes.organization, value: input.organizationId },
    { key: searchAttributes.status, value: 'RUNNING' },
    { key: searchAttributes.workspace, value: input.workspaceId },
    { key: searchAttributes.buckets, value: bucketIds },
  ];
  return { memo, typedSearchAttributes };
}
