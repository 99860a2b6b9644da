/**
 * The multipart uploads in progress, kept in PostgreSQL (multipart_uploads,
 * multipart_parts): the same state and paging for every backend.
 */
import { randomBytes } from 'node:crypto';
import { MultipartPart, MultipartUpload } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import type { MultipartUploadRef, PutOptions, UploadedPart } from '../../providers/storage/object-store.ts';

export interface UploadRecord {
  id: string;
  key: string;
  backendUploadId?: string;
  options: PutOptions;
  checksumAlgorithm?: string;
  initiatorKeyId?: string;
  createdAt: Date;
}

export interface PartRecord extends UploadedPart {
  checksum?: { algorithm: string; value: string };
  uploadedAt: Date;
}

export interface UploadPage {
  uploads: UploadRecord[];
  commonPrefixes: string[];
  /** Set when more follow: where the next page starts. */
  next?: { key: string; uploadId: string };
}

export const refOf = (upload: UploadRecord): MultipartUploadRef => ({
  key: upload.key,
  uploadId: upload.id,
  backendUploadId: upload.backendUploadId,
});

export const newUploadId = () => randomBytes(16).toString('hex');

function recordOf(row: MultipartUpload): UploadRecord {
  return {
    id: row.id,
    key: row.key,
    backendUploadId: row.backendUploadId ?? undefined,
    options: { contentType: row.contentType ?? undefined, metadata: row.metadata ?? undefined },
    checksumAlgorithm: row.checksumAlgorithm ?? undefined,
    initiatorKeyId: row.initiatorKeyId ?? undefined,
    createdAt: row.createdAt,
  };
}

function partOf(row: MultipartPart): PartRecord {
  return {
    partNumber: row.partNumber,
    etag: row.etag,
    size: row.size,
    locator: row.locator ?? undefined,
    checksum:
      row.checksumAlgorithm && row.checksumValue
        ? { algorithm: row.checksumAlgorithm, value: row.checksumValue }
        : undefined,
    uploadedAt: row.uploadedAt,
  };
}

const LIST_BATCH = 1000;

export class MultipartUploads {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  async create(
    place: { repositoryId: string; bucketId: string },
    upload: Omit<UploadRecord, 'createdAt'>,
  ): Promise<void> {
    const em = this.#em.fork();
    em.create(MultipartUpload, {
      id: upload.id,
      repository: place.repositoryId,
      bucket: place.bucketId,
      key: upload.key,
      backendUploadId: upload.backendUploadId ?? null,
      contentType: upload.options.contentType ?? null,
      metadata: upload.options.metadata ?? null,
      checksumAlgorithm: upload.checksumAlgorithm ?? null,
      initiatorKeyId: upload.initiatorKeyId ?? null,
    });
    await em.flush();
  }

  /** The upload, if it exists in this repository's bucket under this key. */
  async find(
    place: { repositoryId: string; bucketId: string },
    key: string,
    uploadId: string,
  ): Promise<UploadRecord | undefined> {
    if (!/^[0-9a-f]{32}$/.test(uploadId)) return undefined;
    const row = await this.#em.fork().findOne(MultipartUpload, {
      id: uploadId,
      key,
      bucket: place.bucketId,
      repository: place.repositoryId,
    });
    return row ? recordOf(row) : undefined;
  }

  async recordPart(uploadId: string, part: UploadedPart, checksum?: { algorithm: string; value: string }) {
    await this.#em.fork().upsert(MultipartPart, {
      upload: uploadId,
      partNumber: part.partNumber,
      etag: part.etag,
      size: part.size,
      locator: part.locator ?? null,
      checksumAlgorithm: checksum?.algorithm ?? null,
      checksumValue: checksum?.value ?? null,
      uploadedAt: new Date(),
    });
  }

  /** Parts after `afterPartNumber`, ascending; `limit` of them (all when absent). */
  async parts(uploadId: string, afterPartNumber = 0, limit?: number): Promise<PartRecord[]> {
    const rows = await this.#em
      .fork()
      .find(
        MultipartPart,
        { upload: uploadId, partNumber: { $gt: afterPartNumber } },
        { orderBy: { partNumber: 'asc' }, limit },
      );
    return rows.map(partOf);
  }

  /** Removes the upload and its parts; false when it was already gone. */
  async remove(uploadId: string): Promise<boolean> {
    const removed = await this.#em.fork().nativeDelete(MultipartUpload, { id: uploadId });
    return removed > 0;
  }

  /**
   * Uploads of a bucket by key, then initiation time, as S3 lists them;
   * keys that share a prefix up to `delimiter` are rolled into one common
   * prefix, counted once against `maxUploads`.
   */
  async list(
    place: { repositoryId: string; bucketId: string },
    options: {
      prefix: string;
      delimiter?: string;
      keyMarker?: string;
      uploadIdMarker?: string;
      maxUploads: number;
    },
  ): Promise<UploadPage> {
    const page: UploadPage = { uploads: [], commonPrefixes: [] };
    let cursor = await this.#startCursor(options.keyMarker, options.uploadIdMarker);
    while (page.uploads.length + page.commonPrefixes.length < options.maxUploads) {
      const rows = await this.#listBatch(place, options.prefix, cursor);
      for (const row of rows) {
        if (page.uploads.length + page.commonPrefixes.length >= options.maxUploads) {
          page.next = lastEntry(page);
          return page;
        }
        const common = commonPrefixOf(row.key, options.prefix, options.delimiter);
        if (common === undefined) page.uploads.push(recordOf(row));
        else if (page.commonPrefixes.at(-1) !== common) page.commonPrefixes.push(common);
        cursor = { key: row.key, createdAt: row.createdAt, id: row.id };
      }
      if (rows.length < LIST_BATCH) return page;
    }
    const more = await this.#listBatch(place, options.prefix, cursor, 1);
    if (more.length > 0) page.next = lastEntry(page);
    return page;
  }

  async #startCursor(keyMarker?: string, uploadIdMarker?: string): Promise<ListCursor | undefined> {
    if (!keyMarker) return undefined;
    const marker = uploadIdMarker
      ? await this.#em.fork().findOne(MultipartUpload, { id: uploadIdMarker, key: keyMarker })
      : null;
    // Without a (known) upload id marker, listing resumes after every upload of the key marker.
    return marker
      ? { key: marker.key, createdAt: marker.createdAt, id: marker.id }
      : { key: keyMarker, afterKey: true };
  }

  #listBatch(
    place: { repositoryId: string; bucketId: string },
    prefix: string,
    cursor: ListCursor | undefined,
    limit = LIST_BATCH,
  ): Promise<MultipartUpload[]> {
    return this.#em.fork().find(
      MultipartUpload,
      {
        bucket: place.bucketId,
        repository: place.repositoryId,
        ...(prefix && { key: { $like: `${escapeLike(prefix)}%` } }),
        ...(cursor && { $or: afterCursor(cursor) }),
      },
      { orderBy: { key: 'asc', createdAt: 'asc', id: 'asc' }, limit },
    );
  }
}

type ListCursor = { key: string; afterKey: true } | { key: string; createdAt: Date; id: string };

function afterCursor(cursor: ListCursor) {
  if ('afterKey' in cursor) return [{ key: { $gt: cursor.key } }];
  return [
    { key: { $gt: cursor.key } },
    { key: cursor.key, createdAt: { $gt: cursor.createdAt } },
    { key: cursor.key, createdAt: cursor.createdAt, id: { $gt: cursor.id } },
  ];
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

function commonPrefixOf(key: string, prefix: string, delimiter: string | undefined): string | undefined {
  if (!delimiter) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at === -1 ? undefined : key.slice(0, at + delimiter.length);
}

function lastEntry(page: UploadPage): UploadPage['next'] {
  const last = page.uploads.at(-1);
  const lastPrefix = page.commonPrefixes.at(-1);
  if (lastPrefix !== undefined && (!last || lastPrefix > last.key)) return { key: lastPrefix, uploadId: '' };
  return last ? { key: last.key, uploadId: last.id } : undefined;
}
