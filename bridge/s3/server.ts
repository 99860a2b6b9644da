/**
 * The S3 listener: address → operation → authenticated key → scope →
 * repository bucket → operation, with every failure answered as S3 XML.
 */
import { randomFillSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Registry } from 'prom-client';
import type { BucketCaps, CappedBy } from '../../core/buckets/caps.ts';
import type { ActiveBudget } from '../../core/credits/budgets.ts';
import type { ResolvedStorageKey } from '../../core/keys/storage-key-resolver.ts';
import type { Logger } from '../../core/logging.ts';
import {
  type HttpExchangeMeter,
  type MeasuredExchange,
  meterHttpExchange,
} from '../../core/metering/http-exchange-meter.ts';
import type { UsageRecorder } from '../../core/metering/usage-recorder.ts';
import { describeSpan, withServerSpan } from '../../core/observability/tracing.ts';
import { resolveTarget } from './addressing.ts';
import type { PayloadResult } from './auth/payload.ts';
import { S3Error, sendS3Error } from './errors.ts';
import { createS3Metrics, type S3Metrics } from './metrics.ts';
import type { MultipartUploads } from './multipart-uploads.ts';
import {
  type Operation,
  type OperationContext,
  rethrowAsS3Error,
  s3ErrorFromStorage,
  scopeAllows,
} from './operations.ts';
import type { RepositoryBuckets } from './repository-buckets.ts';
import { selectOperation } from './routing.ts';
import type { PricedBucket, S3Spending } from './spending.ts';

export interface AuthenticatedS3Request {
  key: ResolvedStorageKey;
  /** The request body decoded from its transfer framing (aws-chunked) and verified while it streams. */
  body(): Readable;
  /** Why the body stream failed verification or was cut off, once it has. */
  bodyFailure(): Error | undefined;
  /** Settles once the whole body was read: its verified checksums, or why it failed. */
  bodyVerified(): Promise<PayloadResult>;
}

/** Checks the request's signature and resolves its key; throws S3-coded errors. */
export type S3Authenticator = (
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
) => Promise<AuthenticatedS3Request>;

export interface S3ServerDependencies {
  authenticate: S3Authenticator;
  buckets: RepositoryBuckets;
  uploads: MultipartUploads;
  /** `s3.example.com` makes `<bucket>.s3.example.com` address a bucket (virtual-host style). */
  virtualHostSuffix?: string;
  log: Logger;
  metrics: Registry;
  /** Largest request header section accepted, in bytes. */
  maxHeaderSize?: number;
  /** Records one usage event per request made with a known key (BR-6); nothing is metered without it. */
  usage?: UsageRecorder;
  /** Enforces the buckets' request, egress and storage caps; none are enforced without it. */
  caps?: BucketCaps;
  /** Enforces the repositories' and keys' spending budgets; none are enforced without it. */
  spending?: S3Spending;
}

/** What a request turned out to be, filled in as it is resolved. */
interface ResolvedRequest {
  operation: string;
  key?: ResolvedStorageKey;
  bucketId?: string;
  cappedBy?: CappedBy;
  pricedAs?: PricedBucket;
  budgets?: ActiveBudget[];
}

/** 8 random bytes as upper-case hex, cut from a pool: one random fill per 512 requests, not one each. */
const requestIdPool = Buffer.alloc(4096);
let requestIdOffset = requestIdPool.length;
function requestIdOf(): string {
  if (requestIdOffset === requestIdPool.length) {
    randomFillSync(requestIdPool);
    requestIdOffset = 0;
  }
  requestIdOffset += 8;
  return requestIdPool.toString('hex', requestIdOffset - 8, requestIdOffset).toUpperCase();
}

export function createS3Server(deps: S3ServerDependencies): Server {
  const metrics = createS3Metrics(deps.metrics);
  const server = createServer({ maxHeaderSize: deps.maxHeaderSize ?? 16 * 1024 }, (req, res) => {
    const requestId = requestIdOf();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('server', 'Skybridge');
    const startedAt = performance.now();
    const resolved: ResolvedRequest = { operation: 'Unknown' };
    const meter = meterHttpExchange(res, (measured) => exchangeEnded(deps, metrics, resolved, measured));
    void withServerSpan(req.headers, (span) =>
      handle(req, res, deps, resolved, meter)
        .catch((error: unknown) => answerError(req, res, error, requestId, deps.log))
        .finally(() => {
          const seconds = (performance.now() - startedAt) / 1000;
          metrics.observe(resolved.key?.repositoryId, resolved.operation, res.statusCode, seconds);
          describeSpan(span, `S3 ${resolved.operation}`, resolved.key?.repositoryId, res.statusCode);
        }),
    );
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const code = tooLarge ? 'RequestHeaderSectionTooLarge' : 'InvalidRequest';
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${tooLarge ? 'Your request header section exceeds the maximum allowed size.' : 'The request could not be parsed.'}</Message></Error>`;
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  deps: S3ServerDependencies,
  resolved: ResolvedRequest,
  meter: HttpExchangeMeter | undefined,
): Promise<void> {
  const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split(/\?(.*)/s, 2);
  const query = new URLSearchParams(rawQuery);
  const target = resolveTarget(req.headers.host, rawPath, deps.virtualHostSuffix);
  const operation = selectOperation(
    req.method ?? 'GET',
    target.bucket !== undefined,
    target.key !== undefined,
    query,
    req.headers,
  );
  resolved.operation = operation.name;
  const { key, body, bodyFailure, bodyVerified } = await deps.authenticate(req, rawPath, rawQuery);
  resolved.key = key;
  assertKeyUsable(key, operation);
  // A virtual bucket (BR-8) names the member that served the request, for metering and caps.
  const servedBy = (bucketId: string) => {
    resolved.bucketId = bucketId;
  };
  const served = target.bucket
    ? await deps.buckets.find(key.repositoryId, target.bucket, servedBy)
    : undefined;
  resolved.bucketId = served?.bucket.id;
  resolved.pricedAs = served?.bucket;
  resolved.cappedBy = operation.cappedBy;
  if (operation.needsBucket && !served)
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist');
  if (served && deps.caps)
    await deps.caps
      .admit(served, operation.cappedBy, declaredBodySize(req))
      .catch(rethrowAsS3Error('NoSuchBucket'));
  if (deps.spending) resolved.budgets = await deps.spending.admit(key, operation.name, served?.bucket);
  const context: OperationContext = {
    req,
    res,
    query,
    repositoryId: key.repositoryId,
    buckets: deps.buckets,
    bucketName: target.bucket ?? '',
    key: target.key ?? '',
    body: meter ? () => meter.countRequestBody(body()) : body,
    bodyFailure,
    bodyVerified,
    scope: key.scope,
    storageKeyId: key.keyId,
    uploads: served?.uploads ?? deps.uploads,
  };
  await operation.run(context, served);
}

function exchangeEnded(
  deps: S3ServerDependencies,
  metrics: S3Metrics,
  resolved: ResolvedRequest,
  measured: MeasuredExchange,
): void {
  metrics.countBytes(resolved.key?.repositoryId, resolved.operation, measured.bytesIn, measured.bytesOut);
  if (deps.usage) recordUsage(deps.usage, resolved, measured);
  const succeeded = measured.status >= 200 && measured.status < 300;
  if (deps.caps && resolved.bucketId && succeeded)
    deps.caps.recordTransfer(resolved.bucketId, resolved.cappedBy, measured.bytesIn, measured.bytesOut);
  if (deps.spending && resolved.key && resolved.budgets)
    deps.spending.charge(resolved.key, resolved.budgets, resolved.pricedAs, measured.bytesOut);
}

/** The object bytes a request says it brings (0 when it says nothing); checked against the storage cap. */
function declaredBodySize(req: IncomingMessage): number {
  const declared = Number(req.headers['x-amz-decoded-content-length'] ?? req.headers['content-length'] ?? 0);
  return Number.isFinite(declared) && declared > 0 ? declared : 0;
}

/** Requests without a known key have no repository to charge: only the Prometheus counters see them. */
function recordUsage(usage: UsageRecorder, resolved: ResolvedRequest, measured: MeasuredExchange): void {
  const { key } = resolved;
  if (!key) return;
  usage.record({
    api: 'S3',
    organizationId: key.organizationId,
    repositoryId: key.repositoryId,
    keyId: key.keyId,
    bucketId: resolved.bucketId ?? null,
    operation: resolved.operation,
    ...measured,
  });
}

function assertKeyUsable(key: ResolvedStorageKey, operation: Operation): void {
  if (key.revoked)
    throw new S3Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  if (key.expiresAt && key.expiresAt <= new Date())
    throw new S3Error('AccessDenied', 'The access key has expired');
  if (!scopeAllows(key.scope, operation.permission)) {
    throw new S3Error('AccessDenied', `This key's ${key.scope} scope does not allow ${operation.name}`);
  }
}

function answerError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  requestId: string,
  log: Logger,
): void {
  const s3Error = asS3Error(error);
  if (s3Error.code === 'InternalError') log.error({ err: error, requestId }, 's3 request failed');
  // An unread request body would otherwise be drained: close the connection instead.
  if (!req.complete) res.setHeader('connection', 'close');
  sendS3Error(res, {
    code: s3Error.code,
    message: s3Error.message,
    resource: (req.url ?? '/').split('?')[0] ?? '/',
    requestId,
    httpStatus: s3Error.httpStatus,
  });
  if (!req.complete) res.once('finish', () => req.destroy());
}

/** Errors with an S3 code (ours, or the auth layer's, which carry `code` and `httpStatus`) keep it. */
function asS3Error(error: unknown): { code: string; message: string; httpStatus: number } {
  if (error instanceof S3Error)
    return { code: error.code, message: error.message, httpStatus: error.httpStatus };
  const coded = error as { code?: unknown; httpStatus?: unknown; message?: string };
  if (typeof coded?.code === 'string' && typeof coded.httpStatus === 'number') {
    return { code: coded.code, message: coded.message ?? coded.code, httpStatus: coded.httpStatus };
  }
  const fromStorage = s3ErrorFromStorage(error, 'NoSuchKey');
  return { code: fromStorage.code, message: fromStorage.message, httpStatus: fromStorage.httpStatus };
}
