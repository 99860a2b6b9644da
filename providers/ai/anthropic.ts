/**
 * Anthropic's API (type ANTHROPIC).
 *
 * Connection fields:
 * - `apiEndpoint`: the base URL as the Anthropic SDK's `baseURL`, without the
 *   version: `https://api.anthropic.com` (the default when empty), or a
 *   gateway's prefix (`https://gateway.example/anthropic`). A trailing `/v1`
 *   is accepted too; calls go to `<base>/v1/...`.
 * - `apiSecret`: the API key, sent as `x-api-key`.
 * - `apiKey`: unused (Anthropic has no second credential) and ignored.
 * Every request carries `anthropic-version: 2023-06-01`.
 *
 * Models: `GET /v1/models?limit=&after_id=` →
 * `{ data: [{ type: 'model', id, display_name, created_at }], has_more, first_id, last_id }`,
 * followed page by page while `has_more`.
 * Chat: `POST /v1/messages` (translated in anthropic-messages.ts), streamed
 * as server-sent events `message_start`, `content_block_start` / `_delta` /
 * `_stop`, `message_delta`, `message_stop`, `ping`, and `error` (e.g.
 * `overloaded_error`) in the middle of a stream.
 * Embeddings: Anthropic has none; `embeddings` says so (Invalid).
 * Errors: `{ type: 'error', error: { type, message }, request_id }`; 529 is `overloaded_error`.
 */
import { StreamTranslator, toChatCompletion, toMessagesRequest } from './anthropic-messages.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsResponse } from './chat.ts';
import {
  type ApiDescription,
  codeForHttpStatus,
  type HttpFailure,
  parseRetryAfter,
  providerHttpError,
  statusLabel,
  unexpectedAnswer,
} from './errors.ts';
import {
  asRecord,
  assertEventStream,
  callProvider,
  endingOnAbort,
  endpointUrl,
  isSuccess,
  jsonPost,
  MAX_PAGES,
  openProviderStream,
  type ProviderAnswer,
  type ProviderRequest,
  type ProviderResponse,
  parseEndpoint,
  parseJsonObject,
  serverSentEvents,
  stringOf,
  tooManyPages,
} from './http.ts';
import {
  type AiProviderAdapter,
  type AiProviderConnection,
  AiProviderError,
  type ChatCallOptions,
  type ModelInfo,
  type ProviderCallOptions,
} from './provider.ts';

export const anthropicDefaultEndpoint = 'https://api.anthropic.com';
export const anthropicVersion = '2023-06-01';
/** The API's maximum page size: the fewest round trips. */
const PAGE_LIMIT = 1000;

const modelsApi: ApiDescription = {
  api: 'the Anthropic models API',
  baseUrlHint: 'https://api.anthropic.com for Anthropic itself; requests go to <base>/v1/…',
  credential: 'the API secret (sent as x-api-key)',
};
const messagesApi: ApiDescription = { ...modelsApi, api: 'the Anthropic Messages API' };

/** The versioned base every call is relative to: `<apiEndpoint>/v1`. */
export function anthropicBaseUrl(connection: AiProviderConnection): URL {
  const url = parseEndpoint(connection.apiEndpoint, anthropicDefaultEndpoint, 'Anthropic');
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith('/v1') ? path : `${path}/v1`;
  return url;
}

export function anthropicHeaders(connection: AiProviderConnection): Record<string, string> {
  return {
    'x-api-key': connection.apiSecret,
    'anthropic-version': anthropicVersion,
    accept: 'application/json',
  };
}

async function listModels(
  connection: AiProviderConnection,
  options: ProviderCallOptions,
): Promise<ModelInfo[]> {
  const base = anthropicBaseUrl(connection);
  const headers = anthropicHeaders(connection);
  const models: ModelInfo[] = [];
  let afterId: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const url = endpointUrl(base, 'models', { limit: String(PAGE_LIMIT), after_id: afterId });
    const answer = await callProvider({ url, headers }, options);
    if (!isSuccess(answer.status)) throw anthropicError(answer);
    const body = asRecord(answer.json);
    if (!body || !Array.isArray(body.data)) throw unexpectedAnswer(answer.status, url, modelsApi);
    models.push(...body.data.flatMap(toModelInfo));
    const lastId = stringOf(body.last_id);
    // A cursor that does not move would repeat the same page forever.
    if (body.has_more !== true || !lastId || lastId === afterId) return models;
    afterId = lastId;
  }
  throw tooManyPages(base);
}

function toModelInfo(item: unknown): ModelInfo[] {
  const model = asRecord(item);
  const id = stringOf(model?.id);
  if (!model || !id) return [];
  return [{ id, displayName: stringOf(model.display_name), created: stringOf(model.created_at) }];
}

/** Anthropic's error body; `api` names the API in the messages. */
export function anthropicError(answer: ProviderAnswer, api: ApiDescription = modelsApi): AiProviderError {
  const error = asRecord(asRecord(answer.json)?.error);
  const failure: HttpFailure = {
    status: answer.status,
    url: answer.url,
    vendorCode: stringOf(error?.type),
    providerMessage: stringOf(error?.message),
    retryAfterSeconds: parseRetryAfter(answer.headers.get('retry-after')),
  };
  // An unknown model is a 404 too, but not a wrong base URL: "model: claude-nope".
  if (failure.vendorCode === 'not_found_error' && failure.providerMessage?.startsWith('model:')) {
    const message = `The provider does not offer this model ${statusLabel(failure)}: ${failure.providerMessage} — check the model id`;
    return providerHttpError({ ...failure, message }, api);
  }
  return providerHttpError(failure, api);
}

async function chat(
  connection: AiProviderConnection,
  request: ChatRequest,
  options: ChatCallOptions,
): Promise<ChatCompletion> {
  const call = messagesCall(connection, request, false);
  const answer = await callProvider(call, options);
  if (!isSuccess(answer.status)) throw anthropicError(answer, messagesApi);
  const completion = toChatCompletion(answer.json, request.model);
  if (!completion) throw unexpectedAnswer(answer.status, call.url, messagesApi);
  return completion;
}

async function chatStream(
  connection: AiProviderConnection,
  request: ChatRequest,
  options: ChatCallOptions,
): Promise<AsyncIterable<ChatCompletionChunk>> {
  const call = messagesCall(connection, request, true);
  const { url } = call;
  const response = await openProviderStream(call, options);
  await assertEventStream(response, url, messagesApi, (answer) => anthropicError(answer, messagesApi));
  return endingOnAbort(streamedChunks(response, url, request.model, options), options.signal);
}

function messagesCall(
  connection: AiProviderConnection,
  request: ChatRequest,
  stream: boolean,
): ProviderRequest {
  const url = endpointUrl(anthropicBaseUrl(connection), 'messages');
  const accept = stream ? 'text/event-stream' : 'application/json';
  return jsonPost(url, anthropicHeaders(connection), toMessagesRequest(request, stream), accept);
}

async function* streamedChunks(
  response: ProviderResponse,
  url: URL,
  requestedModel: string,
  options: ChatCallOptions,
): AsyncGenerator<ChatCompletionChunk> {
  const translator = new StreamTranslator(requestedModel);
  for await (const message of serverSentEvents(response, url, options.idleTimeoutMs)) {
    const event = parseStreamEvent(message.data, url);
    if (event.type === 'error') throw streamError(asRecord(event.error), url);
    yield* translator.translate(event);
    if (event.type === 'message_stop') return;
  }
  throw new AiProviderError(
    'Transient',
    `The streamed answer from ${url.host} ended before its message_stop event — try again`,
  );
}

function parseStreamEvent(data: string, url: URL): Record<string, unknown> {
  const event = parseJsonObject(data);
  if (event) return event;
  throw new AiProviderError('Transient', `${url.host} sent an unreadable event in a streamed answer`);
}

/** The HTTP status Anthropic gives each error type, so an in-stream error maps like a refused request. */
const statusOfErrorType: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

function streamError(error: Record<string, unknown> | undefined, url: URL): AiProviderError {
  const type = stringOf(error?.type) ?? 'api_error';
  const providerMessage = stringOf(error?.message);
  const code = codeForHttpStatus(statusOfErrorType[type] ?? 500);
  const said = providerMessage ? `: ${providerMessage}` : '';
  const retry = code === 'Transient' || code === 'Throttled' ? ' — try again later' : '';
  return new AiProviderError(
    code,
    `${url.host} reported ${type} in the middle of a streamed answer${said}${retry}`,
    { vendorCode: type, providerMessage },
  );
}

async function embeddings(): Promise<EmbeddingsResponse> {
  throw new AiProviderError(
    'Invalid',
    'Anthropic has no embeddings API — use an AI LLM config of a provider that has one (OpenAI, Google, AWS Bedrock) for embeddings',
  );
}

export const anthropicAdapter: AiProviderAdapter = { listModels, chat, chatStream, embeddings };
