/**
 * One signed request to a storage service over `node:http(s)`, for the
 * adapters' hot single-object calls that skip their SDK's pipeline
 * (s3-http.ts, azure-http.ts): send, stream the body with back-pressure,
 * resend once when a kept-alive socket turned out closed, and read the short
 * XML answers: the error answers both services give as `<Error><Code>…<Message>…`.
 */
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { XMLParser } from 'fast-xml-parser';
import { classifyFailure, messageOf, networkErrorCode } from './errors.ts';
import type { StorageError } from './object-store.ts';
import type { OutboundAgents } from './outbound-agents.ts';

/** Error answers (and CopyObject's result) are a few hundred bytes of XML; read no more than this of one. */
const MAX_SMALL_ANSWER_BYTES = 64 * 1024;

// `htmlEntities` decodes character references too: MinIO writes an ETag's quotes as `&#34;`.
const xmlParser = new XMLParser({ parseTagValue: false, htmlEntities: true });

export interface HttpEndpoint {
  transport: typeof http.request;
  agent: http.Agent;
  /** The SDKs' `connectionTimeout`: an endpoint that drops packets would otherwise be waited on for minutes. */
  connectionTimeoutMs: number;
}

export function httpEndpoint(
  url: URL,
  agents: Required<OutboundAgents>,
  connectionTimeoutMs: number,
): HttpEndpoint {
  const secure = url.protocol === 'https:';
  return {
    transport: secure ? https.request : http.request,
    agent: secure ? agents.httpsAgent : agents.httpAgent,
    connectionTimeoutMs,
  };
}

/** Sends once; a request without a stream body is sent again once if a kept-alive socket was already closed. */
export async function exchange(
  endpoint: HttpEndpoint,
  options: http.RequestOptions,
  body?: Readable | Buffer,
): Promise<IncomingMessage> {
  const attempt = { reusedSocket: false };
  try {
    return await exchangeOnce(endpoint, options, body, attempt);
  } catch (error) {
    const resendable = body === undefined || Buffer.isBuffer(body);
    if (!(attempt.reusedSocket && resendable && networkErrorCode(error) === 'ECONNRESET'))
      throw networkFailure(error);
    return exchangeOnce(endpoint, options, body, attempt).catch((retryError: unknown) => {
      throw networkFailure(retryError);
    });
  }
}

function exchangeOnce(
  endpoint: HttpEndpoint,
  options: http.RequestOptions,
  body: Readable | Buffer | undefined,
  attempt: { reusedSocket: boolean },
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    // Throws at once on invalid header characters (e.g. in metadata), before anything is sent.
    const request = endpoint.transport({ ...options, agent: endpoint.agent });
    request.once('response', resolve);
    // `on`, not `once`: a body that fails after an early answer makes a late error, which must not go unhandled.
    request.on('error', (error) => {
      attempt.reusedSocket = request.reusedSocket;
      reject(error);
    });
    abortSlowConnect(request, endpoint.connectionTimeoutMs);
    writeBody(request, body);
  });
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

export interface ErrorAnswer {
  Code?: string;
  Message?: string;
}

/** An error answer's `<Error>` element (S3 and Azure both send one), as far as it can be read. */
export async function readErrorAnswer(response: IncomingMessage): Promise<ErrorAnswer> {
  return errorElementOf((await readSmallXml(response)) ?? {}) ?? {};
}

/** A short XML answer, parsed; undefined when it is empty or not XML. */
export async function readSmallXml(response: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const text = await readSmallBody(response);
  if (text === '') return undefined;
  try {
    return xmlParser.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The `<Error>` element of a parsed answer, if it is one. */
export function errorElementOf(answer: Record<string, unknown>): ErrorAnswer | undefined {
  const error = answer.Error as { Code?: unknown; Message?: unknown } | undefined;
  if (error === undefined) return undefined;
  return {
    Code: typeof error?.Code === 'string' ? error.Code : undefined,
    Message: typeof error?.Message === 'string' ? error.Message : undefined,
  };
}

async function readSmallBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= MAX_SMALL_ANSWER_BYTES) break;
    }
  } catch {
    // A cut-off error body still has its status.
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A failure of the connection (refused, reset, guard refusal, timeout), as the SDK paths classify it. */
export function networkFailure(error: unknown): StorageError {
  return classifyFailure({ message: messageOf(error), cause: error });
}
