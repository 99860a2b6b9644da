/**
 * JOB-6 from the API: `POST /jobs/rebalance` plans a workspace's rebalancing
 * now, `PUT /jobs/rebalance/schedule` makes a Temporal schedule do it at an
 * interval (`DELETE` stops it), `GET /jobs/rebalance` lists the plans, and
 * `POST /jobs/{id}/approve|reject` decide a plan that waits. Moving data
 * between buckets is an admin's call: every route that changes anything
 * needs the ADMIN role, and is audited.
 */
import { randomUUID } from 'node:crypto';
import { type Client, ScheduleNotFoundError, type ScheduleOptionsAction } from '@temporalio/client';
import { z } from 'zod';
import { AiLlmConfig } from '../../core/db/entities/index.ts';
import { AppError, notFound } from '../../core/errors.ts';
import { defaultPlannerThresholds } from '../../core/rebalancing/plan.ts';
import {
  approveRebalanceUpdate,
  type RebalanceInput,
  type RebalanceSettings,
  type RebalanceState,
  rebalanceDefaults,
  rebalanceScheduleId,
  rejectRebalanceUpdate,
  searchAttributes,
} from '../../workflows/definitions.ts';
import type { Caller } from '../caller.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { uuid, workspaceSelector } from '../schemas.ts';
import type { TenantScope } from '../tenancy.ts';
import { findJob, jobStartOptions } from './jobs.ts';

const wholeNumber = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const share = z.number().min(0).max(1);
const percentage = z.number().min(0).max(1000);

const thresholds = z
  .object({
    capUsePercent: percentage,
    targetCapUsePercent: percentage,
    slowP95LatencyMs: wholeNumber,
    errorRate: share,
    minRequests: wholeNumber,
    minPriceDropPercent: z.number().min(0).max(100),
    minMonthlySaving: z.number().min(0),
    maxMoves: z.number().int().min(1).max(1000),
  })
  .partial()
  .strict()
  .refine(
    (given) =>
      (given.targetCapUsePercent ?? defaultPlannerThresholds.targetCapUsePercent) <=
      (given.capUsePercent ?? defaultPlannerThresholds.capUsePercent),
    'targetCapUsePercent must not exceed capUsePercent',
  );

/** A whole number from 1 to `max`, `fallback` when absent. */
const countUpTo = (max: number, fallback: number) => z.number().int().min(1).max(max).default(fallback);

const settingsFields = {
  autoApproveBytes: wholeNumber.default(rebalanceDefaults.autoApproveBytes),
  approvalTimeoutSeconds: countUpTo(30 * 24 * 3600, rebalanceDefaults.approvalTimeoutSeconds),
  usageWindowHours: countUpTo(31 * 24, rebalanceDefaults.usageWindowHours),
  thresholds: thresholds.optional(),
  agent: z
    .object({ aiConfigId: uuid, model: z.string().min(1).max(200) })
    .strict()
    .optional(),
};

const startBody = workspaceSelector.extend(settingsFields).strict();

const scheduleBody = workspaceSelector
  .extend({ ...settingsFields, intervalMinutes: countUpTo(31 * 24 * 60, rebalanceDefaults.intervalMinutes) })
  .strict();

const decisionBody = z.object({ reason: z.string().max(500).optional() }).strict();

export interface RebalanceRouteDependencies {
  temporal: Client;
  taskQueue: string;
}

/** The workflow's input from a validated body: the workspace is the caller's, the AI config in it. */
async function rebalanceInput(
  tenant: TenantScope,
  caller: Caller,
  body: z.output<typeof startBody>,
  startedBy: string,
): Promise<RebalanceInput> {
  const workspace = await tenant.workspace(body.workspaceId);
  if (body.agent) {
    const config = await tenant.findInWorkspace(AiLlmConfig, 'AI LLM config', body.agent.aiConfigId);
    if (config.workspace.id !== workspace.id) throw notFound('AI LLM config');
  }
  const settings: RebalanceSettings = {
    workspaceId: workspace.id,
    autoApproveBytes: body.autoApproveBytes,
    approvalTimeoutSeconds: body.approvalTimeoutSeconds,
    usageWindowHours: body.usageWindowHours,
    thresholds: body.thresholds,
    agent: body.agent,
  };
  return { ...settings, organizationId: caller.organizationId, startedBy };
}

function rebalanceLabels(input: RebalanceInput) {
  return jobStartOptions({
    kind: 'rebalance',
    organizationId: input.organizationId,
    startedBy: input.startedBy,
    workspaceId: input.workspaceId,
  });
}

/** approve or reject: an update on a rebalancing job that waits for its decision. */
function decisionRoute(deps: RebalanceRouteDependencies, action: 'approve' | 'reject'): AnyRoute {
  return protectedRoute({
    method: 'post',
    path: `/jobs/:jobId/${action}`,
    tag: 'jobs',
    summary:
      action === 'approve'
        ? 'Approve a rebalancing plan that waits for approval: its moves run as child migrations'
        : 'Reject a rebalancing plan that waits for approval: nothing moves',
    access: 'ADMIN',
    audit: `job.rebalance.${action}`,
    params: z.object({ jobId: z.string() }),
    body: decisionBody,
    response: { status: 200, description: "The plan's state" },
    async handler({ params, body, caller, auditTarget }) {
      const { id, handle, kind } = await findJob(deps.temporal, params.jobId, caller.organizationId);
      if (kind !== 'rebalance')
        throw new AppError(
          'CONFLICT',
          `Only a rebalancing plan can be approved or rejected, not a ${kind} job`,
        );
      auditTarget({ type: 'job', id }, body.reason ? { reason: body.reason } : undefined);
      const update = action === 'approve' ? approveRebalanceUpdate : rejectRebalanceUpdate;
      const state: RebalanceState = await handle
        .executeUpdate(update, { args: [{ by: caller.userId, reason: body.reason }] })
        .catch((error: unknown) => {
          throw new AppError('CONFLICT', `The job did not accept the decision: ${(error as Error).message}`);
        });
      return { body: { id, kind, state } };
    },
  });
}

function scheduleAction(deps: RebalanceRouteDependencies, input: RebalanceInput): ScheduleOptionsAction {
  return {
    type: 'startWorkflow',
    workflowType: 'rebalanceWorkflow',
    // Temporal appends the scheduled time to each run's id.
    workflowId: `rebalance-${input.workspaceId}`,
    taskQueue: deps.taskQueue,
    args: [input],
    ...rebalanceLabels(input),
  };
}

async function describeSchedule(deps: RebalanceRouteDependencies, workspaceId: string) {
  const handle = deps.temporal.schedule.getHandle(rebalanceScheduleId(workspaceId));
  try {
    return { handle, description: await handle.describe() };
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return { handle, description: undefined };
    throw error;
  }
}

function presentSchedule(
  workspaceId: string,
  description: Awaited<ReturnType<typeof describeSchedule>>['description'],
) {
  if (!description) throw notFound('Rebalancing schedule');
  const interval = description.spec.intervals?.[0]?.every;
  const action = description.action;
  const input =
    action.type === 'startWorkflow' ? (action.args?.[0] as RebalanceInput | undefined) : undefined;
  return {
    scheduleId: description.scheduleId,
    workspaceId,
    intervalMinutes: typeof interval === 'number' ? interval / 60_000 : null,
    settings: input ? settingsOf(input) : null,
    nextRuns: description.info.nextActionTimes.map((time) => time.toISOString()),
    recentRuns: description.info.recentActions.map((run) =>
      'workflow' in run.action ? run.action.workflow.workflowId : null,
    ),
  };
}

function settingsOf(input: RebalanceInput): RebalanceSettings {
  const { organizationId: _organization, startedBy: _startedBy, ...settings } = input;
  return settings;
}

export function rebalanceRoutes(deps: RebalanceRouteDependencies): AnyRoute[] {
  return [
    protectedRoute({
      method: 'post',
      path: '/jobs/rebalance',
      tag: 'jobs',
      summary:
        "Plan a workspace's rebalancing now (JOB-6): the plan waits for approval unless it moves no more than autoApproveBytes",
      access: 'ADMIN',
      audit: 'job.rebalance.start',
      body: startBody,
      response: {
        status: 202,
        description: 'Started',
        schema: z.object({ id: z.string(), kind: z.literal('rebalance'), status: z.string() }),
      },
      async handler({ tenant, caller, body, auditTarget, afterCommit }) {
        const input = await rebalanceInput(tenant, caller, body, caller.userId);
        const id = `rebalance-${randomUUID()}`;
        afterCommit(async () => {
          await deps.temporal.workflow.start('rebalanceWorkflow', {
            workflowId: id,
            taskQueue: deps.taskQueue,
            args: [input],
            ...rebalanceLabels(input),
          });
        });
        auditTarget({ type: 'job', id, workspaceId: input.workspaceId }, { ...settingsOf(input) });
        return { headers: { location: `/jobs/${id}` }, body: { id, kind: 'rebalance', status: 'RUNNING' } };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/jobs/rebalance',
      tag: 'jobs',
      summary: "List the organization's rebalancing plans, newest first (from Temporal's visibility)",
      access: 'VIEWER',
      query: workspaceSelector
        .extend({ limit: z.coerce.number().int().min(1).max(500).default(100) })
        .strict(),
      response: { status: 200, description: 'The plans' },
      async handler({ query, caller }) {
        const filters = [
          `${searchAttributes.kind.name} = 'rebalance'`,
          `${searchAttributes.organization.name} = '${caller.organizationId}'`,
        ];
        if (query.workspaceId) filters.push(`${searchAttributes.workspace.name} = '${query.workspaceId}'`);
        const plans = [];
        for await (const workflow of deps.temporal.workflow.list({ query: filters.join(' AND ') })) {
          plans.push({
            id: workflow.workflowId,
            workspaceId: workflow.typedSearchAttributes.get(searchAttributes.workspace) ?? null,
            status: workflow.typedSearchAttributes.get(searchAttributes.status) ?? null,
            workflowStatus: workflow.status.name,
            startedAt: workflow.startTime.toISOString(),
            closedAt: workflow.closeTime?.toISOString() ?? null,
          });
          if (plans.length >= query.limit) break;
        }
        return { body: plans };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/jobs/rebalance/schedule',
      tag: 'jobs',
      summary:
        "Create or change the Temporal schedule that plans a workspace's rebalancing every intervalMinutes",
      access: 'ADMIN',
      audit: 'job.rebalance.schedule',
      body: scheduleBody,
      response: { status: 200, description: 'The schedule' },
      async handler({ tenant, caller, body, auditTarget, afterCommit }) {
        const input = await rebalanceInput(tenant, caller, body, 'schedule');
        const scheduleId = rebalanceScheduleId(input.workspaceId);
        const spec = { intervals: [{ every: `${body.intervalMinutes} minutes` as const }] };
        auditTarget(
          { type: 'schedule', id: scheduleId, workspaceId: input.workspaceId },
          { intervalMinutes: body.intervalMinutes, ...settingsOf(input) },
        );
        afterCommit(async () => {
          const { handle, description } = await describeSchedule(deps, input.workspaceId);
          const action = scheduleAction(deps, input);
          if (description) await handle.update((previous) => ({ ...previous, spec, action }));
          else await deps.temporal.schedule.create({ scheduleId, spec, action });
        });
        return {
          body: {
            scheduleId,
            workspaceId: input.workspaceId,
            intervalMinutes: body.intervalMinutes,
            settings: settingsOf(input),
          },
        };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/jobs/rebalance/schedule/:workspaceId',
      tag: 'jobs',
      summary: "Read a workspace's rebalancing schedule: interval, settings, next and recent runs",
      access: 'VIEWER',
      params: z.object({ workspaceId: uuid }),
      response: { status: 200, description: 'The schedule' },
      async handler({ tenant, params }) {
        const workspace = await tenant.workspace(params.workspaceId);
        const { description } = await describeSchedule(deps, workspace.id);
        return { body: presentSchedule(workspace.id, description) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/jobs/rebalance/schedule/:workspaceId',
      tag: 'jobs',
      summary: "Stop a workspace's scheduled rebalancing (plans already started go on)",
      access: 'ADMIN',
      audit: 'job.rebalance.unschedule',
      params: z.object({ workspaceId: uuid }),
      response: { status: 204, description: 'Deleted' },
      async handler({ tenant, params, auditTarget }) {
        const workspace = await tenant.workspace(params.workspaceId);
        const { handle, description } = await describeSchedule(deps, workspace.id);
        if (!description) throw notFound('Rebalancing schedule');
        auditTarget({ type: 'schedule', id: rebalanceScheduleId(workspace.id), workspaceId: workspace.id });
        await handle.delete();
        return {};
      },
    }),
    decisionRoute(deps, 'approve'),
    decisionRoute(deps, 'reject'),
  ];
}
