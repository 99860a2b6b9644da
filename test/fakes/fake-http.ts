/**
 * The common part of every fake AI provider: a node:http server on
 * 127.0.0.1:0 that records each request, plays scripted misbehaviour for the
 * next requests (an error, a slow first byte, a dropped connection), and
 * otherwise hands the request to the provider's own handler, which answers in
 * that provider's wire format.
 */
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A model as the tests describe it; each fake renders it in its provider's format. */
export interface FakeModel {
  id: string;
  displayName?: string;
  ownedBy?: string;
  /** Unix seconds. */
  created?: number;
}

/** What a fake model answers to a chat request; each fake renders it in its provider's wire format. */
export interface FakeReply {
  /** The answer's text; streamed in pieces of about `FAKE_STREAM_PIECE` characters. */
  text?: string;
  /** Function calls; `arguments` is a JSON text, streamed in pieces too. */
  toolCalls?: { id?: string; name: string; arguments: string }[];
  /** Default: `tool_calls` when there are tool calls, else `stop`. */
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  /** Default: words of the prompt in, words of the answer out (see `countTokens`). */
  usage?: { inputTokens: number; outputTokens: number };
}

/** What the next request gets instead of (or before) its normal answer; one step per request. */
export type FakeStep =
  /** The provider's own error for this status (429 carries `retry-after` when `retryAfterSeconds` is set). */
  | { kind: 'error'; status: number; message?: string; retryAfterSeconds?: number }
  /** Waits before the first byte of the normal answer. */
  | { kind: 'delay'; ms: number }
  /** Destroys the connection without answering. */
  | { kind: 'drop' }
  /** Answers exactly this, whatever was asked (a server that is not the provider, a malformed answer). */
  | { kind: 'respond'; response: FakeResponse }
  /** A chat request gets this answer instead of the default one. */
  | { kind: 'reply'; reply: FakeReply }
  /**
   * A streamed chat answer sends `afterPieces` pieces of the reply, then the
   * provider's own in-stream error event (a non-streamed request gets the
   * provider's 500 error instead).
   */
  | { kind: 'stream-error'; afterPieces: number; reply?: FakeReply; message?: string }
  /** A streamed chat answer sends `afterPieces` pieces, then the connection is destroyed. */
  | { kind: 'stream-drop'; afterPieces: number; reply?: FakeReply }
  /** A streamed chat answer waits `pieceDelayMs` before each piece. */
  | { kind: 'slow-stream'; pieceDelayMs: number; reply?: FakeReply };

/** The steps a provider's chat handler renders itself. */
export type FakeChatStep = Extract<
  FakeStep,
  { kind: 'reply' | 'stream-error' | 'stream-drop' | 'slow-stream' }
>;

/** Characters per streamed piece of a reply's text or tool-call arguments. */
export const FAKE_STREAM_PIECE = 8;

/** Splits text into streamed pieces (an empty text is no piece). */
export function streamPieces(text: string): string[] {
  const pieces: string[] = [];
  for (let at = 0; at < text.length; at += FAKE_STREAM_PIECE)
    pieces.push(text.slice(at, at + FAKE_STREAM_PIECE));
  return pieces;
}

/** The fakes' token count: whitespace-separated words (at least 1 for non-empty text). */
export function countTokens(text: string): number {
  const words = text.trim().split(/\s+/).filter(Boolean).length;
  return words;
}

/** The answer a fake gives when nothing is scripted: it quotes the last user message. */
export function defaultReply(lastUserText: string, promptText: string): FakeReply {
  const text = `Fake answer to: ${lastUserText}`;
  return { text, usage: { inputTokens: countTokens(promptText), outputTokens: countTokens(text) } };
}

/** The reply with its defaults filled in. */
export function completeReply(
  reply: FakeReply,
  promptText: string,
): Required<Omit<FakeReply, 'toolCalls'>> & FakeReply {
  const text = reply.text ?? '';
  const argumentsText = (reply.toolCalls ?? []).map((call) => call.arguments).join(' ');
  return {
    ...reply,
    text,
    finishReason: reply.finishReason ?? (reply.toolCalls?.length ? 'tool_calls' : 'stop'),
    usage: reply.usage ?? {
      inputTokens: countTokens(promptText),
      outputTokens: countTokens(text) + countTokens(argumentsText),
    },
  };
}

export type FakeErrorStep = Extract<FakeStep, { kind: 'error' }>;

export interface RecordedRequest {
  method: string;
  /** The path as sent, percent-encoding kept. */
  path: string;
  query: URLSearchParams;
  /** Raw query string as sent, without `?`. */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as is (set the content-type in `headers`). */
  text?: string;
  /** Sent one after the other, each flushed on its own (SSE events, event-stream frames). */
  chunks?: (string | Uint8Array)[];
  /** Waits this long before each chunk. */
  chunkDelayMs?: number;
  /** Destroys the connection after this many chunks. */
  dropAfterChunks?: number;
}

/** A provider's behaviour: its routes and its error format. */
export interface FakeProviderBehaviour {
  /** `step` is set when a chat step was scripted for this request. */
  answer(request: RecordedRequest, step?: FakeChatStep): FakeResponse | Promise<FakeResponse>;
  errorResponse(step: FakeErrorStep): FakeResponse;
}

export interface FakeServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Every request received, in order, including scripted ones. */
  readonly requests: RecordedRequest[];
  /** Queues misbehaviour: the next request plays the first step, the one after the second, … */
  script(...steps: FakeStep[]): void;
  /** Forgets recorded requests and unplayed steps. */
  reset(): void;
  close(): Promise<void>;
}

export async function startFakeHttpServer(behaviour: FakeProviderBehaviour): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const steps: FakeStep[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const server = http.createServer(async (incoming, response) => {
    response.on('error', () => {}); // the client may be gone by the time a delayed answer is written
    const request = await record(incoming);
    requests.push(request);
    const step = steps.shift();
    if (step?.kind === 'drop') {
      incoming.socket.destroy();
      return;
    }
    if (step?.kind === 'delay') await sleep(step.ms);
    try {
      if (step?.kind === 'respond') await send(response, step.response, sleep);
      else if (step?.kind === 'error') await send(response, behaviour.errorResponse(step), sleep);
      else
        await send(
          response,
          await behaviour.answer(request, step?.kind === 'delay' ? undefined : step),
          sleep,
        );
    } catch (error) {
      await send(response, { status: 500, text: `fake provider bug: ${String(error)}` }, sleep);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    script: (...next) => {
      steps.push(...next);
    },
    reset: () => {
      requests.length = 0;
      steps.length = 0;
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function record(incoming: http.IncomingMessage): Promise<RecordedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  const target = incoming.url ?? '/';
  const queryStart = target.indexOf('?');
  const rawQuery = queryStart === -1 ? '' : target.slice(queryStart + 1);
  return {
    method: incoming.method ?? 'GET',
    path: queryStart === -1 ? target : target.slice(0, queryStart),
    query: new URLSearchParams(rawQuery),
    rawQuery,
    headers: incoming.headers,
    body: Buffer.concat(chunks).toString('utf8'),
  };
}

async function send(
  response: ServerResponse,
  answer: FakeResponse,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  if (response.destroyed) return;
  const headers = { ...answer.headers };
  if (answer.chunks) {
    response.writeHead(answer.status, headers);
    await sendChunks(response, answer, sleep);
    return;
  }
  let body = answer.text ?? '';
  if (answer.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(answer.json);
  }
  response.writeHead(answer.status, headers).end(body);
}

async function sendChunks(
  response: ServerResponse,
  answer: FakeResponse,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  const chunks = answer.chunks ?? [];
  for (const [index, chunk] of chunks.entries()) {
    if (index === answer.dropAfterChunks) {
      await destroyAfterFlush(response);
      return;
    }
    if (answer.chunkDelayMs) await sleep(answer.chunkDelayMs);
    if (response.destroyed) return;
    response.write(chunk);
  }
  if (answer.dropAfterChunks !== undefined && answer.dropAfterChunks >= chunks.length) {
    await destroyAfterFlush(response);
    return;
  }
  response.end();
}

/** Cuts the connection once what was written so far (headers included) has left. */
async function destroyAfterFlush(response: ServerResponse): Promise<void> {
  if (!response.headersSent) response.flushHeaders();
  await new Promise<void>((resolve) => response.write('', () => resolve()));
  response.socket?.destroy();
}

/** Header value as one string (node joins repeated headers into an array for a few names). */
export function header(request: RecordedRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `secret` shown as providers show a rejected key: its ends only. */
export function maskSecret(secret: string): string {
  return secret.length <= 8 ? '***' : `${secret.slice(0, 3)}***${secret.slice(-4)}`;
}

/** An opaque page token: the offset of the page's first item. */
export function encodePageToken(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

export function decodePageToken(token: string): number | undefined {
  const match = Buffer.from(token, 'base64url')
    .toString('utf8')
    .match(/^offset:(\d+)$/);
  return match ? Number(match[1]) : undefined;
}
