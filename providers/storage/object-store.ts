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

export interface ByteRange {
  start: number;
  /** Inclusive; open-ended when absent. */
  end?: number;
}

export interface ObjectStore {
  readonly provider: StorageProvider;
  readonly bucketName: string;
  /** Proves the credentials reach the bucket (HeadBucket, bucket metadata, container properties). */
  checkAccess(): Promise<void>;
  list(options?: ListOptions): Promise<ListPage>;
  head(key: string): Promise<ObjectInfo>;
  get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable }>;
  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<{ etag?: string }>;
  delete(key: string): Promise<void>;
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
