/**
 * The hot single-object calls of an S3-compatible store (HeadObject,
 * GetObject, PutObject of known length, CopyObject) as SigV4-signed `node:http(s)`
 * requests. The AWS SDK's middleware stack costs more CPU and garbage per
 * small request than the whole rest of the bridge; everything else stays on
 * the SDK (s3.ts). Answers mean what the SDK's mean: same headers read the
 * same way, same failures classified by the same table (errors.ts).
 */
import type http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { awsUriEncode, EMPTY_SHA256, signRequestHeaders } from '../../core/aws/sigv4.ts';
import { classifyFailure, mapStreamFailures } from './errors.ts';
import {
  type ErrorAnswer,
  errorElementOf,
  exchange,
  type HttpEndpoint,
  httpEndpoint,
  networkFailure,
  readErrorAnswer,
  readSmallXml,
} from './http-exchange.ts';
import type { ByteRange, ObjectInfo, PutOptions, StorageError } from './object-store.ts';
import type { OutboundAgents } from './outbound-agents.ts';
import { httpRangeHeader, quotedEtag, totalSizeFromContentRange } from './ranges.ts';

const META_PREFIX = 'x-amz-meta-';

export interface SignedS3Target {
  /** The bucket's URL, path-style or virtual-host, as the SDK's endpoint rules resolve it. */
  bucketUrl: URL;
  signingRegion: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  agents: Required<OutboundAgents>;
  connectionTimeoutMs: number;
}

export class SignedS3Requests {
  readonly #target: SignedS3Target;
  readonly #endpoint: HttpEndpoint;
  readonly #basePath: string;

  constructor(target: SignedS3Target) {
    this.#target = target;
    this.#endpoint = httpEndpoint(target.bucketUrl, target.agents, target.connectionTimeoutMs);
    this.#basePath = target.bucketUrl.pathname.replace(/\/$/, '');
  }

  async headObject(key: string): Promise<ObjectInfo> {
    const response = await this.#send('HEAD', key, {});
    response.resume();
    return objectInfoFrom(key, response.headers);
  }

  async getObject(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable }> {
    const headers: Record<string, string> = range ? { range: httpRangeHeader(range) } : {};
    const response = await this.#send('GET', key, headers);
    return {
      info: objectInfoFrom(key, response.headers),
      body: mapStreamFailures(response, networkFailure),
    };
  }

  /** One PutObject; a stream is sent as it is read, unsigned (as the SDK sends streams). */
  async putObject(
    key: string,
    body: Readable | Buffer,
    contentLength: number,
    options: PutOptions,
  ): Promise<{ etag?: string }> {
    const headers: Record<string, string> = {
      'content-length': String(contentLength),
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      ...propertyHeaders(options),
    };
    const response = await this.#send('PUT', key, headers, body);
    response.resume();
    return { etag: quotedEtag(response.headers.etag) };
  }

  /**
   * One CopyObject inside the account: `copySource` is `<bucket>/<encoded key>`, and the
   * source's properties are kept unless `replace` gives new ones.
   */
  async copyObject(copySource: string, key: string, replace?: PutOptions): Promise<{ etag?: string }> {
    const headers: Record<string, string> = {
      'x-amz-copy-source': copySource,
      'x-amz-metadata-directive': replace ? 'REPLACE' : 'COPY',
    };
    if (replace) Object.assign(headers, propertyHeaders(replace));
    const response = await this.#send('PUT', key, headers);
    const answer = await readSmallXml(response);
    // S3 may answer 200 and then fail the copy in the body; the SDK takes that for a 503, and so do we.
    const error = answer
      ? errorElementOf(answer)
      : { Code: 'InternalError', Message: 'empty CopyObject answer' };
    if (error) throw failureFromAnswer(error, 503);
    const result = answer?.CopyObjectResult as { ETag?: unknown } | undefined;
    return { etag: quotedEtag(typeof result?.ETag === 'string' ? result.ETag : undefined) };
  }

  /** A 2xx answer (its body unread), or the failure as a StorageError. */
  async #send(
    method: string,
    key: string,
    headers: Record<string, string>,
    body?: Readable | Buffer,
  ): Promise<IncomingMessage> {
    const { hostname, port, host } = this.#target.bucketUrl;
    const path = `${this.#basePath}/${encodeKeyPath(key)}`;
    const signedHeaders = signRequestHeaders({
      method,
      path,
      headers: { host, 'x-amz-content-sha256': EMPTY_SHA256, ...headers },
      region: this.#target.signingRegion,
      credentials: this.#target.credentials,
    });
    const options: http.RequestOptions = { method, hostname, port, path, headers: signedHeaders };
    const response = await exchange(this.#endpoint, options, body);
    if (response.statusCode !== undefined && response.statusCode < 300) return response;
    throw await failureOf(response);
  }
}

/** Content-Type and user metadata as request headers. */
function propertyHeaders(options: PutOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  for (const [name, value] of Object.entries(options.metadata ?? {}))
    headers[`${META_PREFIX}${name}`] = value;
  return headers;
}

/** As the SDK encodes a key into the path: each segment URI-encoded, with `!'()*` too. */
const encodeKeyPath = (key: string): string => key.split('/').map(awsUriEncode).join('/');

function objectInfoFrom(key: string, headers: IncomingHttpHeaders): ObjectInfo {
  const lastModified = headers['last-modified'];
  return {
    key,
    // A ranged answer's Content-Length is the range's; the object's size is in Content-Range.
    size: totalSizeFromContentRange(headers['content-range']) ?? Number(headers['content-length'] ?? 0),
    etag: quotedEtag(headers.etag),
    lastModified: lastModified === undefined ? undefined : new Date(lastModified),
    contentType: headers['content-type'],
    metadata: userMetadataOf(headers),
  };
}

function userMetadataOf(headers: IncomingHttpHeaders): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (name.startsWith(META_PREFIX) && typeof value === 'string')
      metadata[name.slice(META_PREFIX.length)] = value;
  return metadata;
}

/**
 * An error answer, read as the SDK path reads it (s3.ts `s3VendorCode`):
 * MinIO's code header first (answers to HEAD have no body), then the XML
 * body's Code, and a bare 404 is `NotFound`.
 */
async function failureOf(response: IncomingMessage): Promise<StorageError> {
  const answer = await readErrorAnswer(response);
  const minioCode = response.headers['x-minio-error-code'];
  const httpStatus = response.statusCode;
  return failureFromAnswer(
    {
      Code:
        (typeof minioCode === 'string' ? minioCode : undefined) ??
        answer.Code ??
        (httpStatus === 404 ? 'NotFound' : undefined),
      Message: answer.Message ?? 'no error body (an answer to HEAD)',
    },
    httpStatus,
  );
}

function failureFromAnswer({ Code, Message }: ErrorAnswer, httpStatus: number | undefined): StorageError {
  return classifyFailure({
    vendorCode: Code,
    httpStatus,
    message: Message ?? 'no error message',
    cause: new Error(`S3 answered ${httpStatus}${Code ? ` ${Code}` : ''}`),
  });
}
