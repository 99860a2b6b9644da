/**
 * Jobs are Temporal workflows: the API starts them and reads their live state
 * back through queries. A job of another organization is a 404.
 */
import { randomUUID } from 'node:crypto';
import { type Client, type WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import { z } from 'zod';
import { AppError, notFound } from '../../core/errors.ts';
import {
  bucketValidationStateQuery,
  credentialRotationStateQuery,
  type JobKind,
  type JobMemo,
  keyRotationStateQuery,
  maxGraceSeconds,
  maxMigrationConcurrency,
  migrationProgressQuery,
  pingStateQuery,
  rebalanceStateQuery,
  searchAttributes,
  setGracePeriodUpdate,
  setMigrationConcurrencyUpdate,
  setMigrationRateUpdate,
} from '../../workflows/definitions.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';

/** `kind-<uuid>`; a run started by a schedule carries the schedule's time after it. */
const jobId = z
  .string()
  .regex(/^[a-z][a-z-]*-[0-9a-f-]{36}(-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)?$/, 'not a job id');

/** Who started a job and what it touches: its memo and the search attributes operators filter on. */
export interface JobLabels {
  kind: JobKind;
  organizationId: string;
  startedBy: string;
  workspaceId?: string;
  repositoryId?: string;
  bucketIds?: string[];
}

/** The memo and search attributes of a job about to start, status RUNNING. */
export function jobStartOptions(labels: JobLabels) {
  const { kind, organizationId, startedBy, workspaceId, repositoryId, bucketIds } = labels;
  const memo: Record<string, unknown> = { organizationId, startedBy } satisfies JobMemo;
  const typedSearchAttributes: SearchAttributePair[] = [
    { key: searchAttributes.kind, value: kind },
    { key: searchAttributes.organization, value: organizationId },
    { key: searchAttributes.status, value: 'RUNNING' },
  ];
  if (workspaceId) typedSearchAttributes.push({ key: searchAttributes.workspace, value: workspaceId });
  if (repositoryId) typedSearchAttributes.push({ key: searchAttributes.repository, value: repositoryId });
  if (bucketIds?.length)
    typedSearchAttributes.push({ key: searchAttributes.buckets, value: [...new Set(bucketIds)] });
  return { memo, typedSearchAttributes };
}

/** The query that reads each kind of job's live state. */
const stateQueries = {
  ping: pingStateQuery,
  'bucket-validation': bucketValidationStateQuery,
  'key-rotation': keyRotationStateQuery,
  'credential-rotation': credentialRotationStateQuery,
  migration: migrationProgressQuery,
  rebalance: rebalanceStateQuery,
} as const;

type FoundJob = Awaited<ReturnType<typeof findJob>>;

/** The job's handle and description, if it exists and belongs to the caller's organization. */
export async function findJob(temporal: Client, rawId: string, organizationId: string) {
  const id = jobId.safeParse(rawId);
  if (!id.success) throw notFound('Job');
  const handle = temporal.workflow.getHandle(id.data);
  const description = await handle.describe().catch((error: unknown) => {
    if (error instanceof WorkflowNotFoundError) throw notFound('Job');
    throw error;
  });
  const memo = description.memo as Partial<JobMemo> | undefined;
  if (memo?.organizationId !== organizationId) throw notFound('Job');
  const kind = description.typedSearchAttributes.get(searchAttributes.kind) ?? description.type;
  return { id: id.data, handle, description, kind };
}

const STATE_QUERY_TIMEOUT_MS = 5_000;

/**
 * A job's live state comes from its workflow, so a worker must answer: without one (all stopped, or
 * restarting) the answer is 503 with the status Temporal itself knows, not a hang or a 500.
 */
async function queryState(
  temporal: Client,
  handle: WorkflowHandle,
  queryName: string,
  job: { id: string; kind: string; status: string },
): Promise<unknown> {
  try {
    return await temporal.withDeadline(Date.now() + STATE_QUERY_TIMEOUT_MS, () =>
      handle.query<unknown>(queryName),
    );
  } catch {
    throw new AppError(
      'UNAVAILABLE',
      `No worker answered for ${job.kind} job ${job.id} (status ${job.status}); its live state is unavailable until a worker runs`,
    );
  }
}

/** How many closed runs' states an API process keeps. */
const CLOSED_STATES_KEPT = 1_000;

/**
 * The last state of closed runs, by run id. It can no longer change, and querying a closed run
 * makes a worker replay its whole history (about 40 ms of CPU for a short migration).
 */
class ClosedJobStates {
  readonly #states = new Map<string, unknown>();

  has(runId: string): boolean {
    return this.#states.has(runId);
  }

  get(runId: string): unknown {
    return this.#states.get(runId);
  }

  set(runId: string, state: unknown): void {
    if (this.#states.size >= CLOSED_STATES_KEPT)
      this.#states.delete(this.#states.keys().next().value as string);
    this.#states.set(runId, state);
  }
}

export function jobRoutes(deps: { temporal: Client; taskQueue: string }): AnyRoute[] {
  const closedStates = new ClosedJobStates();
  /** The job's live state through its query; a closed run's is read once. */
  const stateOf = async ({ id, handle, description, kind }: FoundJob, queryName: string) => {
    const closedRunId = description.closeTime ? description.runId : undefined;
    if (closedRunId && closedStates.has(closedRunId)) return closedStates.get(closedRunId);
    const state = await queryState(deps.temporal, handle, queryName, {
      id,
      kind,
      status: description.status.name,
    });
    if (closedRunId) closedStates.set(closedRunId, state);
    return state;
  };
  return [
    protectedRoute({
      method: 'post',
      path: '/jobs/ping',
      tag: 'jobs',
      summary: 'Start the ping job: a one-activity round trip through Temporal and the worker',
      access: 'ADMIN',
      audit: 'job.ping.start',
      body: z.object({ message: z.string().max(1000).default('ping') }).strict(),
      response: {
        status: 202,
        description: 'Started',
        schema: z.object({ id: z.string(), kind: z.literal('ping'), status: z.string() }),
      },
      async handler({ body, caller, auditTarget }) {
        const id = `ping-${randomUUID()}`;
        await deps.temporal.workflow.start('pingWorkflow', {
          workflowId: id,
          taskQueue: deps.taskQueue,
          args: [{ message: body.message }],
          ...jobStartOptions({
            kind: 'ping',
            organizationId: caller.organizationId,
            startedBy: caller.userId,
          }),
        });
        auditTarget({ type: 'job', id });
        return { headers: { location: `/jobs/${id}` }, body: { id, kind: 'ping', status: 'RUNNING' } };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/jobs/:jobId',
      tag: 'jobs',
      summary: "Read a job's status and live state (through a Temporal query)",
      access: 'VIEWER',
      params: z.object({ jobId: z.string() }),
      response: { status: 200, description: 'The job' },
      async handler({ params, caller }) {
        const found = await findJob(deps.temporal, params.jobId, caller.organizationId);
        const { id, description, kind } = found;
        const query = stateQueries[kind as keyof typeof stateQueries];
        return {
          body: {
            id,
            kind,
            status: description.status.name,
            startedAt: description.startTime.toISOString(),
            closedAt: description.closeTime?.toISOString() ?? null,
            state: query ? await stateOf(found, query.name) : null,
          },
        };
      },
    }),
    protectedRoute({
      method: 'patch',
      path: '/jobs/:jobId',
      tag: 'jobs',
      summary:
        "Steer a running job: a key rotation's grace period (seconds from its start; 0 ends it now), a migration's concurrency and rate (bytesPerSecond; null removes the limit)",
      access: 'MEMBER',
      audit: 'job.update',
      params: z.object({ jobId: z.string() }),
      body: z
        .object({
          graceSeconds: z.number().int().min(0).max(maxGraceSeconds).optional(),
          concurrency: z.number().int().min(1).max(maxMigrationConcurrency).optional(),
          bytesPerSecond: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullable().optional(),
        })
        .strict(),
      response: { status: 200, description: "The job's new state" },
      async handler({ params, body, caller, auditTarget }) {
        const { id, handle, kind } = await findJob(deps.temporal, params.jobId, caller.organizationId);
        const refused = (error: unknown): never => {
          throw new AppError('CONFLICT', `The job did not accept the change: ${(error as Error).message}`);
        };
        if (body.graceSeconds !== undefined) {
          if (kind !== 'key-rotation') throw new AppError('CONFLICT', `A ${kind} job has no grace period`);
          auditTarget({ type: 'job', id }, { graceSeconds: body.graceSeconds });
          const state = await handle
            .executeUpdate(setGracePeriodUpdate, { args: [{ graceSeconds: body.graceSeconds }] })
            .catch(refused);
          return { body: { id, kind, state } };
        }
        if (body.concurrency === undefined && body.bytesPerSecond === undefined)
          throw new AppError('VALIDATION_FAILED', 'Give graceSeconds, concurrency or bytesPerSecond');
        if (kind !== 'migration')
          throw new AppError('CONFLICT', `A ${kind} job has no concurrency or rate to change`);
        auditTarget(
          { type: 'job', id },
          { concurrency: body.concurrency, bytesPerSecond: body.bytesPerSecond },
        );
        let state: unknown;
        if (body.concurrency !== undefined)
          state = await handle
            .executeUpdate(setMigrationConcurrencyUpdate, { args: [{ concurrency: body.concurrency }] })
            .catch(refused);
        if (body.bytesPerSecond !== undefined)
          state = await handle
            .executeUpdate(setMigrationRateUpdate, { args: [{ bytesPerSecond: body.bytesPerSecond }] })
            .catch(refused);
        return { body: { id, kind, state } };
      },
    }),
  ];
}
