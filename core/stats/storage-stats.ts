/**
 * Storage figures from the storage aggregate tables, with what they cost at
 * the organization's egress and operation prices (its price table over the
 * example defaults) of each bucket's provider and region (storage at rest is
 * not usage, so not in here).
 */
import { Bucket } from '../db/entities/index.ts';
import type { EntityManager } from '../db/orm.ts';
import { loadOrganizationPrices } from '../pricing/organization-prices.ts';
import {
  addTotals,
  emptyTotals,
  type Figures,
  figuresOf,
  keyOf,
  type StatsScope,
  sumAggregates,
  type Totals,
  totalsOf,
  windowKeyOf,
} from './figures.ts';

export type Grain = 'minute' | 'day';

export interface StorageFigures extends Figures {
  /** Egress and operations at the price table's (example) prices; 0 for requests that named no bucket. */
  costUsd: number;
}

const storageTable = (grain: Grain) => (grain === 'minute' ? 'storage_usage_minutes' : 'storage_usage_days');

/** The scope's storage figures per distinct value of `groupBy` (a column: `repository_id`, `bucket_id`, `window_start`). */
export async function storageFigures(
  em: EntityManager,
  grain: Grain,
  scope: StatsScope,
  groupBy: string,
): Promise<Map<string, StorageFigures>> {
  const columns = groupBy === 'bucket_id' ? ['bucket_id'] : [groupBy, 'bucket_id'];
  const rows = await sumAggregates(em, storageTable(grain), scope, columns);
  const prices = await bucketPrices(
    em,
    scope.organizationId,
    rows.map((row) => keyOf(row.bucket_id)),
  );
  const groups = new Map<string, { totals: Totals; costUsd: number }>();
  for (const row of rows) {
    const key = groupBy === 'window_start' ? windowKeyOf(row.window_start) : keyOf(row[groupBy]);
    const totals = totalsOf(row);
    const group = groups.get(key) ?? { totals: emptyTotals(), costUsd: 0 };
    group.totals = addTotals(group.totals, totals);
    group.costUsd += prices.get(keyOf(row.bucket_id))?.(totals) ?? 0;
    groups.set(key, group);
  }
  return new Map(
    [...groups].map(([key, group]) => [
      key,
      { ...figuresOf(group.totals), costUsd: Math.round(group.costUsd * 1e6) / 1e6 },
    ]),
  );
}

/** Requests per operation of each bucket in the scope: bucket id → operation → requests. */
export async function requestsByOperation(em: EntityManager, scope: StatsScope) {
  const rows = await sumAggregates(em, storageTable('day'), scope, ['bucket_id', 'operation']);
  const byBucket = new Map<string, Record<string, number>>();
  for (const row of rows) {
    const operations = byBucket.get(keyOf(row.bucket_id)) ?? {};
    operations[keyOf(row.operation)] = Number(row.requests);
    byBucket.set(keyOf(row.bucket_id), operations);
  }
  return byBucket;
}

type CostOf = (totals: Totals) => number;

async function bucketPrices(
  em: EntityManager,
  organizationId: string,
  bucketIds: string[],
): Promise<Map<string, CostOf>> {
  const ids = [...new Set(bucketIds.filter(Boolean))];
  if (ids.length === 0) return new Map();
  const buckets = await em.find(Bucket, { id: { $in: ids } }, { fields: ['provider', 'region'] });
  const book = (await loadOrganizationPrices(em, organizationId)).storage;
  return new Map(
    buckets.map((bucket) => {
      const price = book.priceFor(bucket.provider, bucket.region);
      const cost: CostOf = (totals) =>
        (totals.bytesOut / 1e9) * price.egressPerGb + (totals.requests / 1000) * price.operationsPer1000;
      return [bucket.id, cost];
    }),
  );
}
