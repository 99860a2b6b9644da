/**
 * OBS-3 on the S3 port: requests of a repository or key with a budget are
 * admitted while the budget lasts (403 `QUOTA_EXCEEDED` after, as for a
 * bucket cap: a used-up budget is not cured by retrying), charged the bucket
 * provider's price per operation on admission and its egress price for the
 * bytes sent out when they end. Deletes and aborts stay allowed: they free
 * storage and cost nothing at the providers.
 */
import { type ActiveBudget, BudgetExceeded, type SpendingDependencies } from '../../core/credits/budgets.ts';
import type { Bucket } from '../../core/db/entities/index.ts';
import type { ResolvedStorageKey } from '../../core/keys/storage-key-resolver.ts';
import { S3Error } from './errors.ts';

const freeOperations = new Set(['DeleteObject', 'DeleteObjects', 'AbortMultipartUpload']);

export type PricedBucket = Pick<Bucket, 'provider' | 'region'>;

export class S3Spending {
  readonly #deps: SpendingDependencies;

  constructor(deps: SpendingDependencies) {
    this.#deps = deps;
  }

  /**
   * The budgets the request is charged to, each charged the operation's price already; throws
   * `QUOTA_EXCEEDED` when one is used up.
   */
  async admit(
    key: ResolvedStorageKey,
    operation: string,
    bucket: PricedBucket | undefined,
  ): Promise<ActiveBudget[]> {
    if (freeOperations.has(operation)) return [];
    // Priced only for keys and repositories with a budget: the others cost no lookup at all.
    const operationUsd = async () => ((await this.#priceOf(key, bucket))?.operationsPer1000 ?? 0) / 1000;
    try {
      return await this.#deps.guard.admit([key.keyId, key.repositoryId], operationUsd);
    } catch (error) {
      if (error instanceof BudgetExceeded) throw new S3Error('QUOTA_EXCEEDED', error.message);
      throw error;
    }
  }

  /** Off the response path: charges the egress of the finished request. */
  charge(
    key: ResolvedStorageKey,
    budgets: readonly ActiveBudget[],
    bucket: PricedBucket | undefined,
    bytesOut: number,
  ): void {
    if (budgets.length === 0 || bytesOut === 0) return;
    this.#priceOf(key, bucket)
      .then((price) => this.#deps.guard.charge(budgets, (bytesOut / 1e9) * (price?.egressPerGb ?? 0)))
      .catch((error: unknown) =>
        this.#deps.log.error({ err: error }, 'could not charge an S3 request to its budgets'),
      );
  }

  async #priceOf(key: ResolvedStorageKey, bucket: PricedBucket | undefined) {
    if (!bucket) return undefined;
    return (await this.#deps.prices.pricesOf(key.organizationId)).storage.priceFor(
      bucket.provider,
      bucket.region,
    );
  }
}
