/**
 * OBS-1: the seeds' stats endpoints, answered from the rollups' aggregate
 * tables (never from raw usage events): storage per repository, per bucket,
 * per day and per minute; AI per day and dimension; bridge nodes per minute.
 * Day ranges are UTC dates (`from`, `to` inclusive, default the last 30
 * days, at most 366); minute ranges are instants (default the last hour, at
 * most 24 hours). Figures lag the traffic by up to one rollup interval.
 */
import { z } from 'zod';
import { Bucket, Repository } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { nodeMinuteStats } from '../../core/nodes/node-stats.ts';
import { loadBucketReputations, presentReputation } from '../../core/sla/reputation.ts';
import { type AiDimension, aiDailyFigures, aiDimensions } from '../../core/stats/ai-stats.ts';
import { emptyTotals, figuresOf, type StatsScope } from '../../core/stats/figures.ts';
import {
  type Grain,
  requestsByOperation,
  type StorageFigures,
  storageFigures,
} from '../../core/stats/storage-stats.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { isoDate, uuid } from '../schemas.ts';
import type { TenantScope } from '../tenancy.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const maxDays = 366;
const defaultDays = 30;
const maxMinutes = 24 * 60;
const defaultMinutes = 60;

const utcDate = z.iso.date({ error: 'must be a date: YYYY-MM-DD' });

interface Range {
  from: Date;
  /** Exclusive. */
  to: Date;
}

/** `to` defaults to today, `from` to `defaultDays` days before it; both inclusive. */
export function dayRange(query: { from?: string; to?: string }): Range {
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const last = query.to
    ? Date.parse(query.to)
    : query.from
      ? Date.parse(query.from) + (defaultDays - 1) * DAY_MS
      : today;
  const first = query.from ? Date.parse(query.from) : last - (defaultDays - 1) * DAY_MS;
  return { from: new Date(first), to: new Date(last + DAY_MS) };
}

/** `to` defaults to now (its minute included), `from` to `defaultMinutes` before it. */
function minuteRange(query: { from?: string; to?: string }): Range {
  const now = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const to = query.to
    ? Date.parse(query.to)
    : query.from
      ? Date.parse(query.from) + defaultMinutes * MINUTE_MS
      : now;
  const from = query.from ? Date.parse(query.from) : to - defaultMinutes * MINUTE_MS;
  return { from: new Date(from), to: new Date(to) };
}

/** A query schema with a range: `from` before `to`, and at most `maxSpanMs` apart. */
function withRange<Shape extends z.ZodRawShape>(
  bound: typeof utcDate | typeof isoDate,
  resolve: (query: { from?: string; to?: string }) => Range,
  maxSpanMs: number,
  limit: string,
  shape: Shape,
) {
  return z
    .object({ from: bound.optional(), to: bound.optional(), ...shape })
    .strict()
    .superRefine((query, ctx) => {
      const { from, to } = resolve(query as { from?: string; to?: string });
      if (from >= to) ctx.addIssue({ code: 'custom', path: ['from'], message: 'must be before to' });
      else if (to.getTime() - from.getTime() > maxSpanMs)
        ctx.addIssue({ code: 'custom', path: ['to'], message: `the range may span at most ${limit}` });
    });
}

const scopeFields = {
  workspaceId: uuid.optional(),
  repoId: uuid.optional(),
  bucketId: uuid.optional(),
};

export const daysQuery = <Shape extends z.ZodRawShape>(shape: Shape) =>
  withRange(utcDate, dayRange, maxDays * DAY_MS, `${maxDays} days`, shape);
const minutesQuery = <Shape extends z.ZodRawShape>(shape: Shape) =>
  withRange(isoDate, minuteRange, maxMinutes * MINUTE_MS, `${maxMinutes} minutes`, shape);

interface ScopeQuery {
  workspaceId?: string;
  repoId?: string;
  bucketId?: string;
}

/** The caller's scope: each id named must be of the caller's organization (404 otherwise). */
export async function scopeOf(tenant: TenantScope, query: ScopeQuery, range: Range): Promise<StatsScope> {
  if (query.workspaceId) await tenant.workspace(query.workspaceId);
  if (query.repoId) await tenant.findInWorkspace(Repository, 'Repository', query.repoId);
  if (query.bucketId) await tenant.findInWorkspace(Bucket, 'Bucket', query.bucketId);
  return {
    organizationId: tenant.organizationId,
    ...range,
    workspaceId: query.workspaceId,
    repositoryId: query.repoId,
    bucketId: query.bucketId,
  };
}

const noUsage = (): StorageFigures => ({ ...figuresOf(emptyTotals()), costUsd: 0 });

const dateOf = (instant: Date) => instant.toISOString().slice(0, 10);

/** One entry per window of the range, empty windows included, so charts need no gap filling. */
async function storageSeries(em: EntityManager, grain: Grain, scope: StatsScope) {
  const figures = await storageFigures(em, grain, scope, 'window_start');
  const step = grain === 'minute' ? MINUTE_MS : DAY_MS;
  const series = [];
  for (let time = scope.from.getTime(); time < scope.to.getTime(); time += step) {
    const start = new Date(time);
    const label = grain === 'minute' ? { minute: start.toISOString() } : { date: dateOf(start) };
    series.push({ ...label, ...(figures.get(start.toISOString()) ?? noUsage()) });
  }
  return series;
}

export const rangeOf = (range: Range, grain: Grain) =>
  grain === 'day'
    ? { from: dateOf(range.from), to: dateOf(new Date(range.to.getTime() - DAY_MS)) }
    : { from: range.from.toISOString(), to: range.to.toISOString() };

function repositoryStatsRoute(): AnyRoute {
  return protectedRoute({
    method: 'get',
    path: '/repo/stats',
    tag: 'stats',
    summary: 'Storage usage of each repository (or one: repoId) over a range of days, with its cost',
    access: 'VIEWER',
    query: daysQuery({ repoId: uuid.optional(), workspaceId: uuid.optional() }),
    response: { status: 200, description: 'Figures per repository' },
    async handler({ tenant, em, query }) {
      const range = dayRange(query);
      const scope = await scopeOf(tenant, query, range);
      const where = { ...(query.repoId ? { id: query.repoId } : {}), ...workspaceFilter(query) };
      const repositories = await tenant.listInWorkspaces(Repository, where, { orderBy: { name: 'asc' } });
      const figures = await storageFigures(em, 'day', scope, 'repository_id');
      return {
        body: {
          ...rangeOf(range, 'day'),
          repositories: repositories.map((repository) => ({
            repositoryId: repository.id,
            name: repository.name,
            workspaceId: repository.workspace.id,
            ...(figures.get(repository.id) ?? noUsage()),
          })),
        },
      };
    },
  });
}

const workspaceFilter = (query: { workspaceId?: string }) =>
  query.workspaceId ? { workspace: { id: query.workspaceId } } : {};

function bucketStatsRoute(): AnyRoute {
  return protectedRoute({
    method: 'get',
    path: '/bucket/stats',
    tag: 'stats',
    summary:
      'Storage usage of each bucket (or one: bucketId) over a range of days, per operation, with its cost',
    access: 'VIEWER',
    query: daysQuery({ bucketId: uuid.optional(), workspaceId: uuid.optional() }),
    response: { status: 200, description: 'Figures per bucket' },
    async handler({ tenant, em, query }) {
      const range = dayRange(query);
      const scope = await scopeOf(tenant, query, range);
      const where = { ...(query.bucketId ? { id: query.bucketId } : {}), ...workspaceFilter(query) };
      const buckets = await tenant.listInWorkspaces(Bucket, where, { orderBy: { name: 'asc' } });
      const figures = await storageFigures(em, 'day', scope, 'bucket_id');
      const operations = await requestsByOperation(em, scope);
      const bucketIds = buckets.map((bucket) => bucket.id);
      const reputations = await loadBucketReputations(em, bucketIds);
      return {
        body: {
          ...rangeOf(range, 'day'),
          buckets: buckets.map((bucket) => ({
            bucketId: bucket.id,
            name: bucket.name,
            provider: bucket.provider,
            region: bucket.region,
            workspaceId: bucket.workspace.id,
            ...(figures.get(bucket.id) ?? noUsage()),
            requestsByOperation: operations.get(bucket.id) ?? {},
            reputation: presentReputation(reputations.get(bucket.id)),
          })),
        },
      };
    },
  });
}

function storageSeriesRoute(grain: Grain): AnyRoute {
  const daily = grain === 'day';
  return protectedRoute({
    method: 'get',
    path: daily ? '/stats/daily' : '/stats/minute',
    tag: 'stats',
    summary: daily
      ? "The organization's storage usage per UTC day (optionally of one workspace, repository or bucket)"
      : "The organization's storage usage per minute (optionally of one workspace, repository or bucket)",
    access: 'VIEWER',
    query: daily ? daysQuery(scopeFields) : minutesQuery(scopeFields),
    response: { status: 200, description: daily ? 'One entry per day' : 'One entry per minute' },
    async handler({ tenant, em, query }) {
      const range = daily ? dayRange(query) : minuteRange(query);
      const scope = await scopeOf(tenant, query, range);
      const series = await storageSeries(em, grain, scope);
      return { body: { ...rangeOf(range, grain), [daily ? 'days' : 'minutes']: series } };
    },
  });
}

/**
 * Bridge nodes serve every organization: any member may see them (and
 * nothing of other tenants' buckets is in here). Figures come from the node
 * probes (JOB-5), one point per minute.
 */
function nodeStatsRoute(): AnyRoute {
  return protectedRoute({
    method: 'get',
    path: '/stats/nodes/minute',
    tag: 'stats',
    summary:
      "Each bridge node's status, probe latency and availability per minute, with their summary and the node's reputation",
    access: 'VIEWER',
    query: minutesQuery({}),
    response: { status: 200, description: 'Figures per node and minute' },
    async handler({ em, query }) {
      const range = minuteRange(query);
      return { body: { ...rangeOf(range, 'minute'), nodes: await nodeMinuteStats(em, range) } };
    },
  });
}

const dimensionNames = Object.keys(aiDimensions) as [AiDimension, ...AiDimension[]];

function aiDailyRoute(): AnyRoute {
  return protectedRoute({
    method: 'get',
    path: '/aistats/daily',
    tag: 'stats',
    summary: 'AI usage per UTC day and model, key, conversation or policy outcome (dimension)',
    access: 'VIEWER',
    query: daysQuery({
      dimension: z.enum(dimensionNames).default('model'),
      workspaceId: uuid.optional(),
      repoId: uuid.optional(),
    }),
    response: { status: 200, description: 'One entry per day and value of the dimension that had requests' },
    async handler({ tenant, em, query }) {
      const range = dayRange(query);
      const scope = await scopeOf(tenant, query, range);
      const rows = await aiDailyFigures(em, scope, query.dimension);
      return { body: { ...rangeOf(range, 'day'), dimension: query.dimension, rows } };
    },
  });
}

export function statsRoutes(): AnyRoute[] {
  return [
    repositoryStatsRoute(),
    bucketStatsRoute(),
    storageSeriesRoute('day'),
    storageSeriesRoute('minute'),
    nodeStatsRoute(),
    aiDailyRoute(),
  ];
}
