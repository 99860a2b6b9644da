/**
 * S3 and S3-compatible services (MinIO, Ceph, R2, ...) through
 * `@aws-sdk/client-s3`; also GCS through its S3-compatible XML API with HMAC
 * keys. On S3-compatible services and GCS, HeadObject, GetObject and
 * PutObject of known length go as plain signed requests (s3-http.ts): the
 * bridge's hot path. AWS itself stays on the SDK for all calls (region
 * redirects, S3 Express and the rest of its endpoint rules).
 */
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { classifyFailure, mapFailures, mapStreamFailures, messageOf } from './errors.ts';
import type {
  BucketConnection,
  ByteRange,
  ListOptions,
  ListPage,
  MultipartUploadRef,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StorageProvider,
  UploadedPart,
} from './object-store.ts';
import { keepsSourceMetadata, StorageError, sameAccountSource } from './object-store.ts';
import { CONNECTION_TIMEOUT_MS, keepAliveAgents, type OutboundAgents } from './outbound-agents.ts';
import { assertValidRange, httpRangeHeader, quotedEtag, totalSizeFromContentRange } from './ranges.ts';
import { SignedS3Requests } from './s3-http.ts';

export const gcsXmlApiEndpoint = 'https://storage.googleapis.com';

/** Multipart uploads of unknown length hold at most PART_SIZE × PARTS_IN_FLIGHT in memory (and reach 78 GiB). */
const MULTIPART_PART_SIZE = 8 * 1024 * 1024;
const MULTIPART_PARTS_IN_FLIGHT = 4;
/** S3's most parts in one upload. */
const MAX_PARTS = 10_000;

/** Where a server-side copy switches from CopyObject to UploadPartCopy, and its part size. */
export interface S3CopyLimits {
  singleCopyMaxBytes: number;
  partBytes: number;
}

const defaultCopyLimits: S3CopyLimits = { singleCopyMaxBytes: 5 * 1024 ** 3, partBytes: 512 * 1024 ** 2 };

/** Runs `work` over `items`, `concurrency` at a time; the first failure stops new work and is thrown. */
async function runInPool<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export function s3ErrorToStorageError(error: unknown): StorageError {
  if (error instanceof S3ServiceException)
    return classifyFailure({
      vendorCode: s3VendorCode(error),
      httpStatus: error.$metadata.httpStatusCode,
      message: error.message === 'UnknownError' ? 'no error body (an answer to HEAD)' : error.message,
      cause: error,
    });
  const name = error instanceof Error ? error.name : undefined;
  const vendorCode = name === 'CredentialsProviderError' ? name : undefined;
  return classifyFailure({ vendorCode, message: messageOf(error), cause: error });
}

/**
 * Answers to HEAD have no body, so the SDK names a 403 `Unknown`; MinIO still
 * tells the code in a header.
 */
function s3VendorCode(error: S3ServiceException): string | undefined {
  const minioCode = error.$response?.headers['x-minio-error-code'];
  if (minioCode) return minioCode;
  return error.name === 'Unknown' ? undefined : error.name;
}

/** The client settings of each flavour: AWS itself, another S3 implementation, or GCS's XML API. */
function s3ClientConfig(connection: BucketConnection, credentials: S3Credentials): S3ClientConfig {
  const { accessKeyId, secretAccessKey, sessionToken } = credentials;
  const common = {
    credentials: { accessKeyId, secretAccessKey, sessionToken },
    endpoint: connection.endpoint,
    forcePathStyle: connection.forcePathStyle,
  };
  if (connection.provider === 'S3')
    // A bucket in another region than the configured one answers 301; follow it rather than fail.
    return { ...common, region: connection.region ?? 'us-east-1', followRegionRedirects: true };
  // Other implementations mostly reject the SDK's default flexible checksums (aws-chunked trailers).
  // cacheMiddleware resolves the middleware stack once per command class instead of on every call
  // (about 0.1 ms of the bridge's CPU per request, and much garbage). Not for AWS itself: there the
  // region-redirect and S3 Express middleware keep per-request state in the then shared context.
  const compatible = {
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    cacheMiddleware: true,
  } as const;
  if (connection.provider === 'GCS')
    return {
      ...common,
      ...compatible,
      endpoint: connection.endpoint ?? gcsXmlApiEndpoint,
      region: connection.region ?? 'auto',
      forcePathStyle: connection.forcePathStyle ?? true,
    };
  return { ...common, ...compatible, region: connection.region ?? 'us-east-1' };
}

export class S3ObjectStore implements ObjectStore {
  readonly provider: StorageProvider;
  readonly bucketName: string;
  readonly nativeCopyScope: string;
  private readonly client: S3Client;
  /** Signed requests for the hot calls; undefined on AWS itself. */
  private readonly direct?: SignedS3Requests;
  private readonly copyLimits: S3CopyLimits;

  constructor(
    connection: BucketConnection,
    credentials: S3Credentials,
    agents: OutboundAgents = {},
    copyLimits: S3CopyLimits = defaultCopyLimits,
  ) {
    this.copyLimits = copyLimits;
    this.provider = connection.provider;
    this.bucketName = connection.bucketName;
    this.nativeCopyScope = copyScopeOf(connection, credentials);
    const config = s3ClientConfig(connection, credentials);
    // One keep-alive pool for the SDK's calls and the signed ones.
    const pool = keepAliveAgents(agents);
    this.client = new S3Client({
      ...config,
      // An options object: the SDK builds its NodeHttpHandler from it, so no import of @smithy/node-http-handler.
      requestHandler: {
        ...pool,
        // The default waits forever for an endpoint that drops packets.
        connectionTimeout: CONNECTION_TIMEOUT_MS,
      },
    });
    if (connection.provider !== 'S3')
      this.direct = signedRequests(this.client, config, {
        bucketName: connection.bucketName,
        credentials,
        agents: pool,
      });
  }

  async checkAccess(): Promise<void> {
    try {
      await this.call(() => this.client.send(new HeadBucketCommand({ Bucket: this.bucketName })));
    } catch (error) {
      // A HEAD answer has no body, so a bad secret and a missing permission are both a bare 403.
      if ((error as StorageError).code !== 'AccessDenied') throw error;
      await this.listFirstKey();
    }
  }

  /** Same permission as HeadBucket (s3:ListBucket), but a 403 carries its precise code. */
  private async listFirstKey(): Promise<void> {
    await this.call(() =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.bucketName, MaxKeys: 1 })),
    );
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    const output = await this.call(() =>
      this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucketName,
          Prefix: options.prefix,
          Delimiter: options.delimiter,
          ContinuationToken: options.continuationToken,
          MaxKeys: options.maxKeys,
        }),
      ),
    );
    return listPageFrom(output);
  }

  async head(key: string): Promise<ObjectInfo> {
    const direct = this.direct;
    if (direct) return this.call(() => direct.headObject(key));
    const output = await this.call(() =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucketName, Key: key })),
    );
    return {
      key,
      size: output.ContentLength ?? 0,
      etag: quotedEtag(output.ETag),
      lastModified: output.LastModified,
      contentType: output.ContentType,
      metadata: output.Metadata,
    };
  }

  async get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable }> {
    if (range) assertValidRange(range);
    const direct = this.direct;
    if (direct) return this.call(() => direct.getObject(key, range));
    const output = await this.call(() =>
      this.client.send(
        new GetObjectCommand({
          Bucket: this.bucketName,
          Key: key,
          Range: range ? httpRangeHeader(range) : undefined,
        }),
      ),
    );
    return {
      info: objectInfoFromGet(key, output),
      body: mapStreamFailures(nodeReadable(output), s3ErrorToStorageError),
    };
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<{ etag?: string }> {
    if (Buffer.isBuffer(body)) return this.putSingle(key, body, body.length, options);
    if (options.contentLength === undefined) return this.putMultipart(key, body, options);
    return this.putSingle(key, body, options.contentLength, options);
  }

  /** One PutObject; the stream is sent as it is read. */
  private async putSingle(
    key: string,
    body: Readable | Buffer,
    contentLength: number,
    options: PutOptions,
  ): Promise<{ etag?: string }> {
    const direct = this.direct;
    if (direct) return this.call(() => direct.putObject(key, body, contentLength, options));
    const output = await this.call(() =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucketName,
          Key: key,
          Body: body,
          ContentLength: contentLength,
          ContentType: options.contentType,
          Metadata: options.metadata,
        }),
      ),
    );
    return { etag: quotedEtag(output.ETag) };
  }

  /** Unknown length: lib-storage cuts the stream into parts (a single PutObject when it is small). */
  private async putMultipart(key: string, body: Readable, options: PutOptions): Promise<{ etag?: string }> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucketName,
        Key: key,
        Body: body,
        ContentType: options.contentType,
        Metadata: options.metadata,
      },
      partSize: MULTIPART_PART_SIZE,
      queueSize: MULTIPART_PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    const output = await this.call(() => upload.done());
    return { etag: quotedEtag(output.ETag) };
  }

  async delete(key: string): Promise<void> {
    await this.call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucketName, Key: key })));
  }

  /**
   * CopyObject up to 5 GiB (one call's limit); beyond, a multipart upload
   * whose parts are UploadPartCopy ranges of the source. Either way the
   * bytes stay inside the provider.
   */
  async copyFrom(
    source: ObjectStore,
    sourceKey: string,
    key: string,
    options: PutOptions,
  ): Promise<{ etag?: string }> {
    const sourceStore = sameAccountSource(source, this, S3ObjectStore, 'S3');
    const copySource = `${sourceStore.bucketName}/${encodeURIComponent(sourceKey)}`;
    const size = options.contentLength ?? (await sourceStore.head(sourceKey)).size;
    if (size > this.copyLimits.singleCopyMaxBytes) {
      // A multipart upload takes its properties at creation: the source's must be read first.
      const properties = keepsSourceMetadata(options) ? await sourceStore.head(sourceKey) : options;
      return this.copyInParts(copySource, key, size, properties);
    }
    const replace = keepsSourceMetadata(options) ? undefined : options;
    const direct = this.direct;
    if (direct) return this.call(() => direct.copyObject(copySource, key, replace));
    const output = await this.call(() =>
      this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucketName,
          Key: key,
          CopySource: copySource,
          ...(replace
            ? { MetadataDirective: 'REPLACE', ContentType: replace.contentType, Metadata: replace.metadata }
            : { MetadataDirective: 'COPY' }),
        }),
      ),
    );
    return { etag: quotedEtag(output.CopyObjectResult?.ETag) };
  }

  private async copyInParts(
    copySource: string,
    key: string,
    size: number,
    options: PutOptions,
  ): Promise<{ etag?: string }> {
    const upload: MultipartUploadRef = { uploadId: `copy-${key}`, key };
    upload.backendUploadId = (await this.createMultipartUpload(upload, options)).backendUploadId;
    const partBytes = Math.max(this.copyLimits.partBytes, Math.ceil(size / MAX_PARTS));
    const ranges = Array.from({ length: Math.ceil(size / partBytes) }, (_, index) => ({
      partNumber: index + 1,
      first: index * partBytes,
      last: Math.min(size, (index + 1) * partBytes) - 1,
    }));
    try {
      const parts: UploadedPart[] = [];
      await runInPool(ranges, MULTIPART_PARTS_IN_FLIGHT, async ({ partNumber, first, last }) => {
        const output = await this.call(() =>
          this.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucketName,
              Key: key,
              UploadId: upload.backendUploadId,
              PartNumber: partNumber,
              CopySource: copySource,
              CopySourceRange: `bytes=${first}-${last}`,
            }),
          ),
        );
        parts.push({
          partNumber,
          etag: quotedEtag(output.CopyPartResult?.ETag) ?? '',
          size: last - first + 1,
        });
      });
      parts.sort((a, b) => a.partNumber - b.partNumber);
      return await this.completeMultipartUpload(upload, parts);
    } catch (error) {
      await this.abortMultipartUpload(upload).catch(() => {});
      throw error;
    }
  }

  async createMultipartUpload(
    upload: MultipartUploadRef,
    options: PutOptions,
  ): Promise<{ backendUploadId?: string }> {
    const output = await this.call(() =>
      this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucketName,
          Key: upload.key,
          ContentType: options.contentType,
          Metadata: options.metadata,
        }),
      ),
    );
    return { backendUploadId: output.UploadId };
  }

  async uploadPart(
    upload: MultipartUploadRef,
    partNumber: number,
    body: Readable,
    contentLength: number,
  ): Promise<UploadedPart> {
    const output = await this.call(() =>
      this.client.send(
        new UploadPartCommand({
          Bucket: this.bucketName,
          Key: upload.key,
          UploadId: this.backendUploadIdOf(upload),
          PartNumber: partNumber,
          Body: body,
          ContentLength: contentLength,
        }),
      ),
    );
    return { partNumber, etag: quotedEtag(output.ETag) ?? '', size: contentLength };
  }

  async completeMultipartUpload(
    upload: MultipartUploadRef,
    parts: UploadedPart[],
  ): Promise<{ etag?: string }> {
    const output = await this.call(() =>
      this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucketName,
          Key: upload.key,
          UploadId: this.backendUploadIdOf(upload),
          MultipartUpload: {
            Parts: parts.map(({ partNumber, etag }) => ({ PartNumber: partNumber, ETag: etag })),
          },
        }),
      ),
    );
    return { etag: quotedEtag(output.ETag) };
  }

  async abortMultipartUpload(upload: MultipartUploadRef): Promise<void> {
    try {
      await this.call(() =>
        this.client.send(
          new AbortMultipartUploadCommand({
            Bucket: this.bucketName,
            Key: upload.key,
            UploadId: this.backendUploadIdOf(upload),
          }),
        ),
      );
    } catch (error) {
      // Already gone (completed or aborted by someone else, or expired by a lifecycle rule).
      if ((error as StorageError).code !== 'NotFound') throw error;
    }
  }

  private backendUploadIdOf(upload: MultipartUploadRef): string {
    if (!upload.backendUploadId) throw new StorageError('Invalid', 'this upload has no S3 upload id');
    return upload.backendUploadId;
  }

  private call<T>(operation: () => Promise<T>): Promise<T> {
    return mapFailures(s3ErrorToStorageError, operation);
  }
}

/**
 * Undefined where the SDK's endpoint rules refuse the bucket or endpoint:
 * the SDK's calls then report that as they always did, at call time.
 */
function signedRequests(
  client: S3Client,
  config: S3ClientConfig,
  {
    bucketName,
    credentials,
    agents,
  }: { bucketName: string; credentials: S3Credentials; agents: Required<OutboundAgents> },
): SignedS3Requests | undefined {
  let endpoint: { bucketUrl: URL; signingRegion: string };
  try {
    endpoint = bucketEndpoint(client, config, bucketName);
  } catch {
    return undefined;
  }
  const { accessKeyId, secretAccessKey, sessionToken } = credentials;
  return new SignedS3Requests({
    ...endpoint,
    credentials: { accessKeyId, secretAccessKey, sessionToken },
    agents,
    connectionTimeoutMs: CONNECTION_TIMEOUT_MS,
  });
}

/** The bucket's URL and signing region, by the SDK's own endpoint rules (path-style or virtual-host). */
function bucketEndpoint(
  client: S3Client,
  config: S3ClientConfig,
  bucketName: string,
): { bucketUrl: URL; signingRegion: string } {
  const region = typeof config.region === 'string' ? config.region : 'us-east-1';
  const endpoint = client.config.endpointProvider({
    Bucket: bucketName,
    Region: region,
    Endpoint: typeof config.endpoint === 'string' ? config.endpoint : undefined,
    ForcePathStyle: config.forcePathStyle,
    UseFIPS: false,
    UseDualStack: false,
    Accelerate: false,
  });
  const authSchemes = endpoint.properties?.authSchemes as { signingRegion?: string }[] | undefined;
  return { bucketUrl: endpoint.url, signingRegion: authSchemes?.[0]?.signingRegion ?? region };
}

/** One account at one endpoint: the destination's credentials must be able to read the source. */
function copyScopeOf(connection: BucketConnection, credentials: S3Credentials): string {
  const endpoint = connection.endpoint ?? (connection.provider === 'GCS' ? gcsXmlApiEndpoint : 'aws');
  return `${connection.provider}:${endpoint}:${credentials.accessKeyId}`;
}

function listPageFrom(output: ListObjectsV2CommandOutput): ListPage {
  return {
    objects: (output.Contents ?? []).map((object) => ({
      key: object.Key ?? '',
      size: object.Size ?? 0,
      etag: quotedEtag(object.ETag),
      lastModified: object.LastModified,
    })),
    commonPrefixes: (output.CommonPrefixes ?? []).flatMap((common) => (common.Prefix ? [common.Prefix] : [])),
    nextContinuationToken: output.IsTruncated ? output.NextContinuationToken : undefined,
  };
}

function objectInfoFromGet(key: string, output: GetObjectCommandOutput): ObjectInfo {
  return {
    key,
    // A ranged answer's Content-Length is the range's; the object's size is in Content-Range.
    size: totalSizeFromContentRange(output.ContentRange) ?? output.ContentLength ?? 0,
    etag: quotedEtag(output.ETag),
    lastModified: output.LastModified,
    contentType: output.ContentType,
    metadata: output.Metadata,
  };
}

function nodeReadable(output: GetObjectCommandOutput): Readable {
  const body = output.Body;
  if (body instanceof Readable) return body;
  if (body === undefined) return Readable.from([]);
  // Only reached outside Node's HTTP handler (a web stream from a fetch-based handler).
  return Readable.fromWeb(body.transformToWebStream() as import('node:stream/web').ReadableStream);
}
