/**
 * `POST /v1/chat/completions`: the request is checked, routed to the
 * repository's configs that serve the model (with retry and fallback), and
 * answered as JSON or as OpenAI's server-sent events. A stream is committed
 * to a provider only once its first content arrived, so a provider that fails
 * before that (an error event, a cut connection) is retried or replaced
 * without the app noticing; a failure after that ends the stream with an
 * error event.
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatMessage,
  type ChatRequest,
  textOf,
  type Usage,
} from '../../providers/ai/chat.ts';
import { adapterFor } from '../../providers/ai/index.ts';
import { type GatewayError, gatewayErrorOf, invalidRequest, modelNotFound } from './errors.ts';
import { AllCandidatesFailed, type Attempt, withFallback } from './fallback.ts';
import type { GatewayCall } from './gateway-call.ts';
import type { Candidate } from './repository-models.ts';

const messageSchema = z
  .object({ role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']) })
  .passthrough();

export const chatRequestSchema = z
  .object({
    model: z.string().min(1),
    messages: z.array(messageSchema).min(1),
    stream: z.boolean().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullish(),
    n: z.number().int().optional(),
  })
  .passthrough();

export type ChatBody = z.infer<typeof chatRequestSchema>;

/** What the request produced, for metering. */
export interface ChatOutcome {
  candidate?: Candidate;
  attempts: Attempt[];
  usage?: Usage;
  timeToFirstTokenMs?: number;
  /** The answer's text as the app received it (conversations store it). */
  text?: string;
  /** Runs once the whole answer passed the policies, before its last bytes are sent. */
  beforeAnswerEnds?: (outcome: ChatOutcome) => Promise<void>;
}

export function parseChatRequest(json: unknown): ChatBody {
  const parsed = chatRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue?.path.join('.') || null;
    throw invalidRequest(`Invalid chat request: ${param ?? 'body'}: ${issue?.message ?? 'malformed'}`, param);
  }
  if (parsed.data.n !== undefined && parsed.data.n !== 1)
    throw invalidRequest('Only n = 1 is supported by this gateway', 'n');
  return parsed.data;
}

function providerRequest(body: ChatBody, candidate: Candidate): ChatRequest {
  const { stream: _stream, stream_options: _options, n: _n, ...rest } = body;
  return { ...rest, model: candidate.providerModel } as ChatRequest;
}

export async function answerChat(call: GatewayCall, body: ChatBody, outcome: ChatOutcome): Promise<void> {
  const candidates = await call.models.candidates(call.principal.repositoryId, body.model);
  if (candidates.length === 0) throw modelNotFound(body.model);
  const checked = { ...body, messages: await call.guard.checkPrompt(body.messages as ChatMessage[]) };
  if (body.stream) await streamChat(call, checked, candidates, outcome);
  else await completeChat(call, checked, candidates, outcome);
}

/**
 * `ask` of the candidates in turn, with retry and fallback. The outcome
 * records the attempts (also of a run that failed), the candidate that
 * answered, and how long its answer took to start.
 */
async function askCandidates<T>(
  call: GatewayCall,
  candidates: Candidate[],
  outcome: ChatOutcome,
  ask: (candidate: Candidate) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const run = await recordingAttempts(outcome, () => withFallback(candidates, ask, call.fallbackOptions));
  outcome.candidate = run.candidate;
  outcome.timeToFirstTokenMs = Date.now() - started;
  return run.result;
}

async function completeChat(
  call: GatewayCall,
  body: ChatBody,
  candidates: Candidate[],
  outcome: ChatOutcome,
): Promise<void> {
  const answer = await askCandidates(call, candidates, outcome, (candidate) =>
    adapterFor(candidate.config.type).chat(
      candidate.config.connection,
      providerRequest(body, candidate),
      call.providerOptions,
    ),
  );
  outcome.usage = answer.usage;
  outcome.text = textOf(answer.choices[0]?.message.content);
  // Tool-call arguments are model output too: a card number in them leaves as surely as in the text.
  const toolArguments = (answer.choices[0]?.message.tool_calls ?? []).map((tool) => tool.function.arguments);
  await call.guard.checkResponse([outcome.text, ...toolArguments].join('\n'));
  await outcome.beforeAnswerEnds?.(outcome);
  const completion: ChatCompletion = { ...answer, model: body.model };
  sendJson(call.res, 200, completion);
}

/** The provider's stream up to and including its first chunk with content, and the rest to read. */
interface OpenedStream {
  opening: ChatCompletionChunk[];
  rest: AsyncIterator<ChatCompletionChunk>;
  ended: boolean;
}

const carriesContent = (chunk: ChatCompletionChunk) =>
  chunk.choices.some(
    (choice) =>
      Boolean(choice.delta.content) || Boolean(choice.delta.tool_calls?.length) || choice.finish_reason,
  );

async function openUntilContent(stream: AsyncIterable<ChatCompletionChunk>): Promise<OpenedStream> {
  const iterator = stream[Symbol.asyncIterator]();
  const opening: ChatCompletionChunk[] = [];
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return { opening, rest: iterator, ended: true };
      opening.push(next.value);
      if (carriesContent(next.value)) return { opening, rest: iterator, ended: false };
    }
  } catch (error) {
    await iterator.return?.().catch(() => {});
    throw error;
  }
}

/** The opening chunks, then the rest of the stream. */
async function* wholeStream(opened: OpenedStream): AsyncGenerator<ChatCompletionChunk> {
  yield* opened.opening;
  if (opened.ended) return;
  for (let next = await opened.rest.next(); !next.done; next = await opened.rest.next()) yield next.value;
}

async function streamChat(
  call: GatewayCall,
  body: ChatBody,
  candidates: Candidate[],
  outcome: ChatOutcome,
): Promise<void> {
  const opened = await askCandidates(call, candidates, outcome, async (candidate) =>
    openUntilContent(
      await adapterFor(candidate.config.type).chatStream(
        candidate.config.connection,
        { ...providerRequest(body, candidate), stream: true },
        call.providerOptions,
      ),
    ),
  );
  const writer = new SseWriter(call.res, body.model, body.stream_options?.include_usage === true);
  const check = call.guard.streamCheck();
  outcome.text = '';
  /** Chunks checked but held back by a policy, with the stream offset their text ends at. */
  const held: { chunk: ChatCompletionChunk; end: number }[] = [];
  let scanned = 0;
  const release = (until: number) => {
    while (held.length > 0 && held[0]!.end <= until)
      outcome.usage = writer.write(held.shift()!.chunk) ?? outcome.usage;
  };
  /** Checks a chunk before it is written: the chunk that completes a blocked value is never sent. */
  const relay = async (chunk: ChatCompletionChunk) => {
    const content = chunk.choices.map((choice) => choice.delta.content ?? '').join('');
    outcome.text += content;
    const scannedText = content + toolArgumentsOf(chunk);
    scanned += scannedText.length;
    const blocked = await check.push(scannedText);
    if (blocked) return blocked;
    held.push({ chunk, end: scanned });
    release(check.releasedChars());
  };
  try {
    for await (const chunk of wholeStream(opened)) {
      const blocked = await relay(chunk);
      if (blocked) return await stopStream(opened.rest, writer, blocked);
    }
  } catch (error) {
    if (call.signal.aborted) throw error;
    const failure = gatewayErrorOf(error);
    outcome.attempts.push({ ...outcome.attempts.at(-1)!, outcome: `stream:${failure.code ?? 'error'}` });
    writer.fail(failure);
    return;
  }
  const blocked = await check.end();
  if (blocked) return writer.fail(blocked);
  release(Number.POSITIVE_INFINITY);
  await outcome.beforeAnswerEnds?.(outcome);
  writer.end();
}

/** The pieces of tool-call arguments a chunk carries, scanned with the text. */
const toolArgumentsOf = (chunk: ChatCompletionChunk) =>
  chunk.choices
    .flatMap((choice) => choice.delta.tool_calls ?? [])
    .map((tool) => tool.function?.arguments ?? '')
    .join('');

/** A policy blocked the answer mid-stream: stop reading the provider and end with the error event. */
async function stopStream(
  rest: AsyncIterator<ChatCompletionChunk>,
  writer: SseWriter,
  blocked: GatewayError,
): Promise<void> {
  await rest.return?.().catch(() => {});
  writer.fail(blocked);
}

/** Keeps the attempts of a run that failed, for metering, before rethrowing. */
async function recordingAttempts<T extends { attempts: Attempt[] }>(
  outcome: ChatOutcome,
  run: () => Promise<T>,
): Promise<T> {
  try {
    const result = await run();
    outcome.attempts = result.attempts;
    return result;
  } catch (error) {
    if (error instanceof AllCandidatesFailed) outcome.attempts = error.attempts;
    throw error;
  }
}

/** OpenAI's server-sent events: one `data:` per chunk, `[DONE]` at the end. */
class SseWriter {
  readonly #res: ServerResponse;
  readonly #model: string;
  readonly #includeUsage: boolean;

  constructor(res: ServerResponse, model: string, includeUsage: boolean) {
    this.#res = res;
    this.#model = model;
    this.#includeUsage = includeUsage;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
  }

  /** Sends the chunk (a usage chunk only when the app asked for usage); returns its usage, if any. */
  write(chunk: ChatCompletionChunk): Usage | undefined {
    const usage = chunk.usage ?? undefined;
    if (chunk.choices.length === 0 && !this.#includeUsage) return usage;
    const sent = this.#includeUsage ? chunk : { ...chunk, usage: undefined };
    this.#send({ ...sent, model: this.#model });
    return usage;
  }

  fail(error: GatewayError): void {
    this.#send({ error: error.body });
    this.#res.end();
  }

  end(): void {
    this.#res.end('data: [DONE]\n\n');
  }

  #send(data: unknown): void {
    this.#res.write(`data: ${JSON.stringify(data)}\n\n`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
