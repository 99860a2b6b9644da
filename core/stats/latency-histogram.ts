/**
 * A latency sketch that merges by adding: fixed logarithmic buckets, four per
 * doubling. Bucket 0 counts latencies of at most 1 ms; bucket i (i > 0)
 * counts those in (2^((i-1)/4), 2^(i/4)] ms; the last bucket also takes
 * everything slower. A percentile read from it is the upper bound of the
 * bucket it falls in (capped by the slowest latency seen), so it overstates
 * by at most 2^(1/4) - 1 ≈ 19 %, whatever the number of requests.
 *
 * The aggregate tables keep one such histogram per row as a `bigint[]` whose
 * element i is bucket i's count (trailing empty buckets may be left out), and
 * PostgreSQL sums them with `histogram_sum` (see the rollups' migration).
 */

export const bucketsPerDoubling = 4;

/** 2^(87/4) ms ≈ 3.5 million ms (58 min): slower requests all land in the last bucket. */
export const histogramBuckets = 88;

/** The bucket index of one latency, as SQL: the same rule as `latencyBucketOf`. */
export const latencyBucketSql = (column: string) =>
  `least(${histogramBuckets - 1}, greatest(0, ceil(${bucketsPerDoubling} * log(2, greatest(${column}, 1)::numeric) - 1e-9)))::int`;

export function latencyBucketOf(latencyMs: number): number {
  if (latencyMs <= 1) return 0;
  const index = Math.ceil(bucketsPerDoubling * Math.log2(latencyMs) - 1e-9);
  return Math.min(histogramBuckets - 1, Math.max(0, index));
}

/** The largest latency bucket `index` holds (the last one's lower edge: it has none). */
export function bucketUpperBoundMs(index: number): number {
  return 2 ** (Math.min(index, histogramBuckets - 1) / bucketsPerDoubling);
}

/** Element-wise sum: what `histogram_sum` does in SQL. */
export function addHistograms(a: readonly number[], b: readonly number[]): number[] {
  const sum = new Array<number>(Math.max(a.length, b.length)).fill(0);
  for (let i = 0; i < sum.length; i++) sum[i] = (a[i] ?? 0) + (b[i] ?? 0);
  return sum;
}

/**
 * The latency (ms) at quantile `q` (0 < q ≤ 1): the upper bound of the bucket
 * holding the ceil(q·n)-th fastest request, never above `maxMs`. Null when
 * the histogram is empty.
 */
export function latencyPercentile(histogram: readonly number[], q: number, maxMs?: number): number | null {
  const total = histogram.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let index = 0; index < histogram.length; index++) {
    seen += histogram[index] ?? 0;
    if (seen >= rank) {
      const bound = Math.round(bucketUpperBoundMs(index) * 10) / 10;
      return maxMs === undefined ? bound : Math.min(bound, maxMs);
    }
  }
  return maxMs ?? null;
}

/** A histogram as PostgreSQL's driver returns a `bigint[]` (strings) or as stored: numbers. */
export function histogramFromDatabase(value: readonly (string | number | null)[] | null): number[] {
  return (value ?? []).map((count) => Number(count ?? 0));
}
