/**
 * JOB-2's I/O: listing both buckets into the manifest (migration_items),
 * copying and deleting what it says, in batches that heartbeat and resume.
 *
 * What counts as identical (the plan's `skip`):
 * - both sides speak S3 (provider S3 or S3_COMPATIBLE) and give ETags: equal
 *   ETags are identical; two plain-MD5 ETags (no `-`, i.e. not multipart)
 *   that differ are different;
 * - otherwise (other providers' ETags are opaque version tags, and multipart
 *   ETags depend on the part size): equal sizes, and a destination not older
 *   than the source, are identical.
 * A destination that differs and is newer than the source is a `conflict`:
 * someone wrote it after the source last changed, so it is left untouched
 * and reported, in every mode.
 */
import { createHash } from 'node:crypto';
import { pipeline, type Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, activityInfo, heartbeat } from '@temporalio/activity';
import { BucketCaps } from '../core/buckets/caps.ts';
import { bucketConnection } from '../core/buckets/credentials.ts';
import { Bucket, MigrationItem, type MigrationItemAction } from '../core/db/entities/index.ts';
import type { EntityManager } from '../core/db/orm.ts';
import { relayCollector } from '../core/metering/relay-collector.ts';
import { createPriceBook, type PriceBook } from '../core/pricing/prices.ts';
import { createObjectStore } from '../providers/storage/index.ts';
import {
  type ObjectInfo,
  type ObjectStore,
  type PutResult,
  reservedKeyPrefix,
  StorageError,
} from '../providers/storage/object-store.ts';
import {
  type MigrationBackoffDetails,
  type MigrationBatchResult,
  type MigrationCostEstimate,
  type MigrationCounts,
  type MigrationInput,
  type MigrationPlanBatchResult,
  type MigrationPlanCursor,
  type MigrationSummary,
  migrationBackoffFailure,
  migrationDefaults,
} from '../workflows/definitions.ts';
import type { BucketActivityDependencies } from './buckets.ts';
import { asActivityFailure } from './buckets.ts';

/** Listing pages per plan batch, and keys per page. */
const PAGES_PER_PLAN_BATCH = 5;
const LIST_PAGE_SIZE = 1000;
/** A claim older than this is taken to belong to a dead activity. */
const CLAIM_LEASE_SECONDS = 300;
/** How often a batch heartbeats while it works (the workflow's heartbeat timeout is a few times this). */
const KEEPALIVE_MS = 3_000;
/**
 * A batch's heartbeats are recorded at most this often. Temporal sends the latest one to the
 * server only every few seconds anyway, and each costs an encoding and a call into its native
 * core: 5-7 % of the worker's CPU when every copied object (and every streamed chunk) beat.
 */
const HEARTBEAT_MIN_INTERVAL_MS = 1_000;
/** Done items written to the manifest at once. */
const DONE_FLUSH_SIZE = 32;
/** Copies of one object tried before it counts as failed. */
const MAX_ATTEMPTS = 3;

/** Bucket validation's probe objects (activities/buckets.ts): Skybridge's own, short-lived, never migrated. */
const PROBE_PREFIX = '.skybridge-probe/';

/** Errors no retry of one object fixes, but waiting (or an operator) might: the workflow backs off, then pauses. */
const backoffCodes = new Set(['Throttled', 'QuotaExceeded', 'AccessDenied', 'InvalidCredentials']);

type Side = 'source' | 'destination';

/** A bucket as it is now in the database (an operator may have just raised its cap) and a store on it. */
interface OpenedBucket {
  bucket: Bucket;
  store: ObjectStore;
}

interface ClaimedItem {
  id: string;
  key: string;
  size: number;
  /** As listed when the job planned. */
  sourceEtag: string | null;
  action: MigrationItemAction;
  attempts: number;
}

/** A storage failure and the side that raised it. */
class SideFailure extends Error {
  readonly side: Side;
  readonly error: unknown;
  constructor(side: Side, error: unknown) {
    super(`${side}: ${error instanceof Error ? error.message : String(error)}`);
    this.side = side;
    this.error = error;
  }
  get code(): string | undefined {
    return this.error instanceof StorageError ? this.error.code : undefined;
  }
}

async function onSide<T>(side: Side, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw error instanceof SideFailure ? error : new SideFailure(side, error);
  }
}

export function migrationActivities(deps: BucketActivityDependencies & { priceBook?: PriceBook }) {
  const prices = deps.priceBook ?? createPriceBook();
  // The destination's storage cap holds for migrations too (its size measured now and then, as the bridge does).
  const caps = new BucketCaps({ em: deps.em });
  const openBucket = async (bucketId: string): Promise<OpenedBucket> => {
    const bucket = await deps.em.fork().findOneOrFail(Bucket, bucketId, { populate: ['credentials'] });
    try {
      return {
        bucket,
        store: await createObjectStore(bucketConnection(deps.keyring, bucket), deps.storageClientOptions),
      };
    } catch (error) {
      throw asActivityFailure(error);
    }
  };
  const openBoth = async (input: MigrationInput) => ({
    source: await openBucket(input.sourceBucketId),
    destination: await openBucket(input.destinationBucketId),
  });
  /** The manifest's totals; `methods` predicts how the items to copy are (or would be) copied. */
  const summarize = async (
    jobId: string,
    { source, destination }: { source: OpenedBucket; destination: OpenedBucket },
  ): Promise<MigrationSummary> => {
    const summary = await manifestTotals(deps.em.fork(), jobId);
    const { objects } = summary.copy;
    summary.methods = copiesNatively(source.store, destination.store)
      ? { native: objects, streamed: 0 }
      : { native: 0, streamed: objects };
    summary.estimate = estimateCost(prices, source, destination, summary);
    return summary;
  };
  /** A copy or delete batch's result, with the totals when it left nothing pending. */
  const withSummaryWhenDone = async (
    jobId: string,
    batch: MigrationBatchResult,
    buckets: { source: OpenedBucket; destination: OpenedBucket },
  ): Promise<MigrationBatchResult> =>
    batch.remaining > 0 ? batch : { ...batch, summary: await summarize(jobId, buckets) };

  return {
    /**
     * Lists up to a few pages (all of the source first, then the
     * destination) into the manifest and returns where to go on. Each page
     * is written before the heartbeat that records the cursor past it, so a
     * retry resumes from the last heartbeat and rewrites nothing wrongly.
     */
    async planMigrationBatch(
      jobId: string,
      input: MigrationInput,
      cursor: MigrationPlanCursor,
    ): Promise<MigrationPlanBatchResult> {
      const buckets = await openBoth(input);
      const stores = { source: buckets.source.store, destination: buckets.destination.store };
      const resumed = activityInfo().heartbeatDetails as
        | { cursor: MigrationPlanCursor | null; listed: MigrationPlanBatchResult['listed'] }
        | undefined;
      let next: MigrationPlanCursor | null = resumed ? resumed.cursor : cursor;
      const listed = resumed?.listed ?? { source: 0, destination: 0 };
      const accepts = keyFilter(input.include, input.exclude);
      for (let page = 0; page < PAGES_PER_PLAN_BATCH && next; page++) {
        const side: MigrationPlanCursor['side'] = next.side;
        const store = side === 'source' ? stores.source : stores.destination;
        const prefix = side === 'source' ? input.sourcePrefix : input.destinationPrefix;
        const listing = await store
          .list({ prefix: prefix || undefined, continuationToken: next.token, maxKeys: LIST_PAGE_SIZE })
          .catch((error: unknown) => {
            throw planFailure(new SideFailure(side, error));
          });
        const objects = listing.objects
          .filter((object) => object.key.startsWith(prefix) && !isSkybridgeObject(object.key))
          .map((object) => ({ ...object, key: object.key.slice(prefix.length) }))
          .filter((object) => accepts(object.key));
        const em = deps.em.fork();
        if (side === 'source') await recordSourcePage(em, jobId, objects);
        else await recordDestinationPage(em, jobId, input, stores, objects);
        listed[side] += objects.length;
        next = listing.nextContinuationToken
          ? { side, token: listing.nextContinuationToken }
          : side === 'source'
            ? { side: 'destination' }
            : null;
        heartbeat({ cursor: next, listed });
      }
      return next ? { next, listed } : { next, listed, summary: await summarize(jobId, buckets) };
    },

    /** Copies a batch, each object verified before it counts; for move, each source is then deleted. */
    async copyMigrationBatch(
      jobId: string,
      input: MigrationInput,
      limit: number,
    ): Promise<MigrationBatchResult> {
      const { source, destination } = await openBoth(input);
      const limiter = input.bytesPerSecond ? new ByteRateLimiter(input.bytesPerSecond) : undefined;
      const copier = new ObjectCopier(source.store, destination.store, input, limiter);
      const batch = await runBatch(
        deps.em.fork(),
        jobId,
        ['copy', 'skip'],
        limit,
        input,
        async (item, result, beat) => {
          if (item.action === 'copy')
            await onSide('destination', () => caps.assertRoomFor(destination, item.size));
          const outcome = await copier.migrate(item, beat);
          caps.recordTransfer(destination.bucket.id, 'storage', outcome.bytes, 0);
          if (outcome.method) {
            add(result.done, outcome.bytes);
            result[outcome.method]++;
          }
          if (outcome.sourceDeleted) result.sourcesDeleted++;
          return outcome.method ?? null;
        },
      );
      return withSummaryWhenDone(jobId, batch, { source, destination });
    },

    /** sync: deletes up to `limit` destination objects the source lacks. */
    async deleteMigrationBatch(
      jobId: string,
      input: MigrationInput,
      limit: number,
    ): Promise<MigrationBatchResult> {
      const buckets = await openBoth(input);
      const batch = await runBatch(deps.em.fork(), jobId, ['delete'], limit, input, async (item, result) => {
        await onSide('destination', () =>
          buckets.destination.store.delete(input.destinationPrefix + item.key),
        );
        result.deleted++;
        return null;
      });
      return withSummaryWhenDone(jobId, batch, buckets);
    },

    /** The manifest's totals (workflow histories from before the batches returned them call this). */
    async summarizeMigration(jobId: string, input: MigrationInput): Promise<MigrationSummary> {
      return summarize(jobId, await openBoth(input));
    },
  };
}

/** The manifest's counts by action and state; `methods` and `estimate` are left to the caller. */
async function manifestTotals(em: EntityManager, jobId: string): Promise<MigrationSummary> {
  const rows = await em.getConnection().execute<
    {
      action: string;
      state: string;
      method: string | null;
      objects: number;
      bytes: string;
      retried: number;
    }[]
  >(
    `select action, state, method, count(*)::int as objects, coalesce(sum(size), 0)::text as bytes,
       count(*) filter (where attempts > 1)::int as retried
     from migration_items where job_id = ? group by action, state, method`,
    [jobId],
  );
  const summary: MigrationSummary = {
    copy: zero(),
    skip: zero(),
    conflict: zero(),
    delete: zero(),
    methods: { native: 0, streamed: 0 },
    done: zero(),
    failed: zero(),
    pending: zero(),
    deleted: 0,
    methodsDone: { native: 0, streamed: 0 },
    retried: 0,
  };
  for (const row of rows) {
    const counts = { objects: row.objects, bytes: Number(row.bytes) };
    const action = row.action as MigrationItemAction;
    addCounts(summary[action], counts);
    if (row.state === 'failed') addCounts(summary.failed, counts);
    if (row.state === 'pending') addCounts(summary.pending, counts);
    if (row.state !== 'done') continue;
    if (action === 'copy') {
      addCounts(summary.done, counts);
      summary.retried += row.retried;
    }
    if (action === 'delete') summary.deleted += counts.objects;
    if (action === 'copy' && (row.method === 'native' || row.method === 'streamed'))
      summary.methodsDone[row.method] += counts.objects;
  }
  return summary;
}

/** Source keys enter as provisional copies; the destination pass decides. */
async function recordSourcePage(em: EntityManager, jobId: string, objects: ObjectInfo[]): Promise<void> {
  if (objects.length === 0) return;
  await em
    .createQueryBuilder(MigrationItem)
    .insert(
      objects.map((object) => ({
        jobId,
        key: object.key,
        size: object.size,
        sourceEtag: object.etag?.slice(0, 100) ?? null,
        sourceModifiedAt: object.lastModified ?? null,
        action: 'copy' as const,
        state: 'pending' as const,
        attempts: 0,
      })),
    )
    .onConflict(['jobId', 'key'])
    .ignore()
    .execute();
}

/** Compares each destination object with its source item; sync adds the ones the source lacks as deletes. */
async function recordDestinationPage(
  em: EntityManager,
  jobId: string,
  input: MigrationInput,
  stores: { source: ObjectStore; destination: ObjectStore },
  objects: ObjectInfo[],
): Promise<void> {
  if (objects.length === 0) return;
  const known = await em.find(MigrationItem, { jobId, key: { $in: objects.map((object) => object.key) } });
  const byKey = new Map(known.map((item) => [item.key, item]));
  const decided = new Map<string, string[]>();
  const orphans: ObjectInfo[] = [];
  const etagsComparable = speaksS3(stores.source) && speaksS3(stores.destination);
  for (const object of objects) {
    const item = byKey.get(object.key);
    if (!item) {
      orphans.push(object);
      continue;
    }
    if (item.action === 'delete') continue;
    const action = compareObjects(
      {
        size: item.size,
        etag: item.sourceEtag ?? undefined,
        lastModified: item.sourceModifiedAt ?? undefined,
      },
      object,
      etagsComparable,
    );
    // For move, identical objects still wait for their source to be deleted.
    const state = action === 'copy' || (action === 'skip' && input.mode === 'move') ? 'pending' : 'done';
    const group = `${action}:${state}`;
    decided.set(group, [...(decided.get(group) ?? []), object.key]);
  }
  for (const [group, keys] of decided) {
    const [action, state] = group.split(':') as [MigrationItemAction, 'pending' | 'done'];
    await em.nativeUpdate(MigrationItem, { jobId, key: { $in: keys } }, { action, state });
  }
  if (input.mode !== 'sync' || orphans.length === 0) return;
  await em
    .createQueryBuilder(MigrationItem)
    .insert(
      orphans.map((object) => ({
        jobId,
        key: object.key,
        size: object.size,
        action: 'delete' as const,
        state: 'pending' as const,
        attempts: 0,
      })),
    )
    .onConflict(['jobId', 'key'])
    .ignore()
    .execute();
}

interface Compared {
  size: number;
  etag?: string;
  lastModified?: Date;
}

/** The rule in this file's header. */
export function compareObjects(
  source: Compared,
  destination: Compared,
  etagsComparable: boolean,
): 'copy' | 'skip' | 'conflict' {
  const destinationNewer =
    source.lastModified !== undefined &&
    destination.lastModified !== undefined &&
    destination.lastModified.getTime() > source.lastModified.getTime();
  const differing = destinationNewer ? 'conflict' : 'copy';
  if (source.size !== destination.size) return differing;
  if (etagsComparable && source.etag && destination.etag) {
    if (source.etag === destination.etag) return 'skip';
    if (isPlainMd5(source.etag) && isPlainMd5(destination.etag)) return differing;
  }
  const destinationNotOlder =
    source.lastModified === undefined ||
    destination.lastModified === undefined ||
    destination.lastModified.getTime() >= source.lastModified.getTime();
  return destinationNotOlder ? 'skip' : 'copy';
}

const speaksS3 = (store: ObjectStore) => store.provider === 'S3' || store.provider === 'S3_COMPATIBLE';

const isPlainMd5 = (etag: string) => /^"?[0-9a-f]{32}"?$/i.test(etag);

const md5Of = (etag: string) => etag.replaceAll('"', '').toLowerCase();

/** The MD5 an S3 ETag stands for (single-part objects only); undefined otherwise. */
const plainMd5Of = (store: ObjectStore, etag: string | undefined) =>
  speaksS3(store) && etag && isPlainMd5(etag) ? md5Of(etag) : undefined;

/** The plan's copies at the price table's figures (see MigrationCostEstimate). */
function estimateCost(
  prices: PriceBook,
  source: OpenedBucket,
  destination: OpenedBucket,
  summary: MigrationSummary,
): MigrationCostEstimate {
  const sourcePrice = prices.priceFor(source.bucket.provider, source.bucket.region);
  const destinationPrice = prices.priceFor(destination.bucket.provider, destination.bucket.region);
  const leavesSource =
    summary.methods.streamed > 0 &&
    (source.bucket.provider !== destination.bucket.provider ||
      source.bucket.region !== destination.bucket.region);
  const egressBytes = leavesSource ? summary.copy.bytes : 0;
  const egressUsd = (egressBytes / 1e9) * sourcePrice.egressPerGb;
  const requests = summary.copy.objects;
  const requestsUsd = (requests / 1000) * destinationPrice.operationsPer1000;
  const roundUsd = (usd: number) => Math.round(usd * 10_000) / 10_000;
  const overridden = sourcePrice.source === 'override' || destinationPrice.source === 'override';
  return {
    egressBytes,
    egressUsd: roundUsd(egressUsd),
    requests,
    requestsUsd: roundUsd(requestsUsd),
    totalUsd: roundUsd(egressUsd + requestsUsd),
    prices: overridden ? 'override' : 'default',
  };
}

/** Whether the two stores copy server-side, at any size (S3 beyond 5 GiB with UploadPartCopy). */
const copiesNatively = (source: ObjectStore, destination: ObjectStore) =>
  source.nativeCopyScope !== undefined && source.nativeCopyScope === destination.nativeCopyScope;

/**
 * Globs over keys below the prefix: `**` crosses `/`, `*` and `?` do not; a
 * pattern without `/` is matched against the last segment.
 */
export function keyFilter(include: string[] = [], exclude: string[] = []): (key: string) => boolean {
  const compile = (pattern: string) => {
    const source = pattern
      .split(/(\*\*\/?|\*|\?)/)
      .map((part) => {
        if (part === '**/') return '(?:.*/)?';
        if (part === '**') return '.*';
        if (part === '*') return '[^/]*';
        if (part === '?') return '[^/]';
        return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      })
      .join('');
    const regex = new RegExp(`^${source}$`);
    const basenameOnly = !pattern.includes('/');
    return (key: string) => regex.test(basenameOnly ? key.slice(key.lastIndexOf('/') + 1) : key);
  };
  const included = include.map(compile);
  const excluded = exclude.map(compile);
  return (key) =>
    (included.length === 0 || included.some((matches) => matches(key))) &&
    !excluded.some((matches) => matches(key));
}

/**
 * One copy or delete batch: claims pending items as it goes (at most `limit`
 * claimed and not yet recorded at any time, so a crash re-does at most that
 * many), runs `work` on each (`concurrency` at a time; it returns the copy
 * method, if any), records each one done or failed, and heartbeats the
 * result. It keeps claiming for `batchSeconds`, so the pause between two
 * activities and the tail of each batch, when fewer than `concurrency`
 * copies are left, come once every few seconds rather than once every
 * `limit` objects. Backoff failures stop the batch (what was not reached
 * stays pending) and raise `MigrationBackoff`, carrying what the batch did.
 */
async function runBatch(
  em: EntityManager,
  jobId: string,
  actions: MigrationItemAction[],
  limit: number,
  input: Pick<MigrationInput, 'concurrency' | 'batchSeconds'>,
  work: (
    item: ClaimedItem,
    result: MigrationBatchResult,
    beat: () => void,
  ) => Promise<'native' | 'streamed' | null>,
): Promise<MigrationBatchResult> {
  const result = emptyBatchResult();
  const beat = throttled(() => heartbeat(result), HEARTBEAT_MIN_INTERVAL_MS);
  const { concurrency } = input;
  const seconds = input.batchSeconds ?? migrationDefaults.batchSeconds;
  const feed = new ClaimFeed(em, {
    jobId,
    actions,
    limit,
    concurrency,
    deadline: performance.now() + seconds * 1000,
  });
  const done = new DoneItems(em, (count) => feed.recorded(count));
  feed.flushRecorded = () => done.flush();
  const backoff = await runPool(em, feed, concurrency, beat, async (item) => {
    try {
      await done.add(item.id, await work(item, result, beat));
    } catch (error) {
      feed.recorded(1);
      return recordItemFailure(em, item, error, result);
    } finally {
      beat();
    }
    return undefined;
  });
  await done.flush();
  result.remaining = await countPending(em, jobId, actions);
  if (backoff) throw backoffFailure(backoff, result);
  return result;
}

/** `call`, skipped when the previous call was less than `intervalMs` ago. */
function throttled(call: () => void, intervalMs: number): () => void {
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    const now = performance.now();
    if (now - last < intervalMs) return;
    last = now;
    call();
  };
}

interface ClaimedBatch {
  jobId: string;
  actions: MigrationItemAction[];
  limit: number;
  concurrency: number;
  /** No claim starts after this (performance.now() time). */
  deadline: number;
}

/**
 * The items of a batch as its workers take them: claimed a chunk at a time,
 * the next chunk while the current one is still being worked on, never more
 * than `limit` claimed and not yet recorded.
 */
class ClaimFeed {
  readonly #em: EntityManager;
  readonly #batch: ClaimedBatch;
  readonly #queue: ClaimedItem[] = [];
  #outstanding = 0;
  #claims = 0;
  #exhausted = false;
  #claiming: Promise<void> | undefined;
  /** Writes the done items not recorded yet, which frees room to claim more. */
  flushRecorded: () => Promise<void> = async () => {};

  constructor(em: EntityManager, batch: ClaimedBatch) {
    this.#em = em;
    this.#batch = batch;
  }

  /** The next item to work on; undefined once the batch is over. */
  async next(): Promise<ClaimedItem | undefined> {
    for (;;) {
      this.#claimAhead(false);
      const item = this.#queue.shift();
      if (item) return item;
      if (this.#claiming) {
        await this.#claiming;
        continue;
      }
      if (this.#exhausted || this.#pastDeadline()) return undefined;
      if (this.#room() <= 0) await this.flushRecorded();
      // Nothing left to hand out but what other workers hold: this worker is done.
      if (!this.#claimAhead(true)) return undefined;
    }
  }

  /** `count` claimed items were recorded done, failed or pending again: room for as many more. */
  recorded(count: number): void {
    this.#outstanding -= count;
  }

  /** Items claimed and not handed out: released untried when the batch stops early. */
  async unreached(): Promise<ClaimedItem[]> {
    await this.#claiming;
    return this.#queue.splice(0);
  }

  /** The first claim is always made: a batch of `batchSeconds` 0 is one claim. */
  #pastDeadline(): boolean {
    return this.#claims > 0 && performance.now() > this.#batch.deadline;
  }

  #room(): number {
    return this.#batch.limit - this.#outstanding;
  }

  /**
   * Claims the next chunk once the queue runs low and there is room for a round of workers (`force`:
   * any room at all); false when it could not start one.
   */
  #claimAhead(force: boolean): boolean {
    const { jobId, actions, limit, concurrency } = this.#batch;
    const room = this.#room();
    if (this.#claiming || this.#exhausted || this.#pastDeadline()) return false;
    if (!force && (this.#queue.length >= concurrency || room < Math.min(concurrency, limit))) return false;
    if (room <= 0) return false;
    this.#claims++;
    this.#claiming = claimItems(this.#em, jobId, actions, room)
      .then((items) => {
        if (items.length === 0) this.#exhausted = true;
        this.#outstanding += items.length;
        this.#queue.push(...items);
      })
      .finally(() => {
        this.#claiming = undefined;
      });
    return true;
  }
}

/** Takes up to `limit` pending items of the given actions, in key order, skipping rows another activity holds. */
async function claimItems(
  em: EntityManager,
  jobId: string,
  actions: MigrationItemAction[],
  limit: number,
): Promise<ClaimedItem[]> {
  const info = activityInfo();
  // Retries of one activity share its id: a retry takes back what its crashed attempts held, never what it holds itself.
  const activity = `${info.workflowExecution?.runId ?? 'local'}/${info.activityId}/`;
  const claimant = `${activity}${info.attempt}`;
  const rows = await em.getConnection().execute<(Omit<ClaimedItem, 'size'> & { size: string })[]>(
    `update migration_items set claimed_by = ?, claimed_at = now(), attempts = attempts + 1
     where id in (
       select id from migration_items
       where job_id = ? and state = 'pending' and action in (${actions.map(() => '?').join(', ')})
         and (claimed_by is null or (claimed_by like ? and claimed_by <> ?)
              or claimed_at < now() - make_interval(secs => ?))
       order by "key" limit ? for update skip locked)
     returning id, "key", size::text as size, source_etag as "sourceEtag", action, attempts`,
    [claimant, jobId, ...actions, `${activity}%`, claimant, CLAIM_LEASE_SECONDS, limit],
  );
  return rows
    .map((row) => ({ ...row, id: String(row.id), size: Number(row.size) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

async function countPending(em: EntityManager, jobId: string, actions: MigrationItemAction[]) {
  return em.count(MigrationItem, { jobId, state: 'pending', action: { $in: actions } });
}

async function settle(
  em: EntityManager,
  id: string,
  change: {
    state: 'pending' | 'done' | 'failed';
    method: 'native' | 'streamed' | null;
    error: string | null;
    attempts?: number;
  },
): Promise<void> {
  await em.nativeUpdate(MigrationItem, { id }, { ...change, claimedBy: null, claimedAt: null });
}

/** Items whose copies or deletes are done, marked so in PostgreSQL a few dozen at a time, not one by one. */
class DoneItems {
  readonly #em: EntityManager;
  readonly #recorded: (count: number) => void;
  #pending: { id: string; method: 'native' | 'streamed' | null }[] = [];

  constructor(em: EntityManager, recorded: (count: number) => void) {
    this.#em = em;
    this.#recorded = recorded;
  }

  async add(id: string, method: 'native' | 'streamed' | null): Promise<void> {
    this.#pending.push({ id, method });
    if (this.#pending.length >= DONE_FLUSH_SIZE) await this.flush();
  }

  /** A crash before this copies the unflushed items again (at most a batch). */
  async flush(): Promise<void> {
    const rows = this.#pending.splice(0);
    if (rows.length === 0) return;
    await this.#em.getConnection().execute(
      `update migration_items set state = 'done', method = v.method, error = null, claimed_by = null, claimed_at = null
       from (values ${rows.map(() => '(?::bigint, ?::text)').join(', ')}) as v(id, method)
       where migration_items.id = v.id`,
      rows.flatMap((row) => [row.id, row.method]),
    );
    this.#recorded(rows.length);
  }
}

/**
 * Records one item's failure. A backoff failure releases the item untried
 * and is returned to stop the pool; a transient one leaves the item pending
 * until its attempts run out; anything else fails it.
 */
async function recordItemFailure(
  em: EntityManager,
  item: ClaimedItem,
  error: unknown,
  result: MigrationBatchResult,
): Promise<SideFailure | undefined> {
  const failure = error instanceof SideFailure ? error : new SideFailure('source', error);
  const message = failure.message.slice(0, 2000);
  if (failure.code && backoffCodes.has(failure.code)) {
    await settle(em, item.id, {
      state: 'pending',
      method: null,
      error: message,
      attempts: item.attempts - 1,
    });
    return failure;
  }
  const retryable =
    !(failure.error instanceof StorageError) || failure.error.retryable || isVerification(failure);
  const exhausted = item.attempts >= MAX_ATTEMPTS;
  const state = retryable && !exhausted ? 'pending' : 'failed';
  await settle(em, item.id, { state, method: null, error: message });
  if (state === 'failed') add(result.failed, item.size);
  return undefined;
}

const isVerification = (failure: SideFailure) =>
  failure.error instanceof Error && failure.error.name === 'VerificationFailed';

class VerificationFailed extends Error {
  override name = 'VerificationFailed';
}

/**
 * Runs `work` over the feed's items, `concurrency` at a time; stops taking
 * items at the first returned error and hands the ones it did not reach back
 * (unclaimed, their attempt not counted), so the next batch takes them.
 * Heartbeats every few seconds meanwhile: a server-side copy of a large
 * object sends none of its own, and the heartbeat timeout must stay short
 * for a dead worker's batch to be retried soon.
 */
async function runPool(
  em: EntityManager,
  feed: ClaimFeed,
  concurrency: number,
  beat: () => void,
  work: (item: ClaimedItem) => Promise<SideFailure | undefined>,
): Promise<SideFailure | undefined> {
  let stop: SideFailure | undefined;
  const worker = async () => {
    while (!stop) {
      const item = await feed.next();
      if (!item) return;
      stop ??= await work(item);
    }
  };
  const keepAlive = setInterval(beat, KEEPALIVE_MS);
  try {
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  } finally {
    clearInterval(keepAlive);
  }
  const unreached = await feed.unreached();
  if (unreached.length > 0)
    await em.getConnection().execute(
      `update migration_items set claimed_by = null, claimed_at = null, attempts = greatest(attempts - 1, 0)
       where id in (${unreached.map(() => '?').join(', ')})`,
      unreached.map((item) => item.id),
    );
  return stop;
}

/** A token bucket over bytes with one second of burst, shared by the batch's streams. */
export class ByteRateLimiter {
  readonly #bytesPerSecond: number;
  #nextFreeAt = 0;
  constructor(bytesPerSecond: number) {
    this.#bytesPerSecond = bytesPerSecond;
  }
  async take(bytes: number): Promise<void> {
    const now = performance.now();
    const start = Math.max(this.#nextFreeAt, now - 1000);
    this.#nextFreeAt = start + (bytes / this.#bytesPerSecond) * 1000;
    const wait = this.#nextFreeAt - now;
    if (wait > 0) await sleep(wait);
  }
}

interface ItemOutcome {
  method?: 'native' | 'streamed';
  bytes: number;
  sourceDeleted: boolean;
}

/** One object's copy (native or streamed), its verification, and for move the source's deletion. */
class ObjectCopier {
  readonly #source: ObjectStore;
  readonly #destination: ObjectStore;
  readonly #input: MigrationInput;
  readonly #limiter?: ByteRateLimiter;
  readonly #native: boolean;

  constructor(
    source: ObjectStore,
    destination: ObjectStore,
    input: MigrationInput,
    limiter: ByteRateLimiter | undefined,
  ) {
    this.#source = source;
    this.#destination = destination;
    this.#input = input;
    this.#limiter = limiter;
    this.#native = copiesNatively(source, destination);
  }

  /** `beat` heartbeats while bytes stream. */
  async migrate(item: ClaimedItem, beat: () => void): Promise<ItemOutcome> {
    const sourceKey = this.#input.sourcePrefix + item.key;
    const destinationKey = this.#input.destinationPrefix + item.key;
    if (item.action === 'skip') {
      // move: the destination was identical at planning; delete the source if it still matches in size.
      const present = await onSide('destination', () => this.#destination.head(destinationKey)).catch(
        () => undefined,
      );
      if (present?.size === item.size) {
        await onSide('source', () => this.#source.delete(sourceKey));
        return { bytes: 0, sourceDeleted: true };
      }
    }
    const copied = this.#native
      ? await this.#copyNative(item, sourceKey, destinationKey)
      : await this.#copyStreamed(sourceKey, destinationKey, beat);
    if (this.#input.mode === 'move') await onSide('source', () => this.#source.delete(sourceKey));
    return { ...copied, sourceDeleted: this.#input.mode === 'move' };
  }

  /**
   * A server-side copy that keeps the source's properties, sized from the
   * plan. When the copy's answer proves it (an S3 ETag equal to the planned
   * source's MD5) nothing more is asked; otherwise (another provider, or the
   * source changed since planning) both sides are looked at.
   */
  async #copyNative(item: ClaimedItem, sourceKey: string, destinationKey: string): Promise<ItemOutcome> {
    const copied = await onSide('destination', () =>
      this.#destination.copyFrom(this.#source, sourceKey, destinationKey, { contentLength: item.size }),
    );
    const copiedMd5 = plainMd5Of(this.#destination, copied.etag);
    if (copiedMd5 !== undefined && copiedMd5 === plainMd5Of(this.#source, item.sourceEtag ?? undefined))
      return { method: 'native', bytes: item.size, sourceDeleted: false };
    const info = await onSide('source', () => this.#source.head(sourceKey));
    await this.#verify(info, destinationKey);
    return { method: 'native', bytes: info.size, sourceDeleted: false };
  }

  /** Get → Put through a metering stream: never more than a few chunks in memory. */
  async #copyStreamed(sourceKey: string, destinationKey: string, beat: () => void): Promise<ItemOutcome> {
    const { info, body } = await onSide('source', () => this.#source.get(sourceKey));
    const md5 = createHash('md5');
    let bytes = 0;
    const limiter = this.#limiter;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        md5.update(chunk);
        bytes += chunk.length;
        relayCollector.relayed(chunk.length);
        beat();
        if (!limiter) return done(null, chunk);
        limiter.take(chunk.length).then(
          () => done(null, chunk),
          (error: Error) => done(error),
        );
      },
    });
    let sourceError: unknown;
    const metered: Readable = pipeline(body, meter, (error) => {
      sourceError = error ?? undefined;
    });
    let written: PutResult;
    try {
      written = await onSide('destination', () =>
        this.#destination.put(destinationKey, metered, {
          contentLength: info.size,
          contentType: info.contentType,
          metadata: info.metadata,
        }),
      );
    } catch (error) {
      body.destroy();
      meter.destroy();
      throw sourceError ? new SideFailure('source', sourceError) : error;
    }
    if (bytes !== info.size)
      throw new SideFailure(
        'source',
        new VerificationFailed(`read ${bytes} bytes of ${sourceKey}, expected ${info.size}`),
      );
    const readMd5 = md5.digest('hex');
    if (speaksS3(this.#source) && info.etag && isPlainMd5(info.etag) && md5Of(info.etag) !== readMd5)
      throw new SideFailure(
        'source',
        new VerificationFailed(`the bytes read of ${sourceKey} differ from its MD5`),
      );
    // The destination's own MD5 of what it stored, when it gives one, proves the copy without another request.
    if (written.md5 !== undefined && written.md5 !== readMd5)
      throw new SideFailure(
        'destination',
        new VerificationFailed(`${destinationKey}'s MD5 differs from the bytes sent`),
      );
    // An S3 ETag is the MD5 unless the bucket encrypts with KMS: a mismatch is looked at more closely.
    const storedMd5 = written.md5 ?? plainMd5Of(this.#destination, written.etag);
    if (storedMd5 !== readMd5) await this.#verify(info, destinationKey);
    return { method: 'streamed', bytes, sourceDeleted: false };
  }

  /** The destination's size must equal the source's; MD5 ETags, where both sides give one, must be equal. */
  async #verify(source: ObjectInfo, destinationKey: string): Promise<void> {
    const written = await onSide('destination', () => this.#destination.head(destinationKey));
    if (written.size !== source.size)
      throw new SideFailure(
        'destination',
        new VerificationFailed(`${destinationKey} has ${written.size} bytes, the source ${source.size}`),
      );
    const md5s =
      speaksS3(this.#source) &&
      speaksS3(this.#destination) &&
      source.etag &&
      written.etag &&
      isPlainMd5(source.etag) &&
      isPlainMd5(written.etag);
    if (md5s && md5Of(source.etag ?? '') !== md5Of(written.etag ?? ''))
      throw new SideFailure(
        'destination',
        new VerificationFailed(`${destinationKey}'s MD5 differs from the source's`),
      );
  }
}

/** A listing failure: backoff codes become `MigrationBackoff`, the rest keep their storage code. */
function planFailure(failure: SideFailure): Error {
  if (failure.code && backoffCodes.has(failure.code)) return backoffFailure(failure);
  return asActivityFailure(failure.error);
}

/** `MigrationBackoff`, carrying what the batch did before it stopped so the progress counts it. */
function backoffFailure(failure: SideFailure, batch?: MigrationBatchResult): ApplicationFailure {
  const details: MigrationBackoffDetails = { code: failure.code ?? 'Unknown', side: failure.side, batch };
  return ApplicationFailure.create({
    type: migrationBackoffFailure,
    message: `${failure.code} from the ${failure.side}: ${(failure.error as Error).message}`,
    nonRetryable: true,
    details: [details],
  });
}

const isSkybridgeObject = (key: string) => key.startsWith(reservedKeyPrefix) || key.startsWith(PROBE_PREFIX);

const zero = (): MigrationCounts => ({ objects: 0, bytes: 0 });

function add(counts: MigrationCounts, bytes: number): void {
  counts.objects++;
  counts.bytes += bytes;
}

function addCounts(counts: MigrationCounts, more: MigrationCounts): void {
  counts.objects += more.objects;
  counts.bytes += more.bytes;
}

function emptyBatchResult(): MigrationBatchResult {
  return {
    done: zero(),
    failed: zero(),
    native: 0,
    streamed: 0,
    sourcesDeleted: 0,
    deleted: 0,
    remaining: 0,
  };
}
