/**
 * Jobs are Temporal workflows: the API starts them and reads their live state
 * back through queries. A job of another organization is a 404.
 */
import { randomUUID } from 'node:crypto';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { Router } from 'express';
import { z } from 'zod';
import { notFound } from '../../core/errors.ts';
import { type JobMemo, pingStateQuery, searchAttributes } from '../../workflows/definitions.ts';
import { callerOf, requireRole } from '../middleware/authenticate.ts';

const pingBody = z.object({ message: z.string().max(1000).default('ping') }).strict();
const jobId = z.string().regex(/^[a-z]+-[0-9a-f-]{36}$/, 'not a job id');

export function jobRoutes(deps: { temporal: Client; taskQueue: string }): Router {
  const router = Router();

  router.post('/jobs/ping', requireRole('ADMIN'), async (req, res) => {
    const caller = callerOf(req);
    const { message } = pingBody.parse(req.body ?? {});
    const id = `ping-${randomUUID()}`;
    const memo: JobMemo = { organizationId: caller.organizationId, startedBy: caller.userId };
    await deps.temporal.workflow.start('pingWorkflow', {
      workflowId: id,
      taskQueue: deps.taskQueue,
      args: [{ message }],
      memo: { ...memo },
      typedSearchAttributes: [
        { key: searchAttributes.kind, value: 'ping' },
        { key: searchAttributes.status, value: 'RUNNING' },
      ],
    });
    res.status(202).location(`/jobs/${id}`).json({ id, kind: 'ping', status: 'RUNNING' });
  });

  router.get('/jobs/:id', requireRole('VIEWER'), async (req, res) => {
    const caller = callerOf(req);
    const id = jobId.safeParse(req.params.id);
    if (!id.success) throw notFound('Job');
    const handle = deps.temporal.workflow.getHandle(id.data);
    const description = await handle.describe().catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) throw notFound('Job');
      throw error;
    });
    const memo = description.memo as Partial<JobMemo> | undefined;
    if (memo?.organizationId !== caller.organizationId) throw notFound('Job');
    const state = await handle.query(pingStateQuery);
    res.json({
      id: id.data,
      kind: description.typedSearchAttributes.get(searchAttributes.kind) ?? description.type,
      status: description.status.name,
      startedAt: description.startTime.toISOString(),
      closedAt: description.closeTime?.toISOString() ?? null,
      state,
    });
  });

  return router;
}
