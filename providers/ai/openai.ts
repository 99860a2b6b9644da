/**
 * OpenAI and OpenAI-compatible endpoints: type OPENAI (api.openai.com) and
 * type OTHER (anything speaking OpenAI's wire format: vLLM, Ollama, LiteLLM,
 * LM Studio, an on-prem gateway).
 *
 * Connection fields:
 * - `apiEndpoint`: the base URL as the openai SDK's `baseURL`, up to and
 *   including the version: `https://api.openai.com/v1` (the default when empty,
 *   for OPENAI only), `http://vllm.internal:8000/v1`. A bare origin
 *   (`https://api.openai.com`) gets `/v1`; any other path is used as written,
 *   since gateways put the API under their own prefixes.
 * - `apiSecret`: the API key, sent as `Authorization: Bearer <apiSecret>`. A
 *   server without authentication ignores it (the field is still required).
 * - `apiKey` (optional): an OpenAI organization id (`org-…`), sent as
 *   `OpenAI-Organization`; servers that do not know the header ignore it.
 *
 * Models: `GET <base>/models` → `{ object: 'list', data: [{ id, object, created, owned_by }] }`, one page.
 * Chat: `POST <base>/chat/completions`, the request passed on as the app sent
 * it; streamed as server-sent events `data: <chunk>` ending with `data: [DONE]`.
 * Embeddings: `POST <base>/embeddings`, passed on likewise.
 * Compatible servers omit fields OpenAI always sends, so every answer is
 * checked and completed into chat.ts's shapes rather than trusted.
 * Errors: `{ error: { message, type, param, code } }`, also as an event in
 * the middle of a stream.
 */
import { randomUUID } from 'node:crypto';
import type { EventSourceMessage } from 'eventsource-parser';
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatRequest,
  type EmbeddingsRequest,
  type EmbeddingsResponse,
  type FinishReason,
  type ToolCall,
  type ToolCallDelta,
  type Usage,
  usageOf,
} from './chat.ts';
import {
  type ApiDescription,
  codeForHttpStatus,
  parseRetryAfter,
  providerHttpError,
  statusLabel,
  unexpectedAnswer,
} from './errors.ts';
import {
  asRecord,
  callProvider,
  endingOnAbort,
  endpointUrl,
  hasNoPath,
  isSuccess,
  jsonPost,
  openProviderStream,
  type ProviderAnswer,
  type ProviderRequest,
  type ProviderResponse,
  parseEndpoint,
  parseJsonObject,
  readErrorAnswer,
  serverSentEvents,
  stringOf,
} from './http.ts';
import {
  type AiProviderAdapter,
  type AiProviderConnection,
  AiProviderError,
  type AiProviderErrorCode,
  type ChatCallOptions,
  type ModelInfo,
  type ProviderCallOptions,
} from './provider.ts';
import { nowSeconds } from './translation.ts';

export const openAiDefaultEndpoint = 'https://api.openai.com/v1';

const openAiApi = (api: string): ApiDescription => ({
  api,
  baseUrlHint: 'it usually ends in /v1, e.g. https://api.openai.com/v1',
  credential: 'the API secret',
});
const modelsApi = openAiApi('the OpenAI models API');
const chatApi = openAiApi('the OpenAI chat completions API');
const embeddingsApi = openAiApi('the OpenAI embeddings API');

/** The base URL every OpenAI-compatible call is relative to. */
export function openAiBaseUrl(connection: AiProviderConnection): URL {
  const fallback = connection.type === 'OPENAI' ? openAiDefaultEndpoint : undefined;
  const url = parseEndpoint(connection.apiEndpoint, fallback, 'an OpenAI-compatible provider');
  if (hasNoPath(url)) url.pathname = '/v1';
  return url;
}

export function openAiHeaders(connection: AiProviderConnection): Record<string, string> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${connection.apiSecret}`,
    accept: 'application/json',
  };
  if (connection.apiKey) headers['openai-organization'] = connection.apiKey;
  return headers;
}

function openAiPost(
  connection: AiProviderConnection,
  path: string,
  body: unknown,
  accept?: string,
): ProviderRequest {
  return jsonPost(endpointUrl(openAiBaseUrl(connection), path), openAiHeaders(connection), body, accept);
}

/** The answer's body and its `listField` array; anything else is the provider's error or not this API. */
function listAnswer(
  answer: ProviderAnswer,
  listField: string,
  api: ApiDescription,
): { body: Record<string, unknown>; list: unknown[] } {
  if (!isSuccess(answer.status)) throw openAiError(answer, api);
  const body = asRecord(answer.json);
  const list = body?.[listField];
  if (body && Array.isArray(list)) return { body, list };
  if (body?.error !== undefined) throw reportedError(body, answer.url);
  throw unexpectedAnswer(answer.status, answer.url, api);
}

async function listModels(
  connection: AiProviderConnection,
  options: ProviderCallOptions,
): Promise<ModelInfo[]> {
  const url = endpointUrl(openAiBaseUrl(connection), 'models');
  const answer = await callProvider({ url, headers: openAiHeaders(connection) }, options);
  return listAnswer(answer, 'data', modelsApi).list.flatMap((item) => {
    const model = asRecord(item);
    const id = stringOf(model?.id);
    if (!model || !id) return [];
    return [{ id, ownedBy: stringOf(model.owned_by), created: unixSecondsToIso(model.created) }];
  });
}

function unixSecondsToIso(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return undefined;
  return new Date(value * 1000).toISOString();
}

async function chat(
  connection: AiProviderConnection,
  request: ChatRequest,
  options: ChatCallOptions,
): Promise<ChatCompletion> {
  options.signal?.throwIfAborted();
  const answer = await callProvider(
    openAiPost(connection, 'chat/completions', withoutStreaming(request)),
    options,
  );
  const { body, list } = listAnswer(answer, 'choices', chatApi);
  return {
    ...identityOf(body, request.model),
    object: 'chat.completion',
    choices: list.map(toChoice),
    usage: usageFrom(body.usage) ?? usageOf(0, 0),
  };
}

/** A whole answer is asked for without the stream fields an app may have sent along. */
function withoutStreaming(request: ChatRequest): ChatRequest {
  const { stream: _stream, stream_options: _streamOptions, ...whole } = request;
  return whole;
}

/** Usage is always asked for; the gateway drops it when the app did not ask. */
function streaming(request: ChatRequest): ChatRequest {
  const streamOptions = { ...asRecord(request.stream_options), include_usage: true };
  return { ...request, stream: true, stream_options: streamOptions };
}

type AnswerIdentity = Pick<ChatCompletion, 'id' | 'created' | 'model'>;

/** The answer's id, creation time and model, made up where the server left them out. */
function identityOf(body: Record<string, unknown>, requestedModel: string): AnswerIdentity {
  const created = body.created;
  return {
    id: stringOf(body.id) ?? `chatcmpl-${randomUUID()}`,
    created: typeof created === 'number' && Number.isInteger(created) ? created : nowSeconds(),
    model: stringOf(body.model) ?? requestedModel,
  };
}

function toChoice(item: unknown, position: number): ChatCompletion['choices'][number] {
  const choice = asRecord(item);
  const message = asRecord(choice?.message);
  const toolCalls = toToolCalls(message?.tool_calls);
  return {
    index: indexOf(choice?.index, position),
    message: {
      role: 'assistant',
      content: contentText(message?.content),
      ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
    },
    finish_reason: finishReasonOf(choice?.finish_reason) ?? 'stop',
  };
}

/** Text content; a few servers send it as parts. */
function contentText(content: unknown): string | null {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return null;
  return content.map((part) => stringOf(asRecord(part)?.text) ?? '').join('');
}

function toToolCalls(value: unknown): ToolCall[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item): ToolCall[] => {
    const call = asRecord(item);
    const name = stringOf(asRecord(call?.function)?.name);
    if (!call || !name) return [];
    const args = argumentsText(asRecord(call.function)?.arguments) ?? '{}';
    return [
      { id: stringOf(call.id) ?? newToolCallId(), type: 'function', function: { name, arguments: args } },
    ];
  });
}

/** JSON text, as OpenAI sends it; some servers send the object itself. */
function argumentsText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  return asRecord(value) ? JSON.stringify(value) : undefined;
}

const newToolCallId = () => `call_${randomUUID().replaceAll('-', '')}`;

function indexOf(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : fallback;
}

const finishReasons: readonly FinishReason[] = ['stop', 'length', 'tool_calls', 'content_filter'];

/** Null while the choice goes on; reasons OpenAI does not define (vLLM's `abort`, …) count as `stop`. */
function finishReasonOf(value: unknown): FinishReason | null {
  if (typeof value !== 'string' || value === '') return null;
  if (value === 'function_call') return 'tool_calls';
  return finishReasons.find((reason) => reason === value) ?? 'stop';
}

function usageFrom(value: unknown): Usage | undefined {
  const usage = asRecord(value);
  const prompt = tokenCount(usage?.prompt_tokens);
  const completion = tokenCount(usage?.completion_tokens);
  if (prompt === undefined && completion === undefined) return undefined;
  const counted = usageOf(prompt ?? 0, completion ?? 0);
  return { ...counted, total_tokens: tokenCount(usage?.total_tokens) ?? counted.total_tokens };
}

function tokenCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

async function chatStream(
  connection: AiProviderConnection,
  request: ChatRequest,
  options: ChatCallOptions,
): Promise<AsyncIterable<ChatCompletionChunk>> {
  const post = openAiPost(connection, 'chat/completions', streaming(request), 'text/event-stream');
  const response = await openProviderStream(post, options);
  await expectEventStream(response, post.url);
  const chunks = openAiChunks(response, post.url, request.model, options.idleTimeoutMs);
  return endingOnAbort(chunks, options.signal);
}

/** Throws the provider's refusal, or its answer when that is a document rather than a stream. */
async function expectEventStream(response: ProviderResponse, url: URL): Promise<void> {
  const isDocument = /json|html/i.test(response.headers.get('content-type') ?? '');
  if (response.ok && !isDocument) return;
  const answer = await readErrorAnswer(response, url);
  if (!response.ok) throw openAiError(answer, chatApi);
  const body = asRecord(answer.json);
  throw body?.error === undefined ? unexpectedAnswer(answer.status, url, chatApi) : reportedError(body, url);
}

/** What a stream's chunks share or have had so far. */
interface StreamState {
  requestedModel: string;
  identity?: AnswerIdentity;
  /** Choices (`"0"`) and tool calls (`"0/1"`) that have had their first delta. */
  started: Set<string>;
  usage?: Usage;
}

async function* openAiChunks(
  response: ProviderResponse,
  url: URL,
  requestedModel: string,
  idleTimeoutMs: number | undefined,
): AsyncGenerator<ChatCompletionChunk> {
  const stream: StreamState = { requestedModel, started: new Set() };
  for await (const event of serverSentEvents(response, url, idleTimeoutMs)) {
    if (event.data === '[DONE]') {
      if (stream.usage && stream.identity) {
        yield { ...stream.identity, object: 'chat.completion.chunk', choices: [], usage: stream.usage };
      }
      return;
    }
    const payload = eventPayload(event, url);
    const chunk = payload && toChunk(payload, stream);
    if (chunk) yield chunk;
  }
  // A clean end without [DONE] is a cut too: the server or a proxy closed the connection early.
  throw new AiProviderError('Transient', `The streamed answer from ${url.host} was cut off before its end`);
}

function eventPayload(event: EventSourceMessage, url: URL): Record<string, unknown> | undefined {
  if (event.data.trim() === '') return undefined;
  const payload = parseJsonObject(event.data);
  if (event.event === 'error' || payload?.error !== undefined) {
    throw reportedError(payload ?? { error: event.data }, url);
  }
  if (!payload) {
    throw new AiProviderError(
      'Invalid',
      `${url.host} sent a streamed event that is not a chat completion chunk — check the base URL`,
    );
  }
  return payload;
}

/** The chunk in chat.ts's shape; usage is held back for the final chunk, and chunks without choices are dropped. */
function toChunk(payload: Record<string, unknown>, stream: StreamState): ChatCompletionChunk | undefined {
  stream.identity ??= identityOf(payload, stream.requestedModel);
  stream.usage = usageFrom(payload.usage) ?? stream.usage;
  const choices = Array.isArray(payload.choices) ? payload.choices : [];
  if (choices.length === 0) return undefined;
  return {
    ...stream.identity,
    object: 'chat.completion.chunk',
    choices: choices.map((item, position) => toChunkChoice(item, position, stream.started)),
  };
}

type ChunkChoice = ChatCompletionChunk['choices'][number];

function toChunkChoice(item: unknown, position: number, started: Set<string>): ChunkChoice {
  const choice = asRecord(item);
  const index = indexOf(choice?.index, position);
  const delta = asRecord(choice?.delta);
  const result: ChunkChoice['delta'] = {};
  // The first delta of a choice carries the role, whether or not the server sent it.
  if (firstTime(started, `${index}`) || delta?.role !== undefined) result.role = 'assistant';
  if (typeof delta?.content === 'string') result.content = delta.content;
  const toolCalls = Array.isArray(delta?.tool_calls) ? delta.tool_calls : [];
  const toolCallDeltas = toolCalls.flatMap((call, at) => toToolCallDelta(call, at, `${index}/`, started));
  if (toolCallDeltas.length > 0) result.tool_calls = toolCallDeltas;
  return { index, delta: result, finish_reason: finishReasonOf(choice?.finish_reason) };
}

function toToolCallDelta(
  item: unknown,
  position: number,
  keyPrefix: string,
  started: Set<string>,
): ToolCallDelta[] {
  const call = asRecord(item);
  if (!call) return [];
  const index = indexOf(call.index, position);
  const delta: ToolCallDelta = { index };
  const isFirst = firstTime(started, `${keyPrefix}${index}`);
  // A call's first delta needs an id: the app quotes it in its tool message.
  const id = stringOf(call.id) ?? (isFirst ? newToolCallId() : undefined);
  if (id) {
    delta.id = id;
    delta.type = 'function';
  }
  const fn = asRecord(call.function);
  const name = stringOf(fn?.name);
  const args = argumentsText(fn?.arguments);
  if (name !== undefined || args !== undefined) delta.function = { name, arguments: args };
  return [delta];
}

function firstTime(started: Set<string>, key: string): boolean {
  if (started.has(key)) return false;
  started.add(key);
  return true;
}

const throttlingCodes = new Set(['rate_limit_exceeded', 'rate_limit_error', 'requests', 'tokens']);
const refusalCodes = new Set(['invalid_request_error', 'context_length_exceeded', 'BadRequestError']);

/**
 * An error the provider reported inside a 2xx answer: OpenAI-compatible
 * servers send `data: {"error": {...}}` when a stream fails part way, a few
 * answer `200 {"error": ...}`. The code comes from the HTTP status some of
 * them put in `code`, else from the error's code and type.
 */
function reportedError(body: Record<string, unknown>, url: URL): AiProviderError {
  const error = asRecord(body.error) ?? body;
  const type = stringOf(error.type);
  const code = stringOf(error.code) ?? (typeof error.code === 'number' ? String(error.code) : undefined);
  const vendorCode = code ?? type;
  const providerMessage = stringOf(error.message) ?? stringOf(body.error);
  const said = providerMessage ? `: ${providerMessage}` : '';
  return new AiProviderError(
    reportedErrorCode([code, type]),
    `The provider reported an error in its answer from ${url.host}${vendorCode ? ` (${vendorCode})` : ''}${said}`,
    { vendorCode, providerMessage },
  );
}

function reportedErrorCode(codes: (string | undefined)[]): AiProviderErrorCode {
  const status = codes.map(Number).find((value) => Number.isInteger(value) && value >= 400 && value <= 599);
  if (codes.includes('insufficient_quota')) return 'PermissionDenied';
  if (status !== undefined) return codeForHttpStatus(status);
  if (codes.some((code) => code !== undefined && throttlingCodes.has(code))) return 'Throttled';
  if (codes.some((code) => code !== undefined && refusalCodes.has(code))) return 'Invalid';
  return 'Transient';
}

async function embeddings(
  connection: AiProviderConnection,
  request: EmbeddingsRequest,
  options: ChatCallOptions,
): Promise<EmbeddingsResponse> {
  options.signal?.throwIfAborted();
  const answer = await callProvider(openAiPost(connection, 'embeddings', request), options);
  const { body, list } = listAnswer(answer, 'data', embeddingsApi);
  const usage = asRecord(body.usage);
  const promptTokens = tokenCount(usage?.prompt_tokens) ?? 0;
  return {
    object: 'list',
    data: list.map((item, position) => {
      const embedding = asRecord(item)?.embedding;
      if (typeof embedding !== 'string' && !isNumberList(embedding)) {
        throw unexpectedAnswer(answer.status, answer.url, embeddingsApi);
      }
      return { object: 'embedding', index: indexOf(asRecord(item)?.index, position), embedding };
    }),
    model: stringOf(body.model) ?? request.model,
    usage: { prompt_tokens: promptTokens, total_tokens: tokenCount(usage?.total_tokens) ?? promptTokens },
  };
}

function isNumberList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'number');
}

/**
 * OpenAI's `{ error: { message, type, code } }`; compatible servers vary
 * (`{ error: "text" }`, vLLM's `{ object: 'error', message, type }`), so
 * each field is taken where it is found. `api` names the API that was called.
 */
export function openAiError(answer: ProviderAnswer, api: ApiDescription = modelsApi): AiProviderError {
  const body = asRecord(answer.json);
  const error = asRecord(body?.error);
  const providerMessage =
    stringOf(error?.message) ?? stringOf(body?.error) ?? stringOf(body?.message) ?? stringOf(body?.detail);
  const vendorCode = stringOf(error?.code) ?? stringOf(error?.type) ?? stringOf(body?.type);
  const failure = {
    status: answer.status,
    url: answer.url,
    vendorCode,
    providerMessage,
    retryAfterSeconds: parseRetryAfter(answer.headers.get('retry-after')),
  };
  const label = statusLabel(failure);
  if (answer.status === 401 && vendorCode === 'mismatched_organization') {
    return providerHttpError(
      {
        ...failure,
        message: `The provider rejected the organization given in the API key field ${label} — it must be an organization the API secret belongs to, or empty`,
      },
      api,
    );
  }
  if (vendorCode === 'insufficient_quota') {
    // A 429 that waiting does not cure: the account is out of credit.
    return providerHttpError(
      {
        ...failure,
        code: 'PermissionDenied',
        message: `The account behind the API secret has no quota left ${label} — check its plan and billing`,
      },
      api,
    );
  }
  if (vendorCode === 'model_not_found') {
    // A 404 about the model, not the base URL.
    return providerHttpError(
      {
        ...failure,
        code: 'NotFound',
        message: `The provider does not offer the requested model to these credentials ${label}${providerMessage ? `: ${providerMessage}` : ''} — check the model id`,
      },
      api,
    );
  }
  return providerHttpError(failure, api);
}

export const openAiAdapter: AiProviderAdapter = { listModels, chat, chatStream, embeddings };
