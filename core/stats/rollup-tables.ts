/**
 * The SQL that turns raw `usage_events` into the minute tables and minute rows
 * into the day tables. Storage and AI share the shape: dimensions to group by,
 * and measures that merge by adding (except the slowest latency, which merges
 * by max, and the latency histogram, by `histogram_sum`). Every statement
 * rebuilds one whole window, so running it twice gives the same rows.
 */
import { latencyBucketSql } from './latency-histogram.ts';

export interface RollupTables {
  api: 'S3' | 'OPENAI';
  minuteTable: string;
  dayTable: string;
  /** Columns of the aggregate tables, each with its expression over a raw event `e` (and its repository `r`). */
  dimensions: Record<string, string>;
  /** Measures of the aggregate tables, each with its aggregate over raw events. */
  measures: Record<string, string>;
}

const commonDimensions = {
  organization_id: 'e.organization_id',
  workspace_id: 'r.workspace_id',
  repository_id: 'e.repository_id',
  key_id: 'e.key_id',
  operation: 'e.operation',
};

const commonMeasures = {
  requests: 'count(*)',
  errors: 'count(*) filter (where e.status >= 400)',
  server_errors: 'count(*) filter (where e.status >= 500)',
  bytes_in: 'sum(e.bytes_in)',
  bytes_out: 'sum(e.bytes_out)',
  latency_sum_ms: 'sum(e.latency_ms)',
  latency_max_ms: 'max(e.latency_ms)',
};

export const storageRollup: RollupTables = {
  api: 'S3',
  minuteTable: 'storage_usage_minutes',
  dayTable: 'storage_usage_days',
  dimensions: { ...commonDimensions, bucket_id: 'e.bucket_id' },
  measures: commonMeasures,
};

export const aiRollup: RollupTables = {
  api: 'OPENAI',
  minuteTable: 'ai_usage_minutes',
  dayTable: 'ai_usage_days',
  dimensions: {
    ...commonDimensions,
    model: 'e.model',
    provider: 'e.provider',
    ai_config_id: 'e.ai_config_id',
    conversation_id: 'e.conversation_id',
    policy_outcome: 'e.policy_outcome',
  },
  measures: {
    ...commonMeasures,
    tokens_in: 'coalesce(sum(e.tokens_in), 0)',
    tokens_out: 'coalesce(sum(e.tokens_out), 0)',
    time_to_first_token_sum_ms: 'coalesce(sum(e.time_to_first_token_ms), 0)',
    time_to_first_token_count: 'count(e.time_to_first_token_ms)',
  },
};

const merged = (column: string) => (column === 'latency_max_ms' ? `max(${column})` : `sum(${column})`);

/** Deletes one window's rows of `table`; parameter: the window's start. */
export const deleteWindowSql = (table: string) => `delete from ${table} where window_start = ?`;

/**
 * Rebuilds one minute from raw events. Parameters: the window start (the
 * rows' `window_start`), then the window's bounds [start, end).
 */
export function minuteFromRawSql(tables: RollupTables): string {
  const dimensions = Object.keys(tables.dimensions);
  const measures = Object.keys(tables.measures);
  const byBucket = `select ${Object.entries(tables.dimensions)
    .map(([column, expression]) => `${expression} as ${column}`)
    .join(', ')}, ${latencyBucketSql('e.latency_ms')} as latency_bucket, ${Object.entries(tables.measures)
    .map(([column, aggregate]) => `${aggregate} as ${column}`)
    .join(', ')}
    from usage_events e left join repositories r on r.id = e.repository_id
    where e.api = '${tables.api}' and e.occurred_at >= ? and e.occurred_at < ?
    group by ${[...dimensions.map((_, i) => i + 1), dimensions.length + 1].join(', ')}`;
  return `insert into ${tables.minuteTable} (window_start, ${[...dimensions, ...measures].join(', ')}, latency_histogram)
    select ?::timestamptz, ${dimensions.join(', ')}, ${measures.map(merged).join(', ')},
      histogram_sum(array_fill(0::bigint, array[latency_bucket]) || requests::bigint)
    from (${byBucket}) as g
    group by ${dimensions.join(', ')}`;
}

/**
 * Rebuilds one day from its minute rows. Parameters: the day's start (the
 * rows' `window_start`), then the day's bounds [start, end).
 */
export function dayFromMinutesSql(tables: RollupTables): string {
  const dimensions = Object.keys(tables.dimensions);
  const measures = Object.keys(tables.measures);
  return `insert into ${tables.dayTable} (window_start, ${[...dimensions, ...measures].join(', ')}, latency_histogram)
    select ?::timestamptz, ${dimensions.join(', ')}, ${measures.map(merged).join(', ')},
      histogram_sum(latency_histogram)
    from ${tables.minuteTable}
    where window_start >= ? and window_start < ?
    group by ${dimensions.join(', ')}`;
}
