/**
 * Google Cloud Storage through `@google-cloud/storage` (JSON API) with a
 * service-account key. HMAC keys go through the S3 adapter instead (s3.ts).
 *
 * Outbound agents: OAuth token requests and resumable uploads (gaxios) take
 * ours per request. The JSON-API calls, downloads and simple uploads go
 * through teeny-request, which ignores per-request agents and picks them from
 * a module-wide pool: the guard's agents are installed in that pool. The
 * outbound policy is the same for the whole process, so every store installs
 * the same agents.
 */
import { createPrivateKey } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Bucket,
  type File,
  type FileMetadata,
  Storage,
  type StorageOptions,
} from '@google-cloud/storage';
// A dependency of @google-cloud/storage (not declared in package.json): the JWT client it authenticates with.
import { JWT } from 'google-auth-library';
import teenyRequestAgents from 'teeny-request/build/src/agents.js';
import { classifyFailure, mapFailures, mapStreamFailures, messageOf } from './errors.ts';
import {
  type BucketConnection,
  type ByteRange,
  keepsSourceMetadata,
  type ListOptions,
  type ListPage,
  type MultipartUploadRef,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
  reservedKeyPrefix,
  StorageError,
  type StorageProvider,
  sameAccountSource,
  type UploadedPart,
} from './object-store.ts';
import { agentForUrl, hasOutboundAgents, type OutboundAgents } from './outbound-agents.ts';
import { assertValidRange, quotedEtag } from './ranges.ts';

/** Known-length bodies up to this size go in one request; larger or unknown ones as a resumable upload. */
const SINGLE_REQUEST_UPLOAD_LIMIT = 8 * 1024 * 1024;
/** Resumable uploads send (and keep in memory, to resend on failure) one chunk at a time; a multiple of 256 KiB. */
const RESUMABLE_CHUNK_SIZE = 8 * 1024 * 1024;
/** GCS's limit on the source objects of one compose request. */
const MAX_COMPOSE_SOURCES = 32;
/** Requests in flight at once when composing or deleting an upload's many objects. */
const PARALLEL_REQUESTS = 10;
const GOOGLE_STORAGE_ENDPOINT = 'https://storage.googleapis.com';

export interface ServiceAccountKey {
  clientEmail: string;
  privateKey: string;
  projectId?: string;
}

/**
 * Validates the key up front. Messages never quote the JSON: V8's parse
 * errors include a snippet of the input, which here is a secret.
 */
export function parseServiceAccountKey(serviceAccountJson: string): ServiceAccountKey {
  const fields = parseJsonObject(serviceAccountJson);
  const { client_email: clientEmail, private_key: privateKey, project_id: projectId } = fields;
  if (typeof clientEmail !== 'string' || clientEmail === '')
    throw new StorageError('InvalidCredentials', 'the GCS service-account key has no client_email');
  if (typeof privateKey !== 'string' || privateKey === '')
    throw new StorageError('InvalidCredentials', 'the GCS service-account key has no private_key');
  assertPrivateKey(privateKey);
  return { clientEmail, privateKey, projectId: typeof projectId === 'string' ? projectId : undefined };
}

function parseJsonObject(json: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new StorageError('InvalidCredentials', 'the GCS service-account key is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new StorageError('InvalidCredentials', 'the GCS service-account key is not a JSON object');
  return parsed as Record<string, unknown>;
}

function assertPrivateKey(privateKey: string): void {
  try {
    createPrivateKey(privateKey);
  } catch {
    throw new StorageError(
      'InvalidCredentials',
      'the private_key of the GCS service-account key is not a PEM private key',
    );
  }
}

interface GcsErrorShape {
  code?: unknown;
  status?: unknown;
  errors?: { reason?: unknown }[];
  response?: { status?: unknown; statusCode?: unknown; data?: unknown };
}

/** ApiError (JSON API: numeric `code`, `errors[].reason`) and GaxiosError (OAuth, resumable uploads). */
export function gcsErrorToStorageError(error: unknown): StorageError {
  const shape: GcsErrorShape = typeof error === 'object' && error !== null ? error : {};
  const httpStatus = [shape.code, shape.status, shape.response?.status, shape.response?.statusCode].find(
    (value): value is number => typeof value === 'number',
  );
  const reason = shape.errors?.[0]?.reason;
  const vendorCode =
    (typeof reason === 'string' ? reason : undefined) ??
    reasonFromBody(shape.response?.data) ??
    (typeof shape.code === 'string' ? shape.code : undefined);
  return classifyFailure({ vendorCode, httpStatus, message: messageOf(error), cause: error });
}

/** `{ error: 'invalid_grant' }` from OAuth, `{ error: { errors: [{ reason }] } }` from the JSON API. */
function reasonFromBody(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const body = data as { error?: unknown };
  if (typeof body.error === 'string') return body.error;
  const nested = body.error as { errors?: { reason?: unknown }[] } | undefined;
  const reason = nested?.errors?.[0]?.reason;
  return typeof reason === 'string' ? reason : undefined;
}

function isGoogleApisHost(endpoint: string): boolean {
  const { hostname } = new URL(endpoint);
  return hostname === 'googleapis.com' || hostname.endsWith('.googleapis.com');
}

/** A gaxios agent option: ours for the URL's scheme, else Node's default. */
function gaxiosAgent(agents: OutboundAgents): (url: URL) => http.Agent {
  return (url) =>
    agentForUrl(url, agents) ?? (url.protocol === 'http:' ? http.globalAgent : https.globalAgent);
}

/**
 * An explicit JWT client: handing the key to Storage as `credentials` works
 * but prints a deprecation warning on every construction. Only the email and
 * key are used: a key file's token_uri or universe_domain must not steer where
 * requests go.
 */
function serviceAccountClient(key: ServiceAccountKey, agents: OutboundAgents): JWT {
  return new JWT({
    email: key.clientEmail,
    key: key.privateKey,
    scopes: ['https://www.googleapis.com/auth/devstorage.full_control'],
    transporterOptions: hasOutboundAgents(agents) ? { agent: gaxiosAgent(agents) } : undefined,
  });
}

function storageOptions(
  connection: BucketConnection,
  key: ServiceAccountKey,
  agents: OutboundAgents,
): StorageOptions {
  const options: StorageOptions = {
    projectId: key.projectId,
    authClient: serviceAccountClient(key, agents),
    // A few quick retries: callers (workflows) retry Transient failures with their own backoff.
    retryOptions: { maxRetries: 2, maxRetryDelay: 4 },
  };
  if (connection.endpoint) {
    options.apiEndpoint = connection.endpoint;
    // Emulators take no token (and Google's must not be asked); Google's private/regional endpoints need one.
    options.useAuthWithCustomEndpoint = isGoogleApisHost(connection.endpoint);
  }
  return options;
}

type StorageInterceptor = Storage['interceptors'][number];

/** teeny-request keys its pool by scheme, with `:forever` for keep-alive requests. */
function installTeenyRequestAgents(agents: OutboundAgents): void {
  const pool = teenyRequestAgents.pool as Map<string, http.Agent>;
  if (agents.httpAgent) for (const key of ['http', 'http:forever']) pool.set(key, agents.httpAgent);
  if (agents.httpsAgent) for (const key of ['https', 'https:forever']) pool.set(key, agents.httpsAgent);
}

/** Interceptors' options become the resumable uploads' gaxios options, which honour `agent` (teeny-request ignores it). */
function agentInterceptor(agents: OutboundAgents): StorageInterceptor {
  const agent = gaxiosAgent(agents);
  return {
    // The declared option types (teeny-request's) have no `agent`; the object is passed on as it is.
    request: (requestOptions) =>
      Object.assign(requestOptions, { agent }) as ReturnType<StorageInterceptor['request']>,
  };
}

export class GcsObjectStore implements ObjectStore {
  readonly provider: StorageProvider = 'GCS';
  readonly bucketName: string;
  readonly nativeCopyScope: string;
  private readonly bucket: Bucket;

  constructor(connection: BucketConnection, serviceAccountJson: string, agents: OutboundAgents = {}) {
    this.bucketName = connection.bucketName;
    const key = parseServiceAccountKey(serviceAccountJson);
    this.nativeCopyScope = `gcs:${connection.endpoint ?? GOOGLE_STORAGE_ENDPOINT}:${key.clientEmail}`;
    const storage = new Storage(storageOptions(connection, key, agents));
    if (hasOutboundAgents(agents)) {
      storage.interceptors.push(agentInterceptor(agents));
      installTeenyRequestAgents(agents);
    }
    this.bucket = storage.bucket(connection.bucketName);
  }

  async checkAccess(): Promise<void> {
    try {
      await this.call(() => this.bucket.getMetadata());
    } catch (error) {
      // Object roles (e.g. roles/storage.objectAdmin) lack storage.buckets.get but can work in the bucket.
      if ((error as StorageError).code !== 'AccessDenied') throw error;
      await this.call(() => this.bucket.getFiles({ maxResults: 1, autoPaginate: false }));
    }
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    const [files, nextQuery, response] = await this.call(() =>
      this.bucket.getFiles({
        prefix: options.prefix,
        delimiter: options.delimiter,
        pageToken: options.continuationToken,
        maxResults: options.maxKeys,
        autoPaginate: false,
      }),
    );
    const pageToken = (nextQuery as { pageToken?: string } | null)?.pageToken;
    const prefixes = (response as { prefixes?: string[] } | undefined)?.prefixes ?? [];
    // Hiding Skybridge's own objects can leave a page short, or empty with a token: callers loop on the token.
    return {
      objects: files
        .filter((file) => isVisible(file.name))
        .map((file) => objectInfoFrom(file.name, file.metadata)),
      commonPrefixes: prefixes.filter(isVisible),
      nextContinuationToken: pageToken || undefined,
    };
  }

  async head(key: string): Promise<ObjectInfo> {
    const [metadata] = await this.call(() => this.bucket.file(key).getMetadata());
    return objectInfoFrom(key, metadata);
  }

  async get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable }> {
    if (range) assertValidRange(range);
    const [metadata] = await this.call(() => this.bucket.file(key).getMetadata());
    // Pinned to the generation just described, so the body matches the info even if the key is overwritten.
    const file = this.bucket.file(key, { generation: metadata.generation });
    // The stored bytes, as S3 would serve them: no decompressive transcoding of gzip-encoded objects.
    // Each download prints a harmless MaxListenersExceededWarning from teeny-request 11 (upstream
    // googleapis/google-cloud-node#9185).
    const body = file.createReadStream({ start: range?.start, end: range?.end, decompress: false });
    return { info: objectInfoFrom(key, metadata), body: mapStreamFailures(body, gcsErrorToStorageError) };
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<PutResult> {
    const file = this.bucket.file(key);
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    const contentLength = Buffer.isBuffer(body) ? body.length : options.contentLength;
    await this.upload(file, source, { ...options, contentLength });
    const { md5Hash } = file.metadata;
    return {
      etag: quotedEtag(file.metadata.etag),
      md5: md5Hash ? Buffer.from(md5Hash, 'base64').toString('hex') : undefined,
    };
  }

  /** Streams `body` into `file`; afterwards `file.metadata` describes the stored object. */
  private async upload(file: File, body: Readable, options: PutOptions): Promise<void> {
    const { contentLength } = options;
    const resumable = contentLength === undefined || contentLength > SINGLE_REQUEST_UPLOAD_LIMIT;
    const destination = file.createWriteStream({
      resumable,
      chunkSize: resumable ? RESUMABLE_CHUNK_SIZE : undefined,
      contentType: options.contentType,
      metadata: { contentType: options.contentType, metadata: options.metadata },
    });
    await this.call(() => pipeline(body, destination));
    await this.repairContentType(file, options.contentType);
  }

  /**
   * A resumable upload sends the content type only as X-Upload-Content-Type,
   * which Google honours and fake-gcs-server ignores; set it afterwards there.
   */
  private async repairContentType(file: File, contentType: string | undefined): Promise<void> {
    if (contentType === undefined || file.metadata.contentType === contentType) return;
    await this.call(() => file.setMetadata({ contentType }));
  }

  /** Deleting a missing object succeeds, as on S3. */
  async delete(key: string): Promise<void> {
    await this.call(() => this.bucket.file(key).delete({ ignoreNotFound: true }));
  }

  /** A rewrite: the bytes are copied inside GCS. */
  async copyFrom(
    source: ObjectStore,
    sourceKey: string,
    key: string,
    options: PutOptions,
  ): Promise<{ etag?: string }> {
    const sourceStore = sameAccountSource(source, this, GcsObjectStore, 'GCS');
    const destination = this.bucket.file(key);
    const keep = keepsSourceMetadata(options);
    const [, response] = await this.call(() =>
      sourceStore.bucket
        .file(sourceKey)
        .copy(destination, keep ? {} : { contentType: options.contentType, metadata: options.metadata }),
    );
    const copied = (response as { resource?: FileMetadata } | undefined)?.resource;
    const [resource] = copied ? [copied] : await this.call(() => destination.getMetadata());
    // A rewrite keeps the source's properties; only new ones may need settling.
    return {
      etag: keep ? quotedEtag(resource.etag) : await this.settleMetadata(destination, resource, options),
    };
  }

  /** Parts are temporary objects, composed on completion: nothing to start on GCS. */
  async createMultipartUpload(): Promise<{ backendUploadId?: string }> {
    return {};
  }

  async uploadPart(
    upload: MultipartUploadRef,
    partNumber: number,
    body: Readable,
    contentLength: number,
  ): Promise<UploadedPart> {
    const file = this.bucket.file(partObjectName(upload, partNumber));
    await this.upload(file, body, { contentLength });
    const { size, md5Hash } = file.metadata;
    if (Number(size) !== contentLength) {
      await this.call(() => file.delete({ ignoreNotFound: true }));
      throw new StorageError('Invalid', `part ${partNumber} has ${size} bytes instead of ${contentLength}`);
    }
    // Reliable: the upload has checked the stored object's CRC32C against the bytes sent.
    if (!md5Hash) throw new StorageError('Invalid', `GCS reported no MD5 hash for part ${partNumber}`);
    return { partNumber, etag: `"${Buffer.from(md5Hash, 'base64').toString('hex')}"`, size: contentLength };
  }

  async completeMultipartUpload(
    upload: MultipartUploadRef,
    parts: UploadedPart[],
    options: PutOptions,
  ): Promise<{ etag?: string }> {
    if (parts.length === 0) throw new StorageError('Invalid', 'a multipart upload needs at least one part');
    const sources = await this.composeStages(
      upload,
      parts.map((part) => partObjectName(upload, part.partNumber)),
    );
    const destination = this.bucket.file(upload.key);
    const resource = await this.compose(sources, destination, {
      contentType: options.contentType,
      metadata: options.metadata,
    });
    const etag = await this.settleMetadata(destination, resource, options);
    // The object exists now: leftovers stay hidden under the reserved prefix rather than fail the upload.
    await this.deleteUploadObjects(upload).catch(() => {});
    return { etag };
  }

  async abortMultipartUpload(upload: MultipartUploadRef): Promise<void> {
    await this.deleteUploadObjects(upload);
  }

  /** Composes groups of sources into intermediate objects until one compose request can take them all. */
  private async composeStages(upload: MultipartUploadRef, sources: string[]): Promise<string[]> {
    let current = sources;
    for (let stage = 1; current.length > MAX_COMPOSE_SOURCES; stage++) {
      const intermediates = chunks(current, MAX_COMPOSE_SOURCES).map((group, index) => ({
        sources: group,
        name: stageObjectName(upload, stage, index),
      }));
      await inBatches(intermediates, ({ sources, name }) =>
        this.compose(sources, this.bucket.file(name), {}),
      );
      current = intermediates.map(({ name }) => name);
    }
    return current;
  }

  /** `bucket.combine` sends no custom metadata, so the compose request is made here. */
  private async compose(sources: string[], destination: File, resource: FileMetadata): Promise<FileMetadata> {
    const [body] = await this.call(() =>
      destination.request({
        method: 'POST',
        uri: '/compose',
        json: { destination: resource, sourceObjects: sources.map((name) => ({ name })) },
      }),
    );
    return body as FileMetadata;
  }

  /** Parts (uploaded or not listed on completion) and intermediate objects alike. */
  private async deleteUploadObjects(upload: MultipartUploadRef): Promise<void> {
    const [files] = await this.call(() => this.bucket.getFiles({ prefix: uploadPrefix(upload) }));
    await inBatches(files, (file) => this.call(() => file.delete({ ignoreNotFound: true })));
  }

  /**
   * Gives a copy or compose result exactly `options`' content type and
   * metadata, where the backend kept or merged the source's; returns the
   * object's ETag as head() reports it.
   */
  private async settleMetadata(
    file: File,
    resource: FileMetadata,
    options: PutOptions,
  ): Promise<string | undefined> {
    const patch = metadataPatch(resource, options);
    if (!patch) return quotedEtag(resource.etag);
    const [updated] = await this.call(() => file.setMetadata(patch));
    return quotedEtag(updated.etag);
  }

  private call<T>(operation: () => Promise<T>): Promise<T> {
    return mapFailures(gcsErrorToStorageError, operation);
  }
}

function objectInfoFrom(key: string, metadata: FileMetadata): ObjectInfo {
  return {
    key,
    size: Number(metadata.size ?? 0),
    etag: quotedEtag(metadata.etag),
    lastModified: metadata.updated ? new Date(metadata.updated) : undefined,
    contentType: metadata.contentType,
    metadata: stringValues(metadata.metadata),
  };
}

/** Custom metadata values may come back as numbers or null from the JSON API. */
function stringValues(metadata: FileMetadata['metadata']): Record<string, string> | undefined {
  if (!metadata) return undefined;
  const entries = Object.entries(metadata).filter(([, value]) => value !== null && value !== undefined);
  return Object.fromEntries(entries.map(([name, value]) => [name, String(value)]));
}

function isVisible(name: string): boolean {
  return !name.startsWith(reservedKeyPrefix);
}

function uploadPrefix(upload: MultipartUploadRef): string {
  return `${reservedKeyPrefix}multipart/${upload.uploadId}/`;
}

function partObjectName(upload: MultipartUploadRef, partNumber: number): string {
  return `${uploadPrefix(upload)}${String(partNumber).padStart(5, '0')}`;
}

function stageObjectName(upload: MultipartUploadRef, stage: number, index: number): string {
  return `${uploadPrefix(upload)}stage-${stage}-${String(index).padStart(5, '0')}`;
}

function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, index) =>
    items.slice(index * size, (index + 1) * size),
  );
}

/** Runs `task` on every item, PARALLEL_REQUESTS at a time. */
async function inBatches<T>(items: T[], task: (item: T) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < items.length; start += PARALLEL_REQUESTS)
    await Promise.all(items.slice(start, start + PARALLEL_REQUESTS).map(task));
}

/**
 * The PATCH that makes `resource` carry `options`' content type and exactly
 * its metadata (null removes a key), or undefined when it already does.
 */
function metadataPatch(resource: FileMetadata, options: PutOptions): FileMetadata | undefined {
  const wanted = options.metadata ?? {};
  const current = stringValues(resource.metadata) ?? {};
  const stale = Object.keys(current).filter((name) => !Object.hasOwn(wanted, name));
  const metadataDiffers =
    stale.length > 0 || Object.entries(wanted).some(([name, value]) => current[name] !== value);
  const contentTypeDiffers =
    options.contentType !== undefined && resource.contentType !== options.contentType;
  if (!metadataDiffers && !contentTypeDiffers) return undefined;
  return {
    contentType: options.contentType,
    metadata: metadataDiffers
      ? { ...wanted, ...Object.fromEntries(stale.map((name) => [name, null])) }
      : undefined,
  };
}
