/**
 * The S3 operations the bridge serves, each as a small function over the
 * repository's buckets and providers/storage. Bodies stream both ways.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { BucketCapExceeded, type CappedBy } from '../../core/buckets/caps.ts';
import type { StorageKeyScope } from '../../core/db/entities/index.ts';
import {
  type ByteRange,
  type ListPage,
  type ObjectInfo,
  type PutOptions,
  StorageError,
} from '../../providers/storage/object-store.ts';
import { decodeKey } from './addressing.ts';
import type { PayloadResult } from './auth/payload.ts';
import { S3Error } from './errors.ts';
import type { MultipartUploads } from './multipart-uploads.ts';
import type { RepositoryBuckets, ServedBucket } from './repository-buckets.ts';
import {
  copyObjectResultXml,
  deleteResultXml,
  listAllMyBucketsXml,
  listObjectsV1Xml,
  listObjectsV2Xml,
  locationXml,
  parseDeleteObjects,
} from './xml.ts';

export type Permission = 'read' | 'write' | 'admin';

const grants: Record<StorageKeyScope, Permission[]> = {
  READ: ['read'],
  WRITE: ['write'],
  READ_WRITE: ['read', 'write'],
  ADMIN: ['read', 'write', 'admin'],
};

export const scopeAllows = (scope: StorageKeyScope, permission: Permission) =>
  grants[scope].includes(permission);

export interface OperationContext {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  repositoryId: string;
  buckets: RepositoryBuckets;
  bucketName: string;
  key: string;
  /** The decoded, verified request body. */
  body: () => Readable;
  /** Set when the body failed verification or was cut off: the reason an upload failed. */
  bodyFailure: () => Error | undefined;
  /** The body's verified checksums, once it was read to the end. */
  bodyVerified: () => Promise<PayloadResult>;
  /** The storage key's scope, for operations that need more than their own permission. */
  scope: StorageKeyScope;
  storageKeyId: string;
  uploads: MultipartUploads;
}

export interface Operation {
  name: string;
  permission: Permission;
  needsBucket: boolean;
  /** The bucket cap its bytes count against, if any (core/buckets/caps.ts). */
  cappedBy?: CappedBy;
  run(context: OperationContext, served: ServedBucket | undefined): Promise<void>;
}

export function sendXml(res: ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}

/** Backend failures in S3's terms. */
export function s3ErrorFromStorage(error: unknown, missing: 'NoSuchKey' | 'NoSuchBucket'): S3Error {
  if (!(error instanceof StorageError))
    return new S3Error('InternalError', 'The backend failed', { cause: error });
  const byCode: Record<StorageError['code'], [S3Error['code'], string]> = {
    NotFound: [
      missing,
      missing === 'NoSuchKey' ? 'The specified key does not exist.' : 'The specified bucket does not exist.',
    ],
    AccessDenied: ['AccessDenied', 'The backend refused access to this bucket'],
    InvalidCredentials: [
      'AccessDenied',
      "The bucket's registered credentials are no longer accepted by its provider",
    ],
    Throttled: ['SlowDown', 'Please reduce your request rate.'],
    QuotaExceeded: ['QUOTA_EXCEEDED', 'The bucket is over its quota'],
    Transient: ['ServiceUnavailable', 'The backend is not reachable at the moment; retry later'],
    Invalid: ['InvalidRequest', error.message],
  };
  const [code, message] = byCode[error.code];
  // Skybridge's own caps say which cap in their message; a backend's message stays behind.
  return new S3Error(code, error instanceof BucketCapExceeded ? error.message : message, { cause: error });
}

/** For a storage call's `.catch`: its failure, rethrown in S3's terms. */
export const rethrowAsS3Error =
  (missing: 'NoSuchKey' | 'NoSuchBucket') =>
  (error: unknown): never => {
    throw s3ErrorFromStorage(error, missing);
  };

export const listBuckets: Operation = {
  name: 'ListBuckets',
  permission: 'read',
  needsBucket: false,
  async run({ res, buckets, repositoryId }) {
    const served = await buckets.list(repositoryId);
    sendXml(
      res,
      200,
      listAllMyBucketsXml(served.map(({ bucket }) => ({ name: bucket.name, createdAt: bucket.createdAt }))),
    );
  },
};

export const headBucket: Operation = {
  name: 'HeadBucket',
  permission: 'read',
  needsBucket: true,
  async run({ res }, served) {
    res.writeHead(200, { 'x-amz-bucket-region': served?.bucket.region ?? 'us-east-1' }).end();
  },
};

export const getBucketLocation: Operation = {
  name: 'GetBucketLocation',
  permission: 'read',
  needsBucket: true,
  async run({ res }, served) {
    sendXml(res, 200, locationXml(served?.bucket.region ?? 'us-east-1'));
  },
};

function maxKeysOf(query: URLSearchParams): number {
  const raw = query.get('max-keys');
  if (raw === null) return 1000;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new S3Error('InvalidArgument', 'max-keys must be a non-negative integer');
  return Math.min(value, 1000);
}

function encodingTypeOf(query: URLSearchParams): 'url' | undefined {
  const value = query.get('encoding-type');
  if (value === null) return undefined;
  if (value !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request');
  return 'url';
}

/** A continuation token is the backend's own, wrapped so clients cannot forge a different start. */
const wrapToken = (token: string | undefined) =>
  token ? Buffer.from(`sb1:${token}`).toString('base64url') : undefined;
function unwrapToken(token: string | null): string | undefined {
  if (token === null) return undefined;
  const decoded = Buffer.from(token, 'base64url').toString();
  if (!decoded.startsWith('sb1:'))
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect');
  return decoded.slice(4);
}

const MAX_SKIP_PAGES = 1000;

/**
 * One page of a listing. `startAfter` (V2) and `marker` (V1) are applied here,
 * the same way for every backend: pages are read and keys up to that point
 * dropped, each page asking only for what is still missing, so a page's own
 * continuation token always resumes exactly after what was returned.
 */
async function listPage(
  served: ServedBucket,
  query: URLSearchParams,
  continuationToken?: string,
  startAfter?: string,
) {
  const maxKeys = maxKeysOf(query);
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') || undefined;
  const page: ListPage = { objects: [], commonPrefixes: [] };
  let token = continuationToken;
  for (let pages = 0; maxKeys > 0 && pages < MAX_SKIP_PAGES; pages++) {
    const remaining = maxKeys - page.objects.length - page.commonPrefixes.length;
    const next = await served.store
      .list({ prefix, delimiter, continuationToken: token, maxKeys: remaining })
      .catch(rethrowAsS3Error('NoSuchBucket'));
    page.objects.push(...next.objects.filter((object) => !startAfter || object.key > startAfter));
    // A prefix that contains the start-after key may still hold later keys, as S3 reports it.
    page.commonPrefixes.push(
      ...next.commonPrefixes.filter(
        (name) => !startAfter || name > startAfter || startAfter.startsWith(name),
      ),
    );
    token = next.nextContinuationToken;
    page.nextContinuationToken = token;
    if (!token || page.objects.length + page.commonPrefixes.length >= maxKeys) break;
  }
  return { maxKeys, prefix, delimiter, page };
}

export const listObjectsV2: Operation = {
  name: 'ListObjectsV2',
  permission: 'read',
  needsBucket: true,
  async run({ res, query, bucketName }, served) {
    const continuationToken = query.get('continuation-token') ?? undefined;
    const startAfter = query.get('start-after') ?? undefined;
    const { maxKeys, prefix, delimiter, page } = await listPage(
      served!,
      query,
      unwrapToken(query.get('continuation-token')),
      startAfter,
    );
    const xml = listObjectsV2Xml({
      bucket: bucketName,
      prefix,
      delimiter,
      maxKeys,
      encodingType: encodingTypeOf(query),
      continuationToken,
      startAfter,
      page: { ...page, nextContinuationToken: wrapToken(page.nextContinuationToken) },
    });
    sendXml(res, 200, xml);
  },
};

export const listObjectsV1: Operation = {
  name: 'ListObjects',
  permission: 'read',
  needsBucket: true,
  async run({ res, query, bucketName }, served) {
    const marker = query.get('marker') ?? undefined;
    const { maxKeys, prefix, delimiter, page } = await listPage(served!, query, undefined, marker);
    const last = [...page.objects.map((object) => object.key), ...page.commonPrefixes].sort().at(-1);
    const truncated = page.nextContinuationToken !== undefined;
    sendXml(
      res,
      200,
      listObjectsV1Xml({
        bucket: bucketName,
        prefix,
        delimiter,
        maxKeys,
        encodingType: encodingTypeOf(query),
        marker,
        nextMarker: truncated && delimiter ? last : undefined,
        page,
      }),
    );
  },
};

/** Standard headers of an object as S3 returns them, with `response-*` overrides applied. */
function objectHeaders(info: ObjectInfo, query: URLSearchParams): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    'content-type': query.get('response-content-type') ?? info.contentType ?? 'application/octet-stream',
    'accept-ranges': 'bytes',
  };
  if (info.etag) headers.etag = info.etag;
  if (info.lastModified) headers['last-modified'] = info.lastModified.toUTCString();
  for (const [name, value] of Object.entries(info.metadata ?? {}))
    headers[`x-amz-meta-${name.toLowerCase()}`] = value;
  for (const header of [
    'content-disposition',
    'cache-control',
    'content-encoding',
    'content-language',
    'expires',
  ]) {
    const override = query.get(`response-${header}`);
    if (override !== null) headers[header] = override;
  }
  return headers;
}

/** One `bytes=` range; several ranges are not supported (S3 does not support them either). */
function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined; // S3 ignores a malformed Range
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) throw new S3Error('InvalidRange', 'The requested range is not satisfiable');
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start)
    throw new S3Error('InvalidRange', 'The requested range is not satisfiable');
  return { start, end };
}

/** If-Match / If-None-Match / If-(Un)Modified-Since, in the order and with the precedence S3 applies. */
function checkConditions(req: IncomingMessage, info: ObjectInfo): 'ok' | 'not-modified' {
  const ifMatch = req.headers['if-match'];
  const ifNoneMatch = req.headers['if-none-match'];
  const modifiedSince = req.headers['if-modified-since'];
  const unmodifiedSince = req.headers['if-unmodified-since'];
  const etagMatches = (list: string) =>
    list.split(',').some((tag) => tag.trim() === '*' || tag.trim() === info.etag);
  const modified = info.lastModified?.getTime() ?? 0;
  if (ifMatch !== undefined && !etagMatches(ifMatch))
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  if (ifMatch === undefined && unmodifiedSince && modified > Date.parse(unmodifiedSince)) {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  }
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch)) return 'not-modified';
  if (ifNoneMatch === undefined && modifiedSince && modified <= Date.parse(modifiedSince))
    return 'not-modified';
  return 'ok';
}

export async function headOf(served: ServedBucket, key: string): Promise<ObjectInfo> {
  try {
    return await served.store.head(key);
  } catch (error) {
    throw s3ErrorFromStorage(error, 'NoSuchKey');
  }
}

function readObject(withBody: boolean): Operation {
  return {
    name: withBody ? 'GetObject' : 'HeadObject',
    permission: 'read',
    needsBucket: true,
    cappedBy: withBody ? 'egress' : undefined,
    async run({ req, res, query, key }, served) {
      if (withBody && !hasConditionsOrRange(req)) {
        await getWhole(res, query, served!, key);
        return;
      }
      const info = await headOf(served!, key);
      if (checkConditions(req, info) === 'not-modified') {
        res
          .writeHead(304, { etag: info.etag ?? '', 'last-modified': info.lastModified?.toUTCString() ?? '' })
          .end();
        return;
      }
      const range = parseRange(req.headers.range, info.size);
      const headers = objectHeaders(info, query);
      const length = range ? (range.end ?? info.size - 1) - range.start + 1 : info.size;
      headers['content-length'] = length;
      if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${info.size}`;
      if (!withBody) {
        res.writeHead(range ? 206 : 200, headers).end();
        return;
      }
      const { body } = await served!.store.get(key, range).catch(rethrowAsS3Error('NoSuchKey'));
      res.writeHead(range ? 206 : 200, headers);
      await streamTo(body, res);
    },
  };
}

export const getObject = readObject(true);
export const headObject = readObject(false);

const conditionalHeaders = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'range'];
const hasConditionsOrRange = (req: IncomingMessage) =>
  conditionalHeaders.some((name) => req.headers[name] !== undefined);

/** The common GET: one backend call, whose answer carries the object's headers too. */
async function getWhole(
  res: ServerResponse,
  query: URLSearchParams,
  served: ServedBucket,
  key: string,
): Promise<void> {
  const { info, body } = await served.store.get(key).catch(rethrowAsS3Error('NoSuchKey'));
  res.writeHead(200, { ...objectHeaders(info, query), 'content-length': info.size });
  await streamTo(body, res);
}

/**
 * A plain pipe (back-pressure included), without `pipeline`'s per-call cost.
 * Once headers are out, a failure can only cut the connection: the client
 * sees a short body. A client that goes away stops the backend download.
 */
function streamTo(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const cutOff = () => {
      body.unpipe(res);
      body.destroy();
      res.destroy();
      resolve();
    };
    body.on('error', cutOff);
    res.once('close', () => {
      if (res.writableFinished) resolve();
      else cutOff();
    });
    body.pipe(res);
  });
}

export function userMetadata(req: IncomingMessage): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-amz-meta-') && typeof value === 'string')
      metadata[name.slice('x-amz-meta-'.length)] = value;
  }
  return metadata;
}

/** The object's size as the request declares it (the decoded size of an aws-chunked body). */
export function declaredLength(req: IncomingMessage, limit: number): number {
  const declared = req.headers['x-amz-decoded-content-length'] ?? req.headers['content-length'];
  if (declared === undefined)
    throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
  const length = Number(declared);
  if (!Number.isSafeInteger(length) || length < 0)
    throw new S3Error('InvalidArgument', 'The Content-Length is not a valid size');
  if (length > limit)
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
  return length;
}

/**
 * Hands the verified body to `write`. A body that fails verification answers
 * at once with its own error, whatever the backend's upload is still doing.
 */
export async function receiveBody<T>(
  { body, bodyFailure }: OperationContext,
  write: (body: Readable) => Promise<T>,
): Promise<T> {
  const upload = body();
  const bodyFailed = new Promise<never>((_, reject) =>
    upload.once('error', (error) => reject(bodyFailure() ?? error)),
  );
  bodyFailed.catch(() => {});
  const stored = write(upload);
  stored.catch(() => {}); // the backend's own failure after an answer was given
  return Promise.race([stored, bodyFailed]).catch((error: unknown) => {
    throw bodyFailure() ?? s3ErrorFromStorage(error, 'NoSuchBucket');
  });
}

export const putObject: Operation = {
  name: 'PutObject',
  permission: 'write',
  needsBucket: true,
  cappedBy: 'storage',
  async run(context, served) {
    const { req, res, key } = context;
    const contentLength = declaredLength(req, MAX_OBJECT_SIZE);
    const result = await receiveBody(context, (body) =>
      served!.store.put(key, body, {
        contentLength,
        contentType: req.headers['content-type'],
        metadata: userMetadata(req),
      }),
    );
    res.writeHead(200, result.etag ? { etag: result.etag } : {}).end();
  },
};

/** S3's largest single PUT. */
const MAX_OBJECT_SIZE = 5 * 1024 ** 3;

/** `x-amz-copy-source: /bucket/key` (percent-encoded; a leading slash and `?versionId=` are optional). */
function parseCopySource(header: string): { bucket: string; key: string } {
  const [path = ''] = header.split('?');
  const trimmed = path.startsWith('/') ? path.slice(1) : path;
  const slash = trimmed.indexOf('/');
  if (slash <= 0 || slash === trimmed.length - 1) {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
    );
  }
  return { bucket: decodeURIComponent(trimmed.slice(0, slash)), key: decodeKey(trimmed.slice(slash + 1)) };
}

function checkCopyConditions(req: IncomingMessage, source: ObjectInfo): void {
  const ifMatch = req.headers['x-amz-copy-source-if-match'];
  const ifNoneMatch = req.headers['x-amz-copy-source-if-none-match'];
  const failed =
    (typeof ifMatch === 'string' && !ifMatch.split(',').some((tag) => tag.trim() === source.etag)) ||
    (typeof ifNoneMatch === 'string' && ifNoneMatch.split(',').some((tag) => tag.trim() === source.etag));
  if (failed)
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
}

/** The object named by `x-amz-copy-source`, readable with this key, its preconditions checked. */
export async function resolveCopySource({
  req,
  buckets,
  repositoryId,
  scope,
}: OperationContext): Promise<{ source: ServedBucket; key: string; info: ObjectInfo }> {
  if (!scopeAllows(scope, 'read'))
    throw new S3Error('AccessDenied', `This key's ${scope} scope does not allow reading the copy source`);
  const named = parseCopySource(String(req.headers['x-amz-copy-source']));
  const source = await buckets.find(repositoryId, named.bucket);
  if (!source) throw new S3Error('NoSuchBucket', 'The specified source bucket does not exist');
  const info = await headOf(source, named.key);
  checkCopyConditions(req, info);
  return { source, key: named.key, info };
}

/**
 * CopyObject within the repository, any backend to any backend: by the
 * backend when both buckets are in one account of one provider, otherwise
 * streamed through the bridge (read and written at once, never held in
 * memory). Needs read access to the source as well as write access.
 */
export const copyObject: Operation = {
  name: 'CopyObject',
  permission: 'write',
  needsBucket: true,
  cappedBy: 'storage',
  async run(context, served) {
    const { req, res, key } = context;
    const { source, key: sourceKey, info } = await resolveCopySource(context);
    const replace = String(req.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase();
    if (replace !== 'COPY' && replace !== 'REPLACE')
      throw new S3Error('InvalidArgument', 'Unknown metadata directive.');
    if (replace === 'COPY' && source.bucket.id === served!.bucket.id && sourceKey === key) {
      throw new S3Error(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata.",
      );
    }
    const options: PutOptions = {
      contentLength: info.size,
      contentType: replace === 'REPLACE' ? req.headers['content-type'] : info.contentType,
      metadata: replace === 'REPLACE' ? userMetadata(req) : info.metadata,
    };
    const written = await copyBetween(source, sourceKey, served!, key, options).catch(
      rethrowAsS3Error('NoSuchKey'),
    );
    const copied = await headOf(served!, key);
    sendXml(
      res,
      200,
      copyObjectResultXml(written.etag ?? copied.etag ?? '', copied.lastModified ?? new Date()),
    );
  },
};

const canCopyNatively = (source: ServedBucket, destination: ServedBucket, size: number) =>
  destination.store.nativeCopyScope !== undefined &&
  destination.store.nativeCopyScope === source.store.nativeCopyScope &&
  size <= MAX_OBJECT_SIZE;

async function copyBetween(
  source: ServedBucket,
  sourceKey: string,
  destination: ServedBucket,
  key: string,
  options: PutOptions,
): Promise<{ etag?: string }> {
  if (canCopyNatively(source, destination, options.contentLength ?? 0))
    return destination.store.copyFrom(source.store, sourceKey, key, options);
  const { body } = await source.store.get(sourceKey);
  return destination.store.put(key, body, options);
}

export const deleteObject: Operation = {
  name: 'DeleteObject',
  permission: 'write',
  needsBucket: true,
  async run({ res, key }, served) {
    await served!.store.delete(key).catch(rethrowAsS3Error('NoSuchBucket'));
    res.writeHead(204).end();
  },
};

const MAX_DELETE_BODY = 2 * 1024 * 1024;

export async function readSmallBody(body: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new S3Error('MalformedXML', 'The Delete document is too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export const deleteObjects: Operation = {
  name: 'DeleteObjects',
  permission: 'write',
  needsBucket: true,
  async run({ res, body }, served) {
    const { keys, quiet } = parseDeleteObjects(await readSmallBody(body(), MAX_DELETE_BODY));
    const deleted: string[] = [];
    const errors: { key: string; code: string; message: string }[] = [];
    for (const key of keys) {
      try {
        await served!.store.delete(key);
        deleted.push(key);
      } catch (error) {
        const s3Error = s3ErrorFromStorage(error, 'NoSuchKey');
        errors.push({ key, code: s3Error.code, message: s3Error.message });
      }
    }
    sendXml(res, 200, deleteResultXml(deleted, errors, quiet));
  },
};
