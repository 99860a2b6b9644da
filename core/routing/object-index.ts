/**
 * The object index of virtual buckets (BR-8), in PostgreSQL: which member
 * holds each key, and what a listing says about it. Listings are answered
 * from here alone, in S3's byte order (the key column has the `C` collation).
 */
import { LockMode } from '@mikro-orm/core';
import type { ListOptions, ListPage, ObjectInfo } from '../../providers/storage/object-store.ts';
import { VirtualObject } from '../db/entities/index.ts';
import type { EntityManager } from '../db/orm.ts';

export interface IndexedObject {
  key: string;
  bucketId: string;
  size: number;
  etag?: string;
  lastModified: Date;
  contentType?: string;
}

const LIST_BATCH = 1000;

/** Where a listing resumes: after a key, or at the first key not under a common prefix already returned. */
type Cursor = { after: string } | { from: string };

export class VirtualObjectIndex {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  async find(virtualBucketId: string, key: string): Promise<IndexedObject | undefined> {
    const row = await this.#em.fork().findOne(VirtualObject, { virtualBucket: virtualBucketId, key });
    return row ? indexedOf(row) : undefined;
  }

  /**
   * Records where the key now lives; returns the member that held it before
   * when that was another one (its copy is now stale). Concurrent writes of one
   * key: the last to record wins.
   */
  async record(virtualBucketId: string, object: IndexedObject): Promise<string | undefined> {
    return this.#em.fork().transactional(async (em) => {
      const previous = await em.findOne(
        VirtualObject,
        { virtualBucket: virtualBucketId, key: object.key },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      await em.upsert(VirtualObject, {
        virtualBucket: virtualBucketId,
        key: object.key,
        bucket: object.bucketId,
        size: object.size,
        etag: object.etag ?? null,
        lastModified: object.lastModified,
        contentType: object.contentType?.slice(0, 255) ?? null,
      });
      const previousBucketId = previous?.bucket.id;
      return previousBucketId !== object.bucketId ? previousBucketId : undefined;
    });
  }

  /** Forgets the key, if it still lives on that member (a concurrent write may have moved it). */
  async remove(virtualBucketId: string, key: string, bucketId: string): Promise<void> {
    await this.#em
      .fork()
      .nativeDelete(VirtualObject, { virtualBucket: virtualBucketId, key, bucket: bucketId });
  }

  /**
   * One page of keys in byte order, with keys under a common prefix (up to the
   * delimiter) rolled into it, counted once against `maxKeys`: the semantics of
   * an S3 backend's listing, so the bridge pages it like any other.
   */
  async list(virtualBucketId: string, options: ListOptions = {}): Promise<ListPage> {
    const prefix = options.prefix ?? '';
    const maxKeys = options.maxKeys ?? LIST_BATCH;
    const page: ListPage = { objects: [], commonPrefixes: [] };
    let cursor = cursorOf(options.continuationToken) ?? { from: prefix };
    while (page.objects.length + page.commonPrefixes.length < maxKeys) {
      const rows = await this.#rowsFrom(virtualBucketId, prefix, cursor, LIST_BATCH);
      const next = collect(rows, page, prefix, options.delimiter, maxKeys);
      if (next === 'exhausted') return page;
      if (next !== undefined) cursor = next;
      else if (rows.length < LIST_BATCH) return page;
      else cursor = { after: rows.at(-1)!.key };
    }
    const more = await this.#rowsFrom(virtualBucketId, prefix, cursor, 1);
    if (more.length > 0) page.nextContinuationToken = tokenOf(cursor);
    return page;
  }

  #rowsFrom(virtualBucketId: string, prefix: string, cursor: Cursor, limit: number) {
    const start = 'after' in cursor ? { $gt: cursor.after } : { $gte: cursor.from };
    const end = successorOf(prefix);
    const underPrefix = prefix ? [{ key: { $gte: prefix } }, ...(end ? [{ key: { $lt: end } }] : [])] : [];
    return this.#em
      .fork()
      .find(
        VirtualObject,
        { virtualBucket: virtualBucketId, $and: [{ key: start }, ...underPrefix] },
        { orderBy: { key: 'asc' }, limit },
      );
  }
}

/**
 * Adds rows to the page until it is full or a common prefix is met (the rows
 * after it may be under it too). Returns where the next read starts: past
 * that prefix, or after the row that filled the page; `exhausted` when
 * nothing can follow the prefix; undefined when every row was taken.
 */
function collect(
  rows: VirtualObject[],
  page: ListPage,
  prefix: string,
  delimiter: string | undefined,
  maxKeys: number,
): Cursor | 'exhausted' | undefined {
  for (const row of rows) {
    const common = delimiter ? commonPrefixOf(row.key, prefix, delimiter) : undefined;
    if (common === undefined) {
      page.objects.push(objectInfoOf(row));
      if (page.objects.length + page.commonPrefixes.length >= maxKeys) return { after: row.key };
      continue;
    }
    page.commonPrefixes.push(common);
    const past = successorOf(common);
    return past === undefined ? 'exhausted' : { from: past };
  }
  return undefined;
}

function commonPrefixOf(key: string, prefix: string, delimiter: string): string | undefined {
  const at = key.indexOf(delimiter, prefix.length);
  return at === -1 ? undefined : key.slice(0, at + delimiter.length);
}

/**
 * The least string greater than every string that starts with `text`, in
 * code point (= UTF-8 byte) order: its last code point, incremented.
 * Undefined when there is none (empty, or only the highest code point).
 */
export function successorOf(text: string): string | undefined {
  const codePoints = [...text];
  while (codePoints.length > 0) {
    const last = codePoints.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1; // surrogates are not characters
      return codePoints.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

const tokenOf = (cursor: Cursor) => ('after' in cursor ? `a:${cursor.after}` : `f:${cursor.from}`);

function cursorOf(token: string | undefined): Cursor | undefined {
  if (token === undefined) return undefined;
  if (token.startsWith('a:')) return { after: token.slice(2) };
  if (token.startsWith('f:')) return { from: token.slice(2) };
  return undefined;
}

function indexedOf(row: VirtualObject): IndexedObject {
  return {
    key: row.key,
    bucketId: row.bucket.id,
    size: row.size,
    etag: row.etag ?? undefined,
    lastModified: row.lastModified,
    contentType: row.contentType ?? undefined,
  };
}

const objectInfoOf = (row: VirtualObject): ObjectInfo => ({
  key: row.key,
  size: row.size,
  etag: row.etag ?? undefined,
  lastModified: row.lastModified,
  contentType: row.contentType ?? undefined,
});
