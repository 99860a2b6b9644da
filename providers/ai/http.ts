/**
 * HTTP to the providers that speak plain JSON over HTTP (OpenAI-compatible,
 * Anthropic, Gemini). Every request goes through the outbound guard
 * (`guardedRequest`): the endpoint is user-supplied, so it must not reach the
 * metadata service or, unless the deployment allows it, private networks.
 */
import type { IncomingMessage } from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { type GuardedAnswer, guardedRequest } from '../../core/net/outbound-guard.ts';
import { type ApiDescription, connectionFailure, unexpectedAnswer } from './errors.ts';
import {
  AiProviderError,
  type ProviderCallOptions as CallOptions,
  defaultProviderTimeoutMs,
} from './provider.ts';

/** A model list is a few hundred kilobytes at most; more means this is not the API we think it is. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
/** One server-sent event larger than this is not a provider's event either. */
const MAX_EVENT_CHARS = 8 * 1024 * 1024;

export interface ProviderRequest {
  method?: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

/** What providers read of an answer's headers (a WHATWG `Headers` reads the same way). */
export interface AnswerHeaders {
  get(name: string): string | null;
}

/** A provider's answer as it arrives: status and headers, the body still to read (or stream). */
export interface ProviderResponse {
  status: number;
  ok: boolean;
  headers: AnswerHeaders;
  /** Node's message (empty when the status has no body); destroying it closes the connection. */
  body: IncomingMessage;
}

/** A complete answer, whatever its status. */
export interface ProviderAnswer {
  status: number;
  headers: AnswerHeaders;
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
): Promise<ProviderResponse> {
  const timeoutMs = timeoutOf(options);
  const { signal } = options;
  try {
    return providerResponse(
      await guardedRequest(
        request.url,
        { method: request.method ?? 'GET', headers: request.headers, body: request.body, timeoutMs, signal },
        options.outboundPolicy,
      ),
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

function providerResponse({ status, message }: GuardedAnswer): ProviderResponse {
  return { status, ok: isSuccess(status), headers: headersOf(message), body: message };
}

function headersOf(message: IncomingMessage): AnswerHeaders {
  return {
    get(name) {
      const value = message.headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : String(value);
    },
  };
}

async function readCapped(response: ProviderResponse, url: URL): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      response.body.destroy();
      throw new AiProviderError(
        'Invalid',
        `${url.host} answered with more than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB; this does not look like the provider's API — check the base URL`,
      );
    }
    chunks.push(chunk);
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
): Promise<ProviderResponse> {
  const timeoutMs = timeoutOf(options);
  const firstByte = new AbortController();
  const timer = setTimeout(
    () => firstByte.abort(new DOMException('first-byte timeout', 'TimeoutError')),
    timeoutMs,
  );
  const signal = options.signal ? AbortSignal.any([options.signal, firstByte.signal]) : firstByte.signal;
  try {
    return providerResponse(
      await guardedRequest(
        request.url,
        { method: request.method ?? 'POST', headers: request.headers, body: request.body, signal },
        options.outboundPolicy,
      ),
    );
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason ?? error;
    throw connectionFailure(error, request.url, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a non-2xx streamed answer whole (it is an error document, not a stream). */
export async function readErrorAnswer(response: ProviderResponse, url: URL): Promise<ProviderAnswer> {
  const text = await readCapped(response, url).catch(() => '');
  return { status: response.status, headers: response.headers, url, json: parseJson(text), text };
}

/**
 * Throws the provider's refusal (`refused` reads its error body), or an
 * Unexpected answer when a 2xx answer is not an event stream.
 */
export async function assertEventStream(
  response: ProviderResponse,
  url: URL,
  api: ApiDescription,
  refused: (answer: ProviderAnswer) => AiProviderError,
): Promise<void> {
  if (!response.ok) throw refused(await readErrorAnswer(response, url));
  if (response.headers.get('content-type')?.includes('text/event-stream')) return;
  response.body.destroy();
  throw unexpectedAnswer(response.status, url, api);
}

/**
 * The server-sent events of a streamed answer, parsed as the body's chunks
 * arrive (no web streams: at a few hundred bytes per event their per-chunk
 * cost outweighed the parsing). A gap longer than `idleTimeoutMs` between two
 * reads, or a connection cut before the end, throws a Transient
 * AiProviderError.
 */
export async function* serverSentEvents(
  response: ProviderResponse,
  url: URL,
  idleTimeoutMs = defaultStreamIdleTimeoutMs,
): AsyncGenerator<EventSourceMessage> {
  const parsed: EventSourceMessage[] = [];
  let oversized = false;
  const parser = createParser({
    onEvent: (event) => parsed.push(event),
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') oversized = true;
    },
    maxBufferSize: MAX_EVENT_CHARS,
  });
  const decoder = new TextDecoder();
  const chunks = new IdleReader(response.body, idleTimeoutMs, url);
  try {
    for (;;) {
      const { done, value } = await chunks.read();
      parser.feed(done ? decoder.decode() : decoder.decode(value, { stream: true }));
      if (oversized) throw eventTooLarge(url);
      for (const event of parsed) yield event;
      parsed.length = 0;
      if (done) return;
    }
  } finally {
    chunks.close();
  }
}

const eventTooLarge = (url: URL) =>
  new AiProviderError(
    'Invalid',
    `${url.host} sent an event of more than ${MAX_EVENT_CHARS / 1024 / 1024} M characters; this does not look like the provider's API`,
  );

/**
 * Reads a body's chunks, failing as Transient when a read waits `idleTimeoutMs`
 * or the connection breaks. One timer serves the whole stream, refreshed by
 * each read (a timer and a promise race per event cost a streamed answer more
 * CPU than its parsing); time the caller spends between reads does not count.
 */
class IdleReader {
  readonly #body: IncomingMessage;
  readonly #chunks: AsyncIterator<Buffer>;
  readonly #url: URL;
  readonly #idleTimeoutMs: number;
  readonly #timer: NodeJS.Timeout;
  #reading = false;
  #idle = false;

  constructor(body: IncomingMessage, idleTimeoutMs: number, url: URL) {
    this.#body = body;
    this.#chunks = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    this.#url = url;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#timer = setTimeout(() => this.#expire(), idleTimeoutMs);
  }

  async read(): Promise<IteratorResult<Buffer>> {
    this.#timer.refresh();
    this.#reading = true;
    try {
      const result = await this.#chunks.next();
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

  /** Stops reading: a body not read to its end is destroyed (its connection cannot carry another request). */
  close(): void {
    clearTimeout(this.#timer);
    if (!this.#body.complete) this.#body.destroy();
  }

  /** The timer fired: a read waiting this long ends the stream; between reads the wait starts over. */
  #expire(): void {
    if (!this.#reading) {
      this.#timer.refresh();
      return;
    }
    this.#idle = true;
    this.#body.destroy();
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
