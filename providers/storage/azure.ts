/**
 * Azure Blob Storage through `@azure/storage-blob`: shared key, SAS token or
 * connection string. A bucket is a container.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Agent } from 'node:http';
import { pipeline, Readable, Transform } from 'node:stream';
import {
  AnonymousCredential,
  type BlobDownloadResponseParsed,
  type BlobItem,
  type BlobPrefix,
  BlobServiceClient,
  type BlockBlobClient,
  type ContainerClient,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { type Block, blockId, MAX_BLOCK_SIZE, MAX_BLOCKS_PER_BLOB, splitIntoBlocks } from './azure-blocks.ts';
import { type PutBlobTarget, putBlob } from './azure-http.ts';
import { decodeAzureMetadata, encodeAzureMetadata } from './azure-metadata.ts';
import { classifyFailure, mapFailures, mapStreamFailures, messageOf } from './errors.ts';
import { httpEndpoint } from './http-exchange.ts';
import {
  type AzureCredentials,
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
  StorageError,
  type StorageProvider,
  sameAccountSource,
  type UploadedPart,
} from './object-store.ts';
import {
  agentForUrl,
  CONNECTION_TIMEOUT_MS,
  keepAliveAgents,
  type OutboundAgents,
} from './outbound-agents.ts';
import { assertValidRange, quotedEtag, totalSizeFromContentRange } from './ranges.ts';

/** uploadStream holds at most BUFFER_SIZE × CONCURRENCY of a stream in memory (and reaches 195 GiB in 50,000 blocks). */
const UPLOAD_BUFFER_SIZE = 4 * 1024 * 1024;
const UPLOAD_CONCURRENCY = 4;
/** Known lengths up to this go in one Put Blob request (Azure takes up to 5000 MiB; retries resend less). */
const SINGLE_PUT_LIMIT = 256 * 1024 * 1024;
/** Resumptions of a download interrupted mid-body. */
const DOWNLOAD_RESUME_ATTEMPTS = 3;
/** Polls of a server-side copy still in progress (the SDK waits 15 s between them). */
const COPY_POLL_INTERVAL_MS = 1_000;

interface AzureErrorShape {
  code?: unknown;
  statusCode?: unknown;
}

/** RestError carries x-ms-error-code (or Node's network code) in `code`, and `statusCode`. */
export function azureErrorToStorageError(error: unknown): StorageError {
  const shape: AzureErrorShape = typeof error === 'object' && error !== null ? error : {};
  const message = messageOf(error);
  return classifyFailure({
    vendorCode: azureVendorCode(shape.code, message),
    httpStatus: typeof shape.statusCode === 'number' ? shape.statusCode : undefined,
    message,
    cause: error,
  });
}

/**
 * Azure answers a bad signature with AuthenticationFailed; Azurite says
 * AuthorizationFailure (Azure's code for a refused permission or network rule)
 * with Azure's authentication message, which tells the two apart.
 */
function azureVendorCode(code: unknown, message: string): string | undefined {
  if (typeof code !== 'string') return undefined;
  const failedToAuthenticate = message.startsWith('Server failed to authenticate the request');
  return code === 'AuthorizationFailure' && failedToAuthenticate ? 'AuthenticationFailed' : code;
}

export function defaultBlobEndpoint(accountName: string): string {
  return `https://${accountName}.blob.core.windows.net`;
}

/**
 * `agent` is core-rest-pipeline's own pipeline option (it installs its
 * agentPolicy); storage-blob passes its options through to it but leaves the
 * field out of its type. One agent serves every request, so it is chosen by
 * the endpoint's scheme.
 */
function pipelineOptions(endpoint: string, agents: OutboundAgents): StoragePipelineOptions {
  const options: StoragePipelineOptions & { agent?: Agent } = {
    // A few quick retries (the SDK's default waits 4 s, 8 s, 16 s): callers retry Transient failures themselves.
    retryOptions: { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 8_000 },
    agent: agentForUrl(endpoint, agents),
  };
  return options;
}

function createServiceClient(
  connection: BucketConnection,
  credentials: AzureCredentials,
  agents: OutboundAgents,
): BlobServiceClient {
  if (credentials.kind === 'AZURE_CONNECTION_STRING')
    return serviceClientFromConnectionString(credentials.connectionString, agents);
  const endpoint = connection.endpoint ?? defaultBlobEndpoint(credentials.accountName);
  const options = pipelineOptions(endpoint, agents);
  if (credentials.kind === 'AZURE_SHARED_KEY')
    return new BlobServiceClient(
      endpoint,
      new StorageSharedKeyCredential(credentials.accountName, credentials.accountKey),
      options,
    );
  const url = new URL(endpoint);
  url.search = credentials.sasToken.replace(/^\?/, '');
  return new BlobServiceClient(url.toString(), new AnonymousCredential(), options);
}

/** The connection string names the endpoint (and so the agent's scheme): read it once, then build for real. */
function serviceClientFromConnectionString(
  connectionString: string,
  agents: OutboundAgents,
): BlobServiceClient {
  try {
    const endpoint = BlobServiceClient.fromConnectionString(connectionString).url;
    return BlobServiceClient.fromConnectionString(connectionString, pipelineOptions(endpoint, agents));
  } catch {
    // The SDK's message may quote the string, key included.
    throw new StorageError('InvalidCredentials', 'the Azure connection string is malformed');
  }
}

/**
 * One account at one endpoint. A shared key (given as such or in a
 * connection string) reads any blob of its account; a SAS only what it
 * grants, so SAS stores share a scope only with the same token (hashed here).
 */
function copyScopeOf(service: BlobServiceClient): string {
  const url = new URL(service.url);
  const account = `azure:${url.origin}/${service.accountName}`;
  if (service.credential instanceof StorageSharedKeyCredential) return `${account}:shared-key`;
  return `${account}:sas:${createHash('sha256').update(url.search).digest('hex')}`;
}

export class AzureObjectStore implements ObjectStore {
  readonly provider: StorageProvider = 'AZURE';
  readonly bucketName: string;
  readonly nativeCopyScope: string;
  private readonly container: ContainerClient;
  private readonly putTarget: PutBlobTarget;

  constructor(connection: BucketConnection, credentials: AzureCredentials, agents: OutboundAgents = {}) {
    this.bucketName = connection.bucketName;
    const service = createServiceClient(connection, credentials, agents);
    this.container = service.getContainerClient(connection.bucketName);
    this.nativeCopyScope = copyScopeOf(service);
    this.putTarget = {
      endpoint: httpEndpoint(new URL(service.url), keepAliveAgents(agents), CONNECTION_TIMEOUT_MS),
      sharedKey: service.credential instanceof StorageSharedKeyCredential ? service.credential : undefined,
    };
  }

  async checkAccess(): Promise<void> {
    try {
      await this.call(() => this.container.getProperties());
    } catch (error) {
      // A SAS may allow listing and object work without container-level reads.
      if ((error as StorageError).code !== 'AccessDenied') throw error;
      await this.list({ maxKeys: 1 });
    }
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    const { delimiter, ...page } = options;
    return this.call(() => (delimiter ? this.listHierarchy(delimiter, page) : this.listFlat(page)));
  }

  private async listFlat(options: ListOptions): Promise<ListPage> {
    const pages = this.container
      .listBlobsFlat({ prefix: options.prefix })
      .byPage({ continuationToken: options.continuationToken, maxPageSize: options.maxKeys });
    const { value: page } = await pages.next();
    if (!page) return { objects: [], commonPrefixes: [] };
    return {
      objects: page.segment.blobItems.map(objectInfoFromItem),
      commonPrefixes: [],
      nextContinuationToken: page.continuationToken || undefined,
    };
  }

  private async listHierarchy(delimiter: string, options: ListOptions): Promise<ListPage> {
    const pages = this.container
      .listBlobsByHierarchy(delimiter, { prefix: options.prefix })
      .byPage({ continuationToken: options.continuationToken, maxPageSize: options.maxKeys });
    const { value: page } = await pages.next();
    if (!page) return { objects: [], commonPrefixes: [] };
    return {
      objects: page.segment.blobItems.map(objectInfoFromItem),
      commonPrefixes: (page.segment.blobPrefixes ?? []).map((prefix: BlobPrefix) => prefix.name),
      nextContinuationToken: page.continuationToken || undefined,
    };
  }

  async head(key: string): Promise<ObjectInfo> {
    const properties = await this.call(() => this.container.getBlobClient(key).getProperties());
    return {
      key,
      size: properties.contentLength ?? 0,
      etag: quotedEtag(properties.etag),
      lastModified: properties.lastModified,
      contentType: properties.contentType,
      metadata: decodeAzureMetadata(properties.metadata),
    };
  }

  async get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable }> {
    if (range) assertValidRange(range);
    const count = range?.end === undefined ? undefined : range.end - range.start + 1;
    const response = await this.call(() =>
      this.container
        .getBlobClient(key)
        .download(range?.start ?? 0, count, { maxRetryRequests: DOWNLOAD_RESUME_ATTEMPTS }),
    );
    return {
      info: objectInfoFromDownload(key, response),
      body: mapStreamFailures(nodeReadable(response.readableStreamBody), azureErrorToStorageError),
    };
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<PutResult> {
    const blob = this.container.getBlockBlobClient(key);
    const uploadOptions = {
      blobHTTPHeaders: { blobContentType: options.contentType },
      metadata: encodeAzureMetadata(options.metadata),
    };
    const length = Buffer.isBuffer(body) ? body.length : options.contentLength;
    if (Buffer.isBuffer(body) || (length !== undefined && length <= SINGLE_PUT_LIMIT)) {
      // One Put Blob, streamed; Azure answers with the MD5 it computed over what it stored.
      const response = await this.call(() =>
        putBlob(this.putTarget, blob.url, body, length ?? 0, {
          contentType: options.contentType,
          metadata: uploadOptions.metadata,
        }),
      );
      const md5 = response.contentMd5
        ? Buffer.from(response.contentMd5, 'base64').toString('hex')
        : undefined;
      return { etag: quotedEtag(response.etag), md5 };
    }
    // Staged blocks: bounded memory whatever the length, and no need to know it.
    const response = await this.call(() =>
      blob.uploadStream(body, UPLOAD_BUFFER_SIZE, UPLOAD_CONCURRENCY, uploadOptions),
    );
    return { etag: quotedEtag(response.etag) };
  }

  /** Deleting a missing blob succeeds, as on S3. */
  async delete(key: string): Promise<void> {
    await this.call(() => this.container.getBlobClient(key).deleteIfExists({ deleteSnapshots: 'include' }));
  }

  /**
   * Copy Blob, then the requested properties: the copy keeps the source's. A
   * same-account source needs no SAS: the destination's shared key (or the
   * SAS in the source's URL) authorises reading it.
   */
  async copyFrom(
    source: ObjectStore,
    sourceKey: string,
    key: string,
    options: PutOptions,
  ): Promise<{ etag?: string }> {
    const sourceStore = sameAccountSource(source, this, AzureObjectStore, 'Azure');
    const blob = this.container.getBlobClient(key);
    const sourceUrl = sourceStore.container.getBlobClient(sourceKey).url;
    const copied = await this.call(async () => {
      const copy = await blob.beginCopyFromURL(sourceUrl, { intervalInMs: COPY_POLL_INTERVAL_MS });
      return copy.pollUntilDone();
    });
    if (keepsSourceMetadata(options)) return { etag: quotedEtag(copied.etag) };
    await this.call(() => blob.setHTTPHeaders({ blobContentType: options.contentType }));
    const response = await this.call(() => blob.setMetadata(encodeAzureMetadata(options.metadata)));
    return { etag: quotedEtag(response.etag) };
  }

  /**
   * Parts are blocks staged on the destination blob, invisible until
   * committed; nothing to set up. Any commit to the blob (a completed upload,
   * a put) discards its uncommitted blocks: of two uploads to one key, only
   * the first to complete can.
   */
  async createMultipartUpload(): Promise<{ backendUploadId?: string }> {
    return {};
  }

  /** One block per MAX_BLOCK_SIZE bytes of the part, streamed as it comes; the ETag is the part's MD5. */
  async uploadPart(
    upload: MultipartUploadRef,
    partNumber: number,
    body: Readable,
    contentLength: number,
  ): Promise<UploadedPart> {
    const blob = this.container.getBlockBlobClient(upload.key);
    const md5 = createHash('md5');
    const locator: string[] = [];
    for await (const block of splitIntoBlocks(hashing(body, md5), contentLength, MAX_BLOCK_SIZE)) {
      const id = blockId(upload.uploadId, partNumber, block.index);
      await this.stageBlock(blob, id, block);
      locator.push(id);
    }
    return { partNumber, etag: `"${md5.digest('hex')}"`, size: contentLength, locator };
  }

  /** When the block's body itself failed (shorter than declared, the client's own failure), that says why. */
  private async stageBlock(blob: BlockBlobClient, id: string, block: Block): Promise<void> {
    await this.call(() =>
      blob.stageBlock(id, sendOnce(block.body), block.length).catch((error: unknown) => {
        throw block.body.errored ?? error;
      }),
    );
  }

  async completeMultipartUpload(
    upload: MultipartUploadRef,
    parts: UploadedPart[],
    options: PutOptions,
  ): Promise<{ etag?: string }> {
    const blockIds = parts.flatMap((part) => {
      if (!part.locator) throw new StorageError('Invalid', `part ${part.partNumber} has no Azure block ids`);
      return part.locator;
    });
    if (blockIds.length > MAX_BLOCKS_PER_BLOB)
      throw new StorageError('Invalid', `Azure commits a blob from at most ${MAX_BLOCKS_PER_BLOB} blocks`);
    const response = await this.call(() =>
      this.container.getBlockBlobClient(upload.key).commitBlockList(blockIds, {
        blobHTTPHeaders: { blobContentType: options.contentType },
        metadata: encodeAzureMetadata(options.metadata),
      }),
    );
    return { etag: quotedEtag(response.etag) };
  }

  /**
   * Azure has no call that drops uncommitted blocks: they expire after 7
   * days, or go with the blob's next commit. Committing an empty list to drop
   * them would leave an empty blob where there was none (or replace one).
   */
  async abortMultipartUpload(): Promise<void> {}

  private call<T>(operation: () => Promise<T>): Promise<T> {
    return mapFailures(azureErrorToStorageError, operation);
  }
}

function objectInfoFromItem(item: BlobItem): ObjectInfo {
  return {
    key: item.name,
    size: item.properties.contentLength ?? 0,
    // Listings give ETags unquoted, property reads quoted.
    etag: quotedEtag(item.properties.etag),
    lastModified: item.properties.lastModified,
    contentType: item.properties.contentType,
  };
}

function objectInfoFromDownload(key: string, response: BlobDownloadResponseParsed): ObjectInfo {
  return {
    key,
    // A ranged answer's Content-Length is the range's; the blob's size is in Content-Range.
    size: totalSizeFromContentRange(response.contentRange) ?? response.contentLength ?? 0,
    etag: quotedEtag(response.etag),
    lastModified: response.lastModified,
    contentType: response.contentType,
    metadata: decodeAzureMetadata(response.metadata),
  };
}

/**
 * The SDK retries a failed request (a 500, a reset) by asking for its body
 * again; a stream that was sent already would leave the retry waiting for
 * bytes that never come, so the retry fails instead.
 */
function sendOnce(body: Readable): () => Readable {
  let sent = false;
  return () => {
    if (sent)
      throw new StorageError('Transient', 'Azure failed a block, and a streamed block cannot be sent again');
    sent = true;
    return body;
  };
}

/** `body`'s bytes, fed to `hash` on their way; destroying the result destroys `body`. */
function hashing(body: Readable, hash: Hash): Readable {
  const passThrough = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  // Failures reach the reader through the returned stream.
  return pipeline(body, passThrough, () => {});
}

function nodeReadable(body: NodeJS.ReadableStream | undefined): Readable {
  if (body === undefined) return Readable.from([]);
  return body instanceof Readable ? body : new Readable().wrap(body);
}
