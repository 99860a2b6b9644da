/**
 * JOB-2 from the API: `POST /jobs/migrations` starts a migration between two
 * buckets of the caller's organization (a dry run unless `dryRun: false`);
 * `GET /jobs/{id}` reads its progress, `PATCH /jobs/{id}` changes its
 * concurrency and rate, and `POST /jobs/{id}/pause|resume|cancel` steer it
 * through the updates declared in workflows/definitions.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { Bucket } from '../../core/db/entities/index.ts';
import { AppError } from '../../core/errors.ts';
import {
  cancelMigrationUpdate,
  type MigrationInput,
  type MigrationProgress,
  maxMigrationConcurrency,
  migrationDefaults,
  migrationModes,
  pauseMigrationUpdate,
  resumeMigrationUpdate,
} from '../../workflows/definitions.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { uuid } from '../schemas.ts';
import { jobListQuery, listJobs } from './job-listing.ts';
import { findJob, jobStartOptions } from './jobs.ts';

const keyPrefix = z.string().max(1024).default('');
const globs = z.array(z.string().min(1).max(1024)).max(100).optional();

const migrationBody = z
  .object({
    sourceBucketId: uuid,
    sourcePrefix: keyPrefix,
    destinationBucketId: uuid,
    destinationPrefix: keyPrefix,
    mode: z.enum(migrationModes).default('copy'),
    dryRun: z.boolean().default(migrationDefaults.dryRun),
    include: globs,
    exclude: globs,
    concurrency: z.number().int().min(1).max(maxMigrationConcurrency).default(migrationDefaults.concurrency),
    bytesPerSecond: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    maxDeletes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    batchesPerRun: z.number().int().min(1).max(1000).optional(),
    batchSeconds: z.number().min(0).max(60).optional(),
  })
  .strict();

export interface MigrationRouteDependencies {
  temporal: Client;
  taskQueue: string;
}

/** One of pause, resume, cancel: an update on a migration job, answered with its progress. */
function steeringRoute(
  deps: MigrationRouteDependencies,
  action: 'pause' | 'resume' | 'cancel',
  summary: string,
): AnyRoute {
  return protectedRoute({
    method: 'post',
    path: `/jobs/:jobId/${action}`,
    tag: 'jobs',
    summary,
    access: 'MEMBER',
    audit: `job.${action}`,
    params: z.object({ jobId: z.string() }),
    body: action === 'pause' ? z.object({ reason: z.string().max(500).optional() }).strict() : undefined,
    response: { status: 200, description: "The migration's progress" },
    async handler({ params, body, caller, auditTarget }) {
      const { id, handle, kind } = await findJob(deps.temporal, params.jobId, caller.organizationId);
      if (kind !== 'migration')
        throw new AppError('CONFLICT', `Only a migration can be steered this way, not a ${kind} job`);
      const reason = (body as { reason?: string } | undefined)?.reason;
      auditTarget({ type: 'job', id }, reason ? { reason } : undefined);
      const update =
        action === 'pause'
          ? handle.executeUpdate(pauseMigrationUpdate, { args: [{ reason }] })
          : handle.executeUpdate(action === 'resume' ? resumeMigrationUpdate : cancelMigrationUpdate);
      const state: MigrationProgress = await update.catch((error: unknown) => {
        throw new AppError('CONFLICT', `The job did not accept the change: ${(error as Error).message}`);
      });
      return { body: { id, kind, state } };
    },
  });
}

export function migrationRoutes(deps: MigrationRouteDependencies): AnyRoute[] {
  return [
    protectedRoute({
      method: 'get',
      path: '/jobs/migrations',
      tag: 'jobs',
      summary:
        "List the organization's migrations, newest first, by status, workspace or bucket (GET /jobs/{id} has a job's live progress)",
      access: 'VIEWER',
      query: jobListQuery,
      response: { status: 200, description: 'Migrations, newest first' },
      async handler({ caller, query }) {
        return { body: { jobs: await listJobs(deps.temporal, caller.organizationId, 'migration', query) } };
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/jobs/migrations',
      tag: 'jobs',
      summary:
        'Start a migration between two buckets (JOB-2): copy, move or sync by prefix; a dry run (the default) only plans',
      access: 'MEMBER',
      audit: 'job.migration.start',
      body: migrationBody,
      response: {
        status: 202,
        description: 'Started',
        schema: z.object({
          id: z.string(),
          kind: z.literal('migration'),
          status: z.string(),
          dryRun: z.boolean(),
        }),
      },
      async handler({ tenant, caller, body, auditTarget, afterCommit }) {
        const source = await tenant.findInWorkspace(Bucket, 'Bucket', body.sourceBucketId, {
          populate: ['workspace'],
        });
        const destination = await tenant.findInWorkspace(Bucket, 'Bucket', body.destinationBucketId, {
          populate: ['workspace'],
        });
        const overlapping =
          source.id === destination.id &&
          (body.sourcePrefix.startsWith(body.destinationPrefix) ||
            body.destinationPrefix.startsWith(body.sourcePrefix));
        if (overlapping)
          throw new AppError(
            'VALIDATION_FAILED',
            'Within one bucket, the source and destination prefixes must not contain each other',
          );
        const input: MigrationInput = { ...body };
        const id = `migration-${randomUUID()}`;
        afterCommit(async () => {
          await deps.temporal.workflow.start('migrationWorkflow', {
            workflowId: id,
            taskQueue: deps.taskQueue,
            args: [input],
            ...jobStartOptions({
              kind: 'migration',
              organizationId: caller.organizationId,
              startedBy: caller.userId,
              workspaceId: source.workspace.id,
              bucketIds: [source.id, destination.id],
            }),
          });
        });
        auditTarget(
          { type: 'job', id, workspaceId: source.workspace.id },
          {
            sourceBucketId: source.id,
            destinationBucketId: destination.id,
            mode: body.mode,
            dryRun: body.dryRun,
          },
        );
        return {
          headers: { location: `/jobs/${id}` },
          body: { id, kind: 'migration', status: 'RUNNING', dryRun: body.dryRun },
        };
      },
    }),
    steeringRoute(
      deps,
      'pause',
      'Pause a migration: the batch in flight finishes, no new one starts until it is resumed',
    ),
    steeringRoute(deps, 'resume', 'Resume a paused migration where it stopped'),
    steeringRoute(
      deps,
      'cancel',
      'Cancel a migration: the batch in flight finishes, then the job ends with its report',
    ),
  ];
}
