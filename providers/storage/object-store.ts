/**
 * One interface over every object-storage backend. Adapters (s3.ts, gcs.ts,
 * azure.ts) turn these calls into one vendor's SDK calls and map the
 * vendor's errors to StorageError codes. Bodies are streams: nothing here
 * holds an object in memory.
 */
import type { Readable } from 'node:stream';

export const storageProviders = ['S3', 'S3_COMPATIBLE', 'GCS', 'AZURE'] as const;
export type StorageProvider = (typeof storageProviders)[number];

export type BucketCredentials =
  | { kind: 'S3_ACCESS_KEY'; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { kind: 'GCS_SERVICE_ACCOUNT'; serviceAccountJson: string }
  | { kind: 'GCS_HMAC'; accessKeyId: string; secretAccessKey: string }
  | { kind: 'AZURE_SHARED_KEY'; accountName: string; accountKey: string }
  | { kind: 'AZURE_SAS'; accountName: string; sasToken: string }
  | { kind: 'AZURE_CONNECTION_STRING'; connectionString: string };

export type AzureCredentials = Extract<BucketCredentials, { kind: `AZURE_${string}` }>;

export function isAzureCredentials(credentials: BucketCredentials): credentials is AzureCredentials {
  return credentials.kind.startsWith('AZURE_');
}

/** Everything needed to reach one bucket (or Azure container). */
export interface BucketConnection {
  provider: StorageProvider;
  /** Bucket name, or container name on Azure. */
  bucketName: string;
  region?: string;
  /** Custom endpoint: S3-compatible services, emulators, sovereign clouds. */
  endpoint?: string;
  /** S3 only: path-style addressing (`endpoint/bucket/key`). */
  forcePathStyle?: boolean;
  credentials: BucketCredentials;
}

export interface ObjectInfo {
  key: string;
  size: number;
  etag?: string;
  lastModified?: Date;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  continuationToken?: string;
  maxKeys?: number;
}

export interface ListPage {
  objects: ObjectInfo[];
  commonPrefixes: string[];
  /** Present when more results follow; pass it back as `continuationToken`. */
  nextContinuationToken?: string;
}

export interface PutOptions {
  /** Required by some backends for a single-shot upload; adapters fall back to multipart streaming without it. */
  contentLength?: number;
  contentType?: string;
  metadata?: Record<string, string>;
}

/** A copy given neither a content type nor metadata keeps the source's. */
export const keepsSourceMetadata = (options: PutOptions) =>
  options.contentType === undefined && options.metadata === undefined;

/** What a put stored. */
export interface PutResult {
  etag?: string;
  /** Hex MD5 of the stored bytes, when the backend computed and reported one (Azure Put Blob, GCS). */
  md5?: string;
}

export interface ByteRange {
  start: number;
  /** Inclusive; open-ended when absent. */
  end?: number;
}

/** A multipart upload as an adapter sees it. */
export interface MultipartUploadRef {
  key: string;
  /**
   * Skybridge's id of the upload: 32 lower-case hex characters. Adapters that
   * assemble uploads themselves name their pieces after it (GCS temporary
   * objects, Azure block ids).
   */
  uploadId: string;
  /** The backend's own id, when it has one (S3's UploadId). */
  backendUploadId?: string;
}

/** One stored part, as recorded after UploadPart and handed back on completion and abort. */
export interface UploadedPart {
  partNumber: number;
  /** Quoted, S3 style: the hex MD5 of the part's bytes where the backend gives or allows one. */
  etag: string;
  size: number;
  /** Where the adapter keeps the part, when it needs more than the part number (Azure block ids). */
  locator?: string[];
}

/** The parts of a multipart upload and the limits S3 sets on them. */
export const multipartLimits = {
  maxParts: 10_000,
  minPartSize: 5 * 1024 * 1024,
  maxPartSize: 5 * 1024 * 1024 * 1024,
} as const;

export interface ObjectStore {
  readonly provider: StorageProvider;
  readonly bucketName: string;
  /**
   * Two stores with the same scope can copy between each other on the
   * backend (same provider, endpoint and account credentials); undefined when
   * the adapter cannot copy server-side.
   */
  readonly nativeCopyScope?: string;
  /** Proves the credentials reach the bucket (HeadBucket, bucket metadata, container properties). */
  checkAccess(): Promise<void>;
  list(options?: ListOptions): Promise<ListPage>;
  head(key: string): Promise<ObjectInfo>;
  get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable }>;
  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<PutResult>;
  delete(key: string): Promise<void>;
  /**
   * Server-side copy from `source` (a store whose nativeCopyScope equals
   * this one's) to `key`, with the given content type and metadata, or the
   * source's when `options` gives neither (`keepsSourceMetadata`). The
   * object's bytes do not pass through Skybridge. `contentLength`, the
   * source's size when the caller knows it, saves a look at the source.
   */
  copyFrom(
    source: ObjectStore,
    sourceKey: string,
    key: string,
    options: PutOptions,
  ): Promise<{ etag?: string }>;

  /** Starts an upload; no object is visible under `key` until it completes. */
  createMultipartUpload(
    upload: MultipartUploadRef,
    options: PutOptions,
  ): Promise<{ backendUploadId?: string }>;
  /** Stores one part (streamed: `contentLength` bytes of `body`); uploading a part number again replaces it. */
  uploadPart(
    upload: MultipartUploadRef,
    partNumber: number,
    body: Readable,
    contentLength: number,
  ): Promise<UploadedPart>;
  /**
   * Assembles `parts` (ascending part numbers, already checked against what
   * was uploaded) into the object, with `options`' content type and metadata,
   * and removes whatever the upload left behind.
   */
  completeMultipartUpload(
    upload: MultipartUploadRef,
    parts: UploadedPart[],
    options: PutOptions,
  ): Promise<{ etag?: string }>;
  /** Removes every part uploaded so far; `parts` is what was recorded (an adapter may find more itself). */
  abortMultipartUpload(upload: MultipartUploadRef, parts: UploadedPart[]): Promise<void>;
}

export const storageErrorCodes = [
  'NotFound',
  'AccessDenied',
  'InvalidCredentials',
  'Throttled',
  'QuotaExceeded',
  'Transient',
  'Invalid',
] as const;
export type StorageErrorCode = (typeof storageErrorCodes)[number];

/** A backend failure in Skybridge's terms; `vendorCode` keeps the provider's own code for diagnosis. */
export class StorageError extends Error {
  readonly code: StorageErrorCode;
  readonly vendorCode?: string;
  readonly httpStatus?: number;
  constructor(
    code: StorageErrorCode,
    message: string,
    details: { vendorCode?: string; httpStatus?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
    this.name = 'StorageError';
    this.code = code;
    this.vendorCode = details.vendorCode;
    this.httpStatus = details.httpStatus;
  }
  /** Worth retrying with backoff. */
  get retryable(): boolean {
    return this.code === 'Throttled' || this.code === 'Transient';
  }
}

/**
 * `source` as a store of `destination`'s own class in the same account (its
 * nativeCopyScope), the only source a server-side copy can read from;
 * `account` names the kind of account in the error.
 */
export function sameAccountSource<Store extends ObjectStore>(
  source: ObjectStore,
  destination: Store,
  storeClass: abstract new (...args: never[]) => Store,
  account: string,
): Store {
  if (!(source instanceof storeClass) || source.nativeCopyScope !== destination.nativeCopyScope)
    throw new StorageError('Invalid', `a server-side copy needs a source in the same ${account} account`);
  return source;
}

/**
 * Keys under this prefix belong to Skybridge (e.g. GCS multipart parts
 * waiting to be composed): adapters hide them from listings and the bridge
 * refuses them as object keys.
 */
export const reservedKeyPrefix = '.skybridge/';
