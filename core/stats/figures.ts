/**
 * Reading the aggregate tables back: the measures every table has, summed
 * over a scope (organization, time range, optional workspace, repository,
 * bucket) and grouped by some of its dimensions, then turned into the
 * figures the stats endpoints answer with.
 */
import type { EntityManager } from '../db/orm.ts';
import { addHistograms, histogramFromDatabase, latencyPercentile } from './latency-histogram.ts';

export interface StatsScope {
  organizationId: string;
  /** Window starts in [from, to). */
  from: Date;
  to: Date;
  workspaceId?: string;
  repositoryId?: string;
  bucketId?: string;
}

export interface Totals {
  requests: number;
  errors: number;
  serverErrors: number;
  bytesIn: number;
  bytesOut: number;
  latencySumMs: number;
  latencyMaxMs: number;
  histogram: number[];
}

/** What the endpoints show of some totals. */
export interface Figures {
  requests: number;
  errors: number;
  serverErrors: number;
  bytesIn: number;
  bytesOut: number;
  avgLatencyMs: number | null;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
}

type Row = Record<string, unknown>;

const measuresSql = `sum(requests) as requests, sum(errors) as errors, sum(server_errors) as server_errors,
  sum(bytes_in) as bytes_in, sum(bytes_out) as bytes_out, sum(latency_sum_ms) as latency_sum_ms,
  max(latency_max_ms) as latency_max_ms, histogram_sum(latency_histogram) as latency_histogram`;

const scopeColumns = {
  workspaceId: 'workspace_id',
  repositoryId: 'repository_id',
  bucketId: 'bucket_id',
} as const;

/**
 * Rows of `table` in the scope, summed per distinct value of `groupBy`
 * (columns of the table), with `extraMeasures` (SQL aggregates) beside the
 * common ones.
 */
export async function sumAggregates(
  em: EntityManager,
  table: string,
  scope: StatsScope,
  groupBy: readonly string[],
  extraMeasures = '',
): Promise<Row[]> {
  const conditions = ['organization_id = ?', 'window_start >= ?', 'window_start < ?'];
  const params: unknown[] = [scope.organizationId, scope.from, scope.to];
  for (const [field, column] of Object.entries(scopeColumns)) {
    const value = scope[field as keyof typeof scopeColumns];
    if (value === undefined) continue;
    conditions.push(`${column} = ?`);
    params.push(value);
  }
  const measures = extraMeasures ? `${measuresSql}, ${extraMeasures}` : measuresSql;
  return em.execute<Row[]>(
    `select ${groupBy.join(', ')}, ${measures} from ${table}
     where ${conditions.join(' and ')} group by ${groupBy.join(', ')}`,
    params,
  );
}

export const emptyTotals = (): Totals => ({
  requests: 0,
  errors: 0,
  serverErrors: 0,
  bytesIn: 0,
  bytesOut: 0,
  latencySumMs: 0,
  latencyMaxMs: 0,
  histogram: [],
});

export function totalsOf(row: Row): Totals {
  return {
    requests: Number(row.requests ?? 0),
    errors: Number(row.errors ?? 0),
    serverErrors: Number(row.server_errors ?? 0),
    bytesIn: Number(row.bytes_in ?? 0),
    bytesOut: Number(row.bytes_out ?? 0),
    latencySumMs: Number(row.latency_sum_ms ?? 0),
    latencyMaxMs: Number(row.latency_max_ms ?? 0),
    histogram: histogramFromDatabase(row.latency_histogram as string[] | null),
  };
}

export function addTotals(a: Totals, b: Totals): Totals {
  return {
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    serverErrors: a.serverErrors + b.serverErrors,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
    latencySumMs: a.latencySumMs + b.latencySumMs,
    latencyMaxMs: Math.max(a.latencyMaxMs, b.latencyMaxMs),
    histogram: addHistograms(a.histogram, b.histogram),
  };
}

const oneDecimal = (value: number) => Math.round(value * 10) / 10;

export function figuresOf(totals: Totals): Figures {
  const { requests, errors, serverErrors, bytesIn, bytesOut } = totals;
  return {
    requests,
    errors,
    serverErrors,
    bytesIn,
    bytesOut,
    avgLatencyMs: requests ? oneDecimal(totals.latencySumMs / requests) : null,
    p50LatencyMs: latencyPercentile(totals.histogram, 0.5, totals.latencyMaxMs),
    p95LatencyMs: latencyPercentile(totals.histogram, 0.95, totals.latencyMaxMs),
  };
}

/** A dimension's value as a map key; absent values as ''. */
export function keyOf(value: unknown): string {
  return value == null ? '' : String(value);
}

/** A `window_start` as an ISO instant (raw queries return PostgreSQL's timestamp text). */
export function windowKeyOf(value: unknown): string {
  return new Date(value as string).toISOString();
}
