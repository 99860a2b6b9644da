/**
 * Jobs are Temporal workflows: the API starts them and reads their live state
 * back through queries. A job of another organization is a 404.
 */
import { randomUUID } from 'node:crypto';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { notFound } from '../../core/errors.ts';
import { type JobMemo, pingStateQuery, searchAttributes } from '../../workflows/definitions.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';

const jobId = z.string().regex(/^[a-z][a-z-]*-[0-9a-f-]{36}$/, 'not a job id');

export function jobMemo(organizationId: string, startedBy: string): Record<string, unknown> {
  return { organizationId, startedBy } satisfies JobMemo;
}

export function jobRoutes(deps: { temporal: Client; taskQueue: string }): AnyRoute[] {
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
          memo: jobMemo(caller.organizationId, caller.userId),
          typedSearchAttributes: [
            { key: searchAttributes.kind, value: 'ping' },
            { key: searchAttributes.status, value: 'RUNNING' },
          ],
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
        const id = jobId.safeParse(params.jobId);
        if (!id.success) throw notFound('Job');
        const handle = deps.temporal.workflow.getHandle(id.data);
        const description = await handle.describe().catch((error: unknown) => {
          if (error instanceof WorkflowNotFoundError) throw notFound('Job');
          throw error;
        });
        const memo = description.memo as Partial<JobMemo> | undefined;
        if (memo?.organizationId !== caller.organizationId) throw notFound('Job');
        return {
          body: {
            id: id.data,
            kind: description.typedSearchAttributes.get(searchAttributes.kind) ?? description.type,
            status: description.status.name,
            startedAt: description.startTime.toISOString(),
            closedAt: description.closeTime?.toISOString() ?? null,
            state: await handle.query(pingStateQuery),
          },
        };
      },
    }),
  ];
}
