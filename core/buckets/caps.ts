/**
 * The caps an operator sets on a bucket, as the S3 bridge (and, for the
 * storage cap, migrations writing into the bucket) enforce them:
 *
 * - `requestsPerMinuteCap`: requests to the bucket in the last minute, per
 *   bridge process (a sliding window). Over it: 503 `SlowDown`, S3's own
 *   answer to "too many requests", which every S3 client retries with
 *   backoff. Per process on purpose: counting in PostgreSQL would put a
 *   database round trip on every request; with N bridges the effective cap
 *   is up to N times the setting.
 * - `egressCapBytesPerDay`: bytes sent to clients from the bucket since
 *   00:00 UTC, from the metered usage (re-read every few seconds) plus what
 *   this process sent since. Once reached, reads answer 403
 *   `QUOTA_EXCEEDED` (the seeds' code: a quota is not cured by retrying, so
 *   clients must not back off and retry as they would on SlowDown). The read
 *   that crosses the cap completes.
 * - `storageCapBytes`: the bucket's size, measured by listing it in the
 *   background (at most every few minutes) plus what this process wrote
 *   since; a write whose declared size would pass the cap answers 403
 *   `QUOTA_EXCEEDED`. Between two measurements overwrites and deletes are
 *   not subtracted, so the estimate errs on the side of the cap.
 *
 * Buckets without caps cost nothing here.
 */
import type { ObjectStore } from '../../providers/storage/object-store.ts';
import { StorageError } from '../../providers/storage/object-store.ts';
import { type Bucket, UsageEvent } from '../db/entities/index.ts';
import type { EntityManager } from '../db/orm.ts';

/** Which byte cap an operation counts against: reads that send objects out, writes that store bytes. */
export type CappedBy = 'egress' | 'storage';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export interface BucketCapsOptions {
  em: EntityManager;
  /** How often the day's egress is re-read from the metered usage. */
  egressRefreshMs?: number;
  /** How often a capped bucket's size is measured again. */
  sizeRefreshMs?: number;
  now?: () => number;
}

/** A measurement that is refreshed in the background, plus what happened locally since it started. */
interface Tally {
  measured: number;
  local: number;
  measuredAt: number;
  refreshing?: Promise<void>;
}

/** A cap of Skybridge's own, not the backend's: its message says which, and callers show it as is. */
export class BucketCapExceeded extends StorageError {
  constructor(code: 'QuotaExceeded' | 'Throttled', message: string) {
    super(code, message);
    this.name = 'BucketCapExceeded';
  }
}

/** A bucket and the store that reaches it. */
export interface CappedBucket {
  bucket: Pick<Bucket, 'id' | 'storageCapBytes' | 'egressCapBytesPerDay' | 'requestsPerMinuteCap'>;
  store: ObjectStore;
}

export class BucketCaps {
  readonly #em: EntityManager;
  readonly #egressRefreshMs: number;
  readonly #sizeRefreshMs: number;
  readonly #now: () => number;
  readonly #requests = new Map<string, number[]>();
  readonly #egress = new Map<string, Tally & { day: number }>();
  readonly #stored = new Map<string, Tally>();

  constructor(options: BucketCapsOptions) {
    this.#em = options.em;
    this.#egressRefreshMs = options.egressRefreshMs ?? 5_000;
    this.#sizeRefreshMs = options.sizeRefreshMs ?? 300_000;
    this.#now = options.now ?? Date.now;
  }

  /** Throws `BucketCapExceeded` for the first cap the request would break. */
  async admit(served: CappedBucket, counts: CappedBy | undefined, incomingBytes: number): Promise<void> {
    const { bucket } = served;
    if (bucket.requestsPerMinuteCap != null) this.#countRequest(bucket.id, bucket.requestsPerMinuteCap);
    if (counts === 'egress' && bucket.egressCapBytesPerDay != null) {
      if ((await this.#egressToday(bucket.id)) >= bucket.egressCapBytesPerDay)
        throw new BucketCapExceeded('QuotaExceeded', 'The bucket has reached its egress cap for today (UTC)');
    }
    if (counts === 'storage') await this.assertRoomFor(served, incomingBytes);
  }

  /** Throws `BucketCapExceeded` when `incomingBytes` more would pass the bucket's storage cap. */
  async assertRoomFor(served: CappedBucket, incomingBytes: number): Promise<void> {
    const { bucket, store } = served;
    if (bucket.storageCapBytes == null) return;
    if ((await this.#storedBytes(bucket.id, store)) + incomingBytes > bucket.storageCapBytes)
      throw new BucketCapExceeded('QuotaExceeded', 'The bucket has reached its storage cap');
  }

  /** What a finished request moved, for the caps that count bytes. */
  recordTransfer(bucketId: string, counts: CappedBy | undefined, bytesIn: number, bytesOut: number): void {
    const egress = this.#egress.get(bucketId);
    if (egress) egress.local += bytesOut;
    const stored = this.#stored.get(bucketId);
    if (stored && counts === 'storage') stored.local += bytesIn;
  }

  #countRequest(bucketId: string, cap: number): void {
    const now = this.#now();
    const recent = (this.#requests.get(bucketId) ?? []).filter((at) => at > now - MINUTE_MS);
    if (recent.length >= cap) {
      this.#requests.set(bucketId, recent);
      throw new BucketCapExceeded('Throttled', 'Please reduce your request rate.');
    }
    recent.push(now);
    this.#requests.set(bucketId, recent);
  }

  async #egressToday(bucketId: string): Promise<number> {
    const day = Math.floor(this.#now() / DAY_MS);
    let tally = this.#egress.get(bucketId);
    if (!tally || tally.day !== day) {
      tally = { day, measured: 0, local: 0, measuredAt: 0 };
      this.#egress.set(bucketId, tally);
    }
    await this.#refresh(tally, this.#egressRefreshMs, () => this.#meteredEgress(bucketId, day));
    return tally.measured + tally.local;
  }

  async #storedBytes(bucketId: string, store: ObjectStore): Promise<number> {
    let tally = this.#stored.get(bucketId);
    if (!tally) {
      tally = { measured: 0, local: 0, measuredAt: 0 };
      this.#stored.set(bucketId, tally);
    }
    await this.#refresh(tally, this.#sizeRefreshMs, () => sizeOf(store));
    return tally.measured + tally.local;
  }

  /**
   * The first measurement is waited for; later ones run in the background
   * while the previous figure keeps answering.
   */
  async #refresh(tally: Tally, maxAgeMs: number, measure: () => Promise<number>): Promise<void> {
    const stale = this.#now() - tally.measuredAt >= maxAgeMs;
    if (stale && !tally.refreshing) {
      const localBefore = tally.local;
      tally.refreshing = measure()
        .then((value) => {
          tally.measured = value;
          tally.local -= localBefore;
          tally.measuredAt = this.#now();
        })
        // Without a figure the cap is not enforced rather than every request failed; the next request tries again.
        .catch(() => {})
        .finally(() => {
          tally.refreshing = undefined;
        });
    }
    if (tally.measuredAt === 0 && tally.refreshing) await tally.refreshing;
  }

  async #meteredEgress(bucketId: string, day: number): Promise<number> {
    const [row] = await this.#em
      .fork()
      .createQueryBuilder(UsageEvent)
      .select('coalesce(sum(bytes_out), 0) as total')
      .where({ bucketId, api: 'S3', occurredAt: { $gte: new Date(day * DAY_MS) } })
      .execute<{ total: string }[]>();
    return Number(row?.total ?? 0);
  }
}

/** Bytes stored in the bucket: every page of a full listing. */
async function sizeOf(store: ObjectStore): Promise<number> {
  let total = 0;
  let continuationToken: string | undefined;
  do {
    const page = await store.list({ continuationToken, maxKeys: 1000 });
    for (const object of page.objects) total += object.size;
    continuationToken = page.nextContinuationToken;
  } while (continuationToken);
  return total;
}
