/**
 * Google's Gemini API (type GOOGLE), the `generativelanguage.googleapis.com`
 * API keyed by an AI Studio API key (not Vertex AI).
 *
 * Connection fields:
 * - `apiEndpoint`: the base URL including the API version:
 *   `https://generativelanguage.googleapis.com/v1beta` (the default when
 *   empty). A base that does not end in a version segment (a bare origin, a
 *   gateway's prefix) gets `/v1beta`.
 * - `apiSecret`: the API key, sent as the `x-goog-api-key` header (never as
 *   `?key=`, where it would end up in access logs).
 * - `apiKey`: unused and ignored.
 *
 * Models: `GET <base>/models?pageSize=&pageToken=` →
 * `{ models: [{ name: 'models/…', displayName, supportedGenerationMethods, … }], nextPageToken }`,
 * followed page by page while `nextPageToken` is set.
 * Chat: `POST <base>/models/{model}:generateContent`, streamed as
 * `:streamGenerateContent?alt=sse` (each event one GenerateContentResponse;
 * an error in the middle is an event `{ error: { code, message, status } }`);
 * translation in gemini-contents.ts.
 * Embeddings: `POST <base>/models/{model}:batchEmbedContents`, for one input
 * as for many.
 * Errors: `{ error: { code, message, status, details } }` (google.rpc.Status);
 * a bad key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID, not a 401.
 */
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from './chat.ts';
import {
  type ApiDescription,
  type HttpFailure,
  parseRetryAfter,
  providerHttpError,
  statusLabel,
  unexpectedAnswer,
} from './errors.ts';
import {
  isGenerateContentAnswer,
  toChatChunks,
  toChatCompletion,
  toGenerateContentRequest,
} from './gemini-contents.ts';
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
  type ProviderResponse,
  parseEndpoint,
  parseJsonObject,
  serverSentEvents,
  stringOf,
  tooManyPages,
} from './http.ts';
import type {
  AiProviderAdapter,
  AiProviderConnection,
  AiProviderError,
  AiProviderErrorCode,
  ChatCallOptions,
  ModelInfo,
  ProviderCallOptions,
} from './provider.ts';
import { float32Base64 } from './translation.ts';

export const geminiDefaultEndpoint = 'https://generativelanguage.googleapis.com/v1beta';
/** The API's maximum page size. */
const PAGE_SIZE = 1000;

const modelsApi: ApiDescription = {
  api: 'the Gemini models API',
  baseUrlHint: 'https://generativelanguage.googleapis.com/v1beta for the Gemini API',
  credential: 'the API secret (the Gemini API key)',
};

const modelCallsApi: ApiDescription = { ...modelsApi, api: 'the Gemini API' };

export function geminiBaseUrl(connection: AiProviderConnection): URL {
  const url = parseEndpoint(connection.apiEndpoint, geminiDefaultEndpoint, 'Gemini');
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = /\/v\d+(alpha|beta)?$/.test(path) ? path : `${path}/v1beta`;
  return url;
}

export function geminiHeaders(connection: AiProviderConnection): Record<string, string> {
  return { 'x-goog-api-key': connection.apiSecret, accept: 'application/json' };
}

async function listModels(
  connection: AiProviderConnection,
  options: ProviderCallOptions,
): Promise<ModelInfo[]> {
  const base = geminiBaseUrl(connection);
  const headers = geminiHeaders(connection);
  const models: ModelInfo[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const url = endpointUrl(base, 'models', { pageSize: String(PAGE_SIZE), pageToken });
    const answer = await callProvider({ url, headers }, options);
    if (!isSuccess(answer.status)) throw geminiError(answer);
    const body = asRecord(answer.json);
    // An account with no models answers `{}`; anything else without a `models` array is not this API.
    if (!body || (body.models !== undefined && !Array.isArray(body.models))) {
      throw unexpectedAnswer(answer.status, url, modelsApi);
    }
    models.push(...(Array.isArray(body.models) ? body.models.flatMap(toModelInfo) : []));
    const next = stringOf(body.nextPageToken);
    if (!next || next === pageToken) return models;
    pageToken = next;
  }
  throw tooManyPages(base);
}

function toModelInfo(item: unknown): ModelInfo[] {
  const model = asRecord(item);
  const name = stringOf(model?.name);
  if (!model || !name) return [];
  // `models/gemini-2.5-flash` → `gemini-2.5-flash`, the form requests name a model by.
  return [{ id: name.replace(/^models\//, ''), displayName: stringOf(model.displayName) }];
}

/** google.rpc.Code names → our codes, where they say more than the HTTP status. */
const codeByStatus: Readonly<Record<string, AiProviderErrorCode>> = {
  UNAUTHENTICATED: 'InvalidCredentials',
  PERMISSION_DENIED: 'PermissionDenied',
  // "User location is not supported for the API use": a refusal, not a malformed request.
  FAILED_PRECONDITION: 'PermissionDenied',
  NOT_FOUND: 'NotFound',
  RESOURCE_EXHAUSTED: 'Throttled',
  UNAVAILABLE: 'Transient',
  INTERNAL: 'Transient',
  DEADLINE_EXCEEDED: 'Transient',
};

export function geminiError(answer: ProviderAnswer, api = modelsApi): AiProviderError {
  return providerHttpError(geminiFailure(answer), api);
}

/** A refused call to a model: Google's own 404 there means the model, not the base URL. */
function modelCallError(answer: ProviderAnswer, model: string): AiProviderError {
  const failure = geminiFailure(answer);
  if (failure.status === 404 && failure.vendorCode === 'NOT_FOUND') {
    failure.message = `Gemini has no model ${JSON.stringify(model)} that supports this call ${statusLabel(failure)} — list the models to see which ones the key can use`;
  }
  return providerHttpError(failure, modelCallsApi);
}

function geminiFailure(answer: ProviderAnswer): HttpFailure {
  const error = asRecord(asRecord(answer.json)?.error);
  const details = Array.isArray(error?.details) ? error.details.map(asRecord) : [];
  const reason = details.map((detail) => stringOf(detail?.reason)).find(Boolean);
  const status = stringOf(error?.status);
  const providerMessage = stringOf(error?.message);
  return {
    status: answer.status,
    url: answer.url,
    vendorCode: reason ?? status,
    providerMessage,
    code: isBadKey(reason, providerMessage)
      ? 'InvalidCredentials'
      : status
        ? codeByStatus[status]
        : undefined,
    retryAfterSeconds: retryDelaySeconds(details) ?? parseRetryAfter(answer.headers.get('retry-after')),
  };
}

/** Google answers a wrong or expired key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID. */
function isBadKey(reason: string | undefined, message: string | undefined): boolean {
  return reason === 'API_KEY_INVALID' || /API key (not valid|expired|not found)/i.test(message ?? '');
}

/** google.rpc.RetryInfo's `retryDelay` is a Duration in JSON form: "37s", "0.5s". */
function retryDelaySeconds(details: (Record<string, unknown> | undefined)[]): number | undefined {
  for (const detail of details) {
    const delay = stringOf(detail?.retryDelay);
    const match = delay?.match(/^(\d+(?:\.\d+)?)s$/);
    if (match) return Math.ceil(Number(match[1]));
  }
  return undefined;
}

/** Requests may name a model `gemini-2.5-flash` or, as Gemini's own resource name, `models/gemini-2.5-flash`. */
function modelId(model: string): string {
  return model.replace(/^models\//, '');
}

function modelUrl(
  connection: AiProviderConnection,
  model: string,
  method: string,
  query?: Record<string, string>,
): URL {
  const path = `models/${encodeURIComponent(modelId(model))}:${method}`;
  return endpointUrl(geminiBaseUrl(connection), path, query);
}

async function chat(
  connection: AiProviderConnection,
  request: ChatRequest,
  options: ChatCallOptions,
): Promise<ChatCompletion> {
  const url = modelUrl(connection, request.model, 'generateContent');
  const post = jsonPost(url, geminiHeaders(connection), toGenerateContentRequest(request));
  const answer = await callProvider(post, options);
  if (!isSuccess(answer.status)) throw modelCallError(answer, request.model);
  const completion = asRecord(answer.json);
  if (!completion || !isGenerateContentAnswer(completion)) {
    throw unexpectedAnswer(answer.status, url, modelCallsApi);
  }
  return toChatCompletion(completion, request.model);
}

async function chatStream(
  connection: AiProviderConnection,
  request: ChatRequest,
  options: ChatCallOptions,
): Promise<AsyncIterable<ChatCompletionChunk>> {
  const url = modelUrl(connection, request.model, 'streamGenerateContent', { alt: 'sse' });
  const body = toGenerateContentRequest(request);
  const post = jsonPost(url, geminiHeaders(connection), body, 'text/event-stream');
  const response = await openProviderStream(post, options);
  await assertEventStream(response, url, modelCallsApi, (answer) => modelCallError(answer, request.model));
  const answers = endingOnAbort(streamedAnswers(response, url, options), options.signal);
  return toChatChunks(answers, request.model, url.host);
}

/** The stream's GenerateContentResponse chunks; an error event throws. */
async function* streamedAnswers(
  response: ProviderResponse,
  url: URL,
  options: ChatCallOptions,
): AsyncGenerator<Record<string, unknown>> {
  for await (const event of serverSentEvents(response, url, options.idleTimeoutMs)) {
    const chunk = parseJsonObject(event.data);
    if (!chunk) throw unexpectedAnswer(response.status, url, modelCallsApi);
    const error = asRecord(chunk.error);
    if (error) {
      const status = typeof error.code === 'number' ? error.code : 500;
      throw geminiError(
        { status, headers: response.headers, url, json: chunk, text: event.data },
        modelCallsApi,
      );
    }
    yield chunk;
  }
}

async function embeddings(
  connection: AiProviderConnection,
  request: EmbeddingsRequest,
  options: ChatCallOptions,
): Promise<EmbeddingsResponse> {
  const inputs = typeof request.input === 'string' ? [request.input] : request.input;
  const url = modelUrl(connection, request.model, 'batchEmbedContents');
  const requests = inputs.map((text) => ({
    model: `models/${modelId(request.model)}`,
    content: { parts: [{ text }] },
    outputDimensionality: request.dimensions,
  }));
  const answer = await callProvider(jsonPost(url, geminiHeaders(connection), { requests }), options);
  if (!isSuccess(answer.status)) throw modelCallError(answer, request.model);
  const vectors = embeddingValues(answer.json);
  if (vectors?.length !== inputs.length) throw unexpectedAnswer(answer.status, url, modelCallsApi);
  const promptTokens = estimateTokens(inputs);
  return {
    object: 'list',
    data: vectors.map((values, index) => ({
      object: 'embedding',
      index,
      embedding: request.encoding_format === 'base64' ? float32Base64(values) : values,
    })),
    model: request.model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

/** `{ embeddings: [{ values: number[] }] }`, or undefined when the answer is not that. */
function embeddingValues(json: unknown): number[][] | undefined {
  const embeddings = asRecord(json)?.embeddings;
  if (!Array.isArray(embeddings)) return undefined;
  const vectors = embeddings.map((item) => asRecord(item)?.values);
  return vectors.every((values) => Array.isArray(values) && values.every((v) => typeof v === 'number'))
    ? (vectors as number[][])
    : undefined;
}

/**
 * Gemini reports no token count for embeddings, and counting them would cost
 * a countTokens call per request. This estimate (about 4 characters a token,
 * at least 1 per input) is what metering gets: close for English, not exact.
 */
function estimateTokens(inputs: string[]): number {
  return inputs.reduce((total, text) => total + Math.max(1, Math.ceil(text.length / 4)), 0);
}

export const geminiAdapter: AiProviderAdapter = { listModels, chat, chatStream, embeddings };
