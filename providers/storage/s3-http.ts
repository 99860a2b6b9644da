/**
 * The hot single-object calls of an S3-compatible store (HeadObject,
 * GetObject, PutObject of known length) as SigV4-signed `node:http(s)`
 * requests. The AWS SDK's middleware stack costs more CPU and garbage per
 * small request than the whole rest of the bridge; everything else stays on
 * the SDK (s3.ts). Answers mean what the SDK's mean: same headers read the
 * same way, same failures classified by the same table (errors.ts).
 */
import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { XMLParser } from 'fast-xml-parser';
import { awsUriEncode, EMPTY_SHA256, signRequestHeaders } from '../../core/aws/sigv4.ts';
import { classifyFailure, mapStreamFailures, messageOf, networkErrorCode } from './errors.ts';
import type { ByteRange, ObjectInfo, PutOptions, StorageError } from './object-store.ts';
import type { OutboundAgents } from './outbound-agents.ts';
import { httpRangeHeader, quotedEtag, totalSizeFromContentRange } from './ranges.ts';

/** Error answers are a few hundred bytes of XML; read no more than this of one. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const META_PREFIX = 'x-amz-meta-';

export interface SignedS3Target {
  /** The bucket's URL, path-style or virtual-host, as the SDK's endpoint rules resolve it. */
  bucketUrl: URL;
  signingRegion: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  agents: Required<OutboundAgents>;
  connectionTimeoutMs: number;
}

const errorParser = new XMLParser({ parseTagValue: false });

export class SignedS3Requests {
  readonly #target: SignedS3Target;
  readonly #transport: typeof http.request;
  readonly #agent: http.Agent;
  readonly #basePath: string;

  constructor(target: SignedS3Target) {
    this.#target = target;
    const secure = target.bucketUrl.protocol === 'https:';
    this.#transport = secure ? https.request : http.request;
    this.#agent = secure ? target.agents.httpsAgent : target.agents.httpAgent;
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
    };
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    for (const [name, value] of Object.entries(options.metadata ?? {}))
      headers[`${META_PREFIX}${name}`] = value;
    const response = await this.#send('PUT', key, headers, body);
    response.resume();
    return { etag: quotedEtag(response.headers.etag) };
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
    const options: http.RequestOptions = {
      method,
      hostname,
      port,
      path,
      headers: signedHeaders,
      agent: this.#agent,
    };
    const response = await this.#exchange(options, body);
    if (response.statusCode !== undefined && response.statusCode < 300) return response;
    throw await failureOf(response);
  }

  /** Sends once; a request without a stream body is sent again once if a kept-alive socket was already closed. */
  async #exchange(options: http.RequestOptions, body?: Readable | Buffer): Promise<IncomingMessage> {
    const attempt = { reusedSocket: false };
    try {
      return await this.#exchangeOnce(options, body, attempt);
    } catch (error) {
      const resendable = body === undefined || Buffer.isBuffer(body);
      if (!(attempt.reusedSocket && resendable && networkErrorCode(error) === 'ECONNRESET'))
        throw networkFailure(error);
      return this.#exchangeOnce(options, body, attempt).catch((retryError: unknown) => {
        throw networkFailure(retryError);
      });
    }
  }

  #exchangeOnce(
    options: http.RequestOptions,
    body: Readable | Buffer | undefined,
    attempt: { reusedSocket: boolean },
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      // Throws at once on invalid header characters (e.g. in metadata), before anything is sent.
      const request = this.#transport(options);
      request.once('response', resolve);
      // `on`, not `once`: a body that fails after an early answer makes a late error, which must not go unhandled.
      request.on('error', (error) => {
        attempt.reusedSocket = request.reusedSocket;
        reject(error);
      });
      abortSlowConnect(request, this.#target.connectionTimeoutMs);
      writeBody(request, body);
    });
  }
}

function writeBody(request: ClientRequest, body: Readable | Buffer | undefined): void {
  if (body === undefined || Buffer.isBuffer(body)) {
    request.end(body);
    return;
  }
  // A body that fails (cut off, or refused by the bridge's verification) must not become an object.
  body.once('error', (error) => request.destroy(error));
  // An early answer (an error while the body is still flowing) ends the exchange: stop sending, and
  // close the connection once the answer is read, as it cannot carry another request.
  request.once('response', (response) => {
    if (request.writableFinished) return;
    body.unpipe(request);
    response.once('end', () => request.destroy());
  });
  body.pipe(request);
}

/** The SDK's `connectionTimeout`: an endpoint that drops packets would otherwise be waited on for minutes. */
function abortSlowConnect(request: ClientRequest, timeoutMs: number): void {
  request.once('socket', (socket) => {
    if (!socket.connecting) return;
    const timer = setTimeout(() => {
      const error = Object.assign(new Error(`no connection within ${timeoutMs} ms`), {
        name: 'TimeoutError',
      });
      request.destroy(error);
    }, timeoutMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    socket.once('connect', clear).once('close', clear);
  });
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
  const { Code, Message } = parseErrorXml(await readSmallBody(response));
  const minioCode = response.headers['x-minio-error-code'];
  const httpStatus = response.statusCode;
  return classifyFailure({
    vendorCode:
      (typeof minioCode === 'string' ? minioCode : undefined) ??
      Code ??
      (httpStatus === 404 ? 'NotFound' : undefined),
    httpStatus,
    message: Message ?? 'no error body (an answer to HEAD)',
    cause: new Error(`S3 answered ${httpStatus}${Code ? ` ${Code}` : ''}`),
  });
}

function parseErrorXml(text: string): { Code?: string; Message?: string } {
  if (text === '') return {};
  try {
    const error = (errorParser.parse(text) as { Error?: { Code?: unknown; Message?: unknown } }).Error;
    return {
      Code: typeof error?.Code === 'string' ? error.Code : undefined,
      Message: typeof error?.Message === 'string' ? error.Message : undefined,
    };
  } catch {
    return {};
  }
}

async function readSmallBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= MAX_ERROR_BODY_BYTES) break;
    }
  } catch {
    // A cut-off error body still has its status.
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A failure of the connection (refused, reset, guard refusal, timeout), as the SDK path classifies it. */
function networkFailure(error: unknown): StorageError {
  return classifyFailure({ message: messageOf(error), cause: error });
}
