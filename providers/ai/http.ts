/**
 * HTTP to the providers that speak plain JSON over HTTP (OpenAI-compatible,
 * Anthropic, Gemini). Every request goes through the outbound guard
 * (`guardedFetch`): the endpoint is user-supplied, so it must not reach the
 * metadata service or, unless the deployment allows it, private networks.
 */

import type { ReadableStreamDefaultReader, ReadableStreamReadResult } from 'node:stream/web';
import { type EventSourceMessage, EventSourceParserStream } from 'eventsource-parser/stream';
import { guardedFetch } from '../../core/net/outbound-guard.ts';
import { type ApiDescription, connectionFailure, unexpectedAnswer } from './errors.ts';
import {
  AiProviderError,
  type ProviderCallOptions as CallOptions,
  defaultProviderTimeoutMs,
} from './provider.ts';

/** A model list is a few hundred kilobytes at most; more means this is not the API we think it is. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export interface ProviderRequest {
  method?: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

/** A complete answer, whatever its status. */
export interface ProviderAnswer {
  status: number;
  headers: Headers;
  url: URL;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  text: string;
}

/** A POST of `body` as JSON; `accept` says whether a document or an event stream is wanted. */
export function jsonPost(
  url: URL,
  headers: Record<string, string>,
  body: unknown,
  accept = 'application/json',
): ProviderRequest {
  return {
    method: 'POST',
    url,
    headers: { ...headers, accept, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

export const isSuccess = (status: number) => status >= 200 && status <= 299;

export function timeoutOf(options: CallOptions): number {
  return options.timeoutMs ?? defaultProviderTimeoutMs;
}

/** Sends the request; the response's body is left to read (or stream). Failing to get an answer throws AiProviderError. */
export async function sendToProvider(
  request: ProviderRequest,
  options: CallOptions & { signal?: AbortSignal },
): Promise<Response> {
  const timeoutMs = timeoutOf(options);
  const { signal } = options;
  try {
    return await guardedFetch(
      request.url,
      { method: request.method ?? 'GET', headers: request.headers, body: request.body, timeoutMs, signal },
      options.outboundPolicy,
    );
  } catch (error) {
    if (signal?.aborted) throw signal.reason ?? error;
    throw connectionFailure(error, request.url, timeoutMs);
  }
}

/** Sends the request and reads the whole answer; `signal` aborts it (the caller went away). */
export async function callProvider(
  request: ProviderRequest,
  options: CallOptions & { signal?: AbortSignal },
): Promise<ProviderAnswer> {
  const response = await sendToProvider(request, options);
  let text: string;
  try {
    text = await readCapped(response, request.url);
  } catch (error) {
    throw connectionFailure(error, request.url, timeoutOf(options));
  }
  return {
    status: response.status,
    headers: response.headers,
    url: request.url,
    json: parseJson(text),
    text,
  };
}

async function readCapped(response: Response, url: URL): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw new AiProviderError(
        'Invalid',
        `${url.host} answered with more than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB; this does not look like the provider's API — check the base URL`,
      );
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The JSON object `text` holds; undefined when it is not JSON or not an object. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  return asRecord(parseJson(text));
}

/**
 * The connection's endpoint as a URL: `fallback` when it is empty, a clear
 * Invalid error when it is not an http(s) URL.
 */
export function parseEndpoint(apiEndpoint: string, fallback: string | undefined, what: string): URL {
  const written = apiEndpoint.trim() || fallback;
  if (!written) throw new AiProviderError('Invalid', `The API endpoint is required for ${what}`);
  let url: URL;
  try {
    url = new URL(written);
  } catch {
    throw new AiProviderError(
      'Invalid',
      `The API endpoint is not a valid URL (expected e.g. ${fallback ?? 'https://host/v1'})`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AiProviderError(
      'Invalid',
      `The API endpoint must start with https:// or http://, not ${url.protocol}//`,
    );
  }
  url.hash = '';
  return url;
}

/** `base` with `path` appended to its path (keeping its query) and `query` added. */
export function endpointUrl(base: URL, path: string, query: Record<string, string | undefined> = {}): URL {
  const url = new URL(base);
  url.pathname = `${base.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  for (const [name, value] of Object.entries(query))
    if (value !== undefined) url.searchParams.set(name, value);
  return url;
}

/** True when the base URL has no path beyond `/`. */
export function hasNoPath(url: URL): boolean {
  return url.pathname.replace(/\/+$/, '') === '';
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

export function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Gives up on a paginated listing that never ends (a misbehaving server), rather than looping forever. */
export const MAX_PAGES = 100;

export function tooManyPages(url: URL): AiProviderError {
  return new AiProviderError(
    'Invalid',
    `${url.host} kept returning more pages after ${MAX_PAGES}; its pagination looks broken`,
  );
}

/** Longest wait for a streamed answer's next event once it started. */
export const defaultStreamIdleTimeoutMs = 60_000;

/**
 * Sends a request whose answer is read as a stream: `options.timeoutMs`
 * bounds the wait for the answer's headers only (a first-byte timeout), and
 * `options.signal` aborts the whole exchange (the client went away).
 */
export async function openProviderStream(
  request: ProviderRequest,
  options: CallOptions & { signal?: AbortSignal },
): Promise<Response> {
  const timeoutMs = timeoutOf(options);
  const firstByte = new AbortController();
  const timer = setTimeout(
    () => firstByte.abort(new DOMException('first-byte timeout', 'TimeoutError')),
    timeoutMs,
  );
  const signal = options.signal ? AbortSignal.any([options.signal, firstByte.signal]) : firstByte.signal;
  try {
    return await guardedFetch(
      request.url,
      { method: request.method ?? 'POST', headers: request.headers, body: request.body, signal },
      options.outboundPolicy,
    );
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason ?? error;
    throw connectionFailure(error, request.url, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a non-2xx streamed answer whole (it is an error document, not a stream). */
export async function readErrorAnswer(response: Response, url: URL): Promise<ProviderAnswer> {
  const text = await readCapped(response, url).catch(() => '');
  return { status: response.status, headers: response.headers, url, json: parseJson(text), text };
}

/**
 * Throws the provider's refusal (`refused` reads its error body), or an
 * Unexpected answer when a 2xx answer is not an event stream.
 */
export async function assertEventStream(
  response: Response,
  url: URL,
  api: ApiDescription,
  refused: (answer: ProviderAnswer) => AiProviderError,
): Promise<void> {
  if (!response.ok) throw refused(await readErrorAnswer(response, url));
  if (response.headers.get('content-type')?.includes('text/event-stream')) return;
  await response.body?.cancel().catch(() => {});
  throw unexpectedAnswer(response.status, url, api);
}

/**
 * The server-sent events of a streamed answer. A gap longer than
 * `idleTimeoutMs` between two reads, or a connection cut before the end,
 * throws a Transient AiProviderError.
 */
export async function* serverSentEvents(
  response: Response,
  url: URL,
  idleTimeoutMs = defaultStreamIdleTimeoutMs,
): AsyncGenerator<EventSourceMessage> {
  if (!response.body) return;
  const events = new IdleReader(
    response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader(),
    idleTimeoutMs,
    url,
  );
  try {
    for (;;) {
      const { done, value } = await events.read();
      if (done) return;
      yield value;
    }
  } finally {
    await events.close();
  }
}

/**
 * Reads a stream, failing as Transient when a read waits `idleTimeoutMs` or
 * the connection breaks. One timer serves the whole stream, refreshed by each
 * read (a timer and a promise race per event cost a streamed answer more CPU
 * than its parsing); time the caller spends between reads does not count.
 */
class IdleReader<T> {
  readonly #reader: ReadableStreamDefaultReader<T>;
  readonly #url: URL;
  readonly #idleTimeoutMs: number;
  readonly #timer: NodeJS.Timeout;
  #reading = false;
  #idle = false;

  constructor(reader: ReadableStreamDefaultReader<T>, idleTimeoutMs: number, url: URL) {
    this.#reader = reader;
    this.#url = url;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#timer = setTimeout(() => this.#expire(), idleTimeoutMs);
  }

  async read(): Promise<ReadableStreamReadResult<T>> {
    this.#timer.refresh();
    this.#reading = true;
    try {
      const result = await this.#reader.read();
      if (this.#idle) throw streamIdle(this.#url, this.#idleTimeoutMs);
      return result;
    } catch (error) {
      if (this.#idle) throw streamIdle(this.#url, this.#idleTimeoutMs);
      if (error instanceof AiProviderError) throw error;
      throw streamCutOff(this.#url, error);
    } finally {
      this.#reading = false;
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#reader.cancel().catch(() => {});
  }

  /** The timer fired: a read waiting this long ends the stream; between reads the wait starts over. */
  #expire(): void {
    if (!this.#reading) {
      this.#timer.refresh();
      return;
    }
    this.#idle = true;
    this.#reader.cancel().catch(() => {});
  }
}

export function streamIdle(url: URL, idleTimeoutMs: number): AiProviderError {
  return new AiProviderError(
    'Transient',
    `${url.host} sent nothing for ${idleTimeoutMs / 1000} s in the middle of a streamed answer`,
  );
}

export function streamCutOff(url: URL, cause?: unknown): AiProviderError {
  return new AiProviderError('Transient', `The streamed answer from ${url.host} was cut off`, { cause });
}

/**
 * The items, ending with the caller's abort reason when the caller aborted:
 * the caller's abort is not the provider's failure, and it ends the
 * iteration as it does before the answer started.
 */
export async function* endingOnAbort<T>(
  items: AsyncIterable<T>,
  signal: AbortSignal | undefined,
): AsyncGenerator<T> {
  try {
    yield* items;
  } catch (error) {
    throw signal?.aborted ? (signal.reason ?? error) : error;
  }
}
