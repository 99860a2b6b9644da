/**
 * A fake Gemini API (generativelanguage.googleapis.com), from the public API
 * reference, authenticated by `x-goog-api-key` (or `?key=`):
 * - `GET /v1beta/models`, paginated by `pageSize` / `pageToken` → `nextPageToken`;
 * - `POST /v1beta/models/{model}:generateContent` and
 *   `:streamGenerateContent?alt=sse` (one GenerateContentResponse per `data:`
 *   event, the finish reason and usage on the last; an error in the middle
 *   is a `data:` event holding `{ error }`);
 * - `POST /v1beta/models/{model}:embedContent` and `:batchEmbedContents`.
 * Errors are google.rpc.Status `{ error: { code, message, status, details } }`.
 * Like Google, it answers a wrong key with 400 INVALID_ARGUMENT
 * (API_KEY_INVALID), an unknown model with 404 NOT_FOUND, a field the API does
 * not know ("Unknown name") with 400, and a path outside the API with
 * Google's HTML 404 page.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  completeReply,
  decodePageToken,
  defaultReply,
  encodePageToken,
  type FakeChatStep,
  type FakeErrorStep,
  type FakeModel,
  type FakeReply,
  type FakeResponse,
  type FakeServer,
  header,
  type RecordedRequest,
  startFakeHttpServer,
  streamPieces,
} from './fake-http.ts';

export interface FakeGeminiOptions {
  secrets?: string[];
  models?: FakeModel[];
  /** Caps a page below the requested `pageSize`, to make tests paginate. Default: the API's 1000. */
  maxPageSize?: number;
}

export interface FakeGemini extends FakeServer {
  /** The base URL a client is configured with: `<origin>/v1beta`. */
  readonly baseUrl: string;
  models: FakeModel[];
}

export const fakeGeminiSecret = 'AIzaFakeGemini0123456789abcdefghijklm';

export const defaultGeminiModels: FakeModel[] = [
  { id: 'gemini-2.5-pro', displayName: 'Gemini 2.5 Pro' },
  { id: 'gemini-2.5-flash', displayName: 'Gemini 2.5 Flash' },
  { id: 'text-embedding-004', displayName: 'Text Embedding 004' },
];

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
const apiVersions = ['/v1beta', '/v1'];

export async function startFakeGemini(options: FakeGeminiOptions = {}): Promise<FakeGemini> {
  const secrets = options.secrets ?? [fakeGeminiSecret];
  const maxPageSize = options.maxPageSize ?? MAX_PAGE_SIZE;
  const state = { models: options.models ?? defaultGeminiModels };

  function answer(request: RecordedRequest, step?: FakeChatStep): FakeResponse {
    const version = apiVersions.find((prefix) => request.path.startsWith(`${prefix}/`));
    if (!version) return googleHtml404(request.path);
    const call = modelCallOf(request, version);
    const isListing = request.method === 'GET' && request.path === `${version}/models`;
    if (!isListing && !call) return googleError(404, 'NOT_FOUND', 'Method not found.');
    const refusal = authenticate(request);
    if (refusal) return refusal;
    return call ? answerModelCall(request, call, version, step) : listPage(request);
  }

  function authenticate(request: RecordedRequest): FakeResponse | undefined {
    const key = header(request, 'x-goog-api-key') ?? request.query.get('key');
    if (!key) {
      return googleError(
        403,
        'PERMISSION_DENIED',
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      );
    }
    return secrets.includes(key) ? undefined : invalidKey();
  }

  function answerModelCall(
    request: RecordedRequest,
    call: ModelCall,
    version: string,
    step: FakeChatStep | undefined,
  ): FakeResponse {
    const model = state.models.find((candidate) => candidate.id === call.model);
    if (!model || isEmbeddingModel(model) !== embeddingMethods.has(call.method)) {
      return googleError(
        404,
        'NOT_FOUND',
        `models/${call.model} is not found for API version ${version.slice(1)}, or is not supported for ${call.method}. Call ListModels to see the list of available models and their supported methods.`,
      );
    }
    const body = parseBody(request.body);
    if (!body) return invalidArgument('Invalid JSON payload received.');
    if (call.method === 'embedContent') return embedOne(body);
    if (call.method === 'batchEmbedContents') return embedBatch(body, call.model);
    const invalid = invalidGenerateRequest(body);
    if (invalid) return invalidArgument(invalid);
    const reply = replyTo(body, step);
    if (call.method === 'generateContent') {
      // A non-streamed request cannot fail in the middle: it gets the provider's 500 instead.
      if (step?.kind === 'stream-error') return scriptedError({ kind: 'error', status: 500 });
      return { status: 200, json: generateContentResponse(reply, call.model) };
    }
    return streamedAnswer(reply, call.model, request.query.get('alt') === 'sse', step);
  }

  function listPage(request: RecordedRequest): FakeResponse {
    const pageSize = Math.min(Number(request.query.get('pageSize') ?? DEFAULT_PAGE_SIZE), maxPageSize);
    const token = request.query.get('pageToken');
    const offset = token ? decodePageToken(token) : 0;
    if (offset === undefined || !Number.isInteger(pageSize) || pageSize < 1) {
      return googleError(400, 'INVALID_ARGUMENT', 'Invalid page token or page size.');
    }
    const page = state.models.slice(offset, offset + pageSize);
    const next = offset + pageSize < state.models.length ? encodePageToken(offset + pageSize) : undefined;
    return {
      status: 200,
      json: { models: page.map(renderModel), ...(next ? { nextPageToken: next } : {}) },
    };
  }

  const server = await startFakeHttpServer({ answer, errorResponse: scriptedError });
  return {
    ...server,
    baseUrl: `${server.origin}/v1beta`,
    get models() {
      return state.models;
    },
    set models(models: FakeModel[]) {
      state.models = models;
    },
  };
}

function renderModel(model: FakeModel) {
  const embedding = isEmbeddingModel(model);
  return {
    name: `models/${model.id}`,
    version: '001',
    displayName: model.displayName ?? model.id,
    description: `${model.displayName ?? model.id} (fake)`,
    inputTokenLimit: embedding ? 2048 : 1048576,
    outputTokenLimit: embedding ? 1 : 65536,
    supportedGenerationMethods: embedding ? ['embedContent'] : ['generateContent', 'countTokens'],
  };
}

function invalidKey(): FakeResponse {
  const message = 'API key not valid. Please pass a valid API key.';
  return googleError(400, 'INVALID_ARGUMENT', message, [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'API_KEY_INVALID',
      domain: 'googleapis.com',
      metadata: { service: 'generativelanguage.googleapis.com' },
    },
    { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message },
  ]);
}

function scriptedError(step: FakeErrorStep): FakeResponse {
  const { status } = step;
  if (status === 400 && !step.message) return invalidKey();
  if (status === 429) {
    const retry =
      step.retryAfterSeconds === undefined
        ? []
        : [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${step.retryAfterSeconds}s` }];
    return googleError(
      429,
      'RESOURCE_EXHAUSTED',
      step.message ?? 'You exceeded your current quota, please check your plan and billing details.',
      retry,
    );
  }
  const [rpcStatus, message] =
    status === 401
      ? ['UNAUTHENTICATED', 'Request had invalid authentication credentials.']
      : status === 403
        ? ['PERMISSION_DENIED', 'The caller does not have permission']
        : status === 404
          ? ['NOT_FOUND', 'Method not found.']
          : status === 503
            ? ['UNAVAILABLE', 'The model is overloaded. Please try again later.']
            : status === 504
              ? ['DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.']
              : status >= 500
                ? [
                    'INTERNAL',
                    'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
                  ]
                : ['INVALID_ARGUMENT', 'Request contains an invalid argument.'];
  return googleError(status, rpcStatus, step.message ?? message);
}

function googleError(status: number, rpcStatus: string, message: string, details?: unknown[]): FakeResponse {
  return {
    status,
    json: { error: { code: status, message, status: rpcStatus, ...(details?.length ? { details } : {}) } },
  };
}

function googleHtml404(path: string): FakeResponse {
  return {
    status: 404,
    headers: { 'content-type': 'text/html; charset=UTF-8' },
    text: `<!DOCTYPE html><html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL <code>${path.replace(/[<>&]/g, '')}</code> was not found on this server. <ins>That’s all we know.</ins>`,
  };
}

// ---- Model calls ----

type Json = Record<string, unknown>;

interface ModelCall {
  model: string;
  method: string;
}

const generateMethods = new Set(['generateContent', 'streamGenerateContent']);
const embeddingMethods = new Set(['embedContent', 'batchEmbedContents']);

function isEmbeddingModel(model: FakeModel): boolean {
  return model.id.includes('embedding');
}

/** `POST /v1beta/models/gemini-2.5-flash:generateContent` → the model and the method. */
function modelCallOf(request: RecordedRequest, version: string): ModelCall | undefined {
  if (request.method !== 'POST' || !request.path.startsWith(`${version}/models/`)) return undefined;
  const match = decodeURIComponent(request.path.slice(`${version}/models/`.length)).match(/^([^/:]+):(\w+)$/);
  const [, model, method] = match ?? [];
  if (!model || !method || !(generateMethods.has(method) || embeddingMethods.has(method))) return undefined;
  return { model, method };
}

function parseBody(body: string): Json | undefined {
  try {
    return asJson(JSON.parse(body));
  } catch {
    return undefined;
  }
}

function asJson(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}
function jsonList(value: unknown): Json[] {
  const items: unknown[] = Array.isArray(value) ? value : [];
  return items.flatMap((item) => {
    const json = asJson(item);
    return json ? [json] : [];
  });
}

function invalidArgument(message: string): FakeResponse {
  return googleError(400, 'INVALID_ARGUMENT', message);
}

// ---- Request validation: the fields of the API reference, and nothing else ----

const requestFields = [
  'contents',
  'systemInstruction',
  'tools',
  'toolConfig',
  'generationConfig',
  'safetySettings',
  'cachedContent',
];
const generationConfigFields = [
  'temperature',
  'topP',
  'topK',
  'candidateCount',
  'maxOutputTokens',
  'stopSequences',
  'responseMimeType',
  'responseSchema',
  'responseJsonSchema',
  'seed',
  'presencePenalty',
  'frequencyPenalty',
  'thinkingConfig',
];
const partFields = [
  'text',
  'inlineData',
  'fileData',
  'functionCall',
  'functionResponse',
  'thought',
  'thoughtSignature',
];
const schemaFields = [
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
];

/** Google's message for a request it refuses, or undefined when the request is fine. */
function invalidGenerateRequest(body: Json): string | undefined {
  const contents = jsonList(body.contents);
  if (!contents.length) return '* GenerateContentRequest.contents: contents is not specified';
  const config = asJson(body.generationConfig) ?? {};
  if (config.responseSchema && config.responseMimeType !== 'application/json') {
    return 'Invalid argument: response_schema is only supported with response_mime_type application/json';
  }
  return (
    unknownField(body, requestFields, '') ??
    unknownField(config, generationConfigFields, 'generation_config') ??
    contents.map(invalidContent).find(Boolean) ??
    schemaProblem(config.responseSchema, 'generation_config.response_schema') ??
    declarationsOf(body)
      .map((declaration) =>
        schemaProblem(declaration.parameters, 'tools[0].function_declarations.parameters'),
      )
      .find(Boolean)
  );
}

function invalidContent(content: Json): string | undefined {
  if (content.role !== undefined && content.role !== 'user' && content.role !== 'model') {
    return `Please use a valid role: user, model.`;
  }
  const parts = jsonList(content.parts);
  if (!parts.length) return '* GenerateContentRequest.contents.parts: contents.parts must not be empty.';
  return parts.map((part) => unknownField(part, partFields, 'contents.parts')).find(Boolean);
}

function unknownField(object: Json, known: string[], where: string): string | undefined {
  const unknown = Object.keys(object).find((field) => !known.includes(field));
  const at = where ? ` at '${where}'` : '';
  return unknown && `Invalid JSON payload received. Unknown name "${unknown}"${at}: Cannot find field.`;
}

function schemaProblem(value: unknown, where: string): string | undefined {
  const schema = asJson(value);
  if (!schema) return undefined;
  const nested = [
    ...Object.entries(asJson(schema.properties) ?? {}).map(([name, item]) =>
      schemaProblem(item, `${where}.properties[${name}].value`),
    ),
    schemaProblem(schema.items, `${where}.items`),
    ...jsonList(schema.anyOf).map((item, index) => schemaProblem(item, `${where}.any_of[${index}]`)),
  ];
  return unknownField(schema, schemaFields, where) ?? nested.find(Boolean);
}

function declarationsOf(body: Json): Json[] {
  return jsonList(body.tools).flatMap((tool) => jsonList(tool.functionDeclarations));
}

// ---- Answers ----

/** Every text of the request (system instruction included), for the word-count usage. */
function promptTextOf(body: Json): string {
  const system = jsonList(asJson(body.systemInstruction)?.parts);
  const turns = jsonList(body.contents).flatMap((content) => jsonList(content.parts));
  return textsOf([...system, ...turns]).join(' ');
}

function textsOf(parts: Json[]): string[] {
  return parts.flatMap((part) => (typeof part.text === 'string' ? [part.text] : []));
}

function lastUserTextOf(body: Json): string {
  const userTexts = jsonList(body.contents)
    .filter((content) => content.role !== 'model')
    .map((content) => textsOf(jsonList(content.parts)).join(''))
    .filter(Boolean);
  return userTexts.at(-1) ?? '';
}

type CompleteReply = ReturnType<typeof completeReply>;

function replyTo(body: Json, step: FakeChatStep | undefined): CompleteReply {
  const promptText = promptTextOf(body);
  const scripted = step?.kind === 'reply' ? step.reply : step?.reply;
  return completeReply(scripted ?? defaultReply(lastUserTextOf(body), promptText), promptText);
}

const geminiFinishReasons: Record<NonNullable<FakeReply['finishReason']>, string> = {
  stop: 'STOP',
  tool_calls: 'STOP', // Gemini has no finish reason of its own for function calls
  length: 'MAX_TOKENS',
  content_filter: 'SAFETY',
};

function usageMetadata(reply: CompleteReply) {
  const { inputTokens, outputTokens } = reply.usage;
  return {
    promptTokenCount: inputTokens,
    candidatesTokenCount: outputTokens,
    totalTokenCount: inputTokens + outputTokens,
  };
}

function functionCallParts(reply: CompleteReply): Json[] {
  return (reply.toolCalls ?? []).map((call) => ({
    functionCall: { name: call.name, args: JSON.parse(call.arguments) as unknown },
  }));
}

function generateContentResponse(reply: CompleteReply, model: string): Json {
  const parts = [...(reply.text ? [{ text: reply.text }] : []), ...functionCallParts(reply)];
  return {
    candidates: [
      { content: { role: 'model', parts }, finishReason: geminiFinishReasons[reply.finishReason], index: 0 },
    ],
    usageMetadata: usageMetadata(reply),
    modelVersion: model,
    responseId: randomBytes(12).toString('base64url'),
  };
}

/**
 * The reply as streamed chunks: one per piece of text, one per whole function
 * call; the last carries the finish reason and the usage.
 */
function streamChunks(reply: CompleteReply, model: string): Json[] {
  const pieces: Json[] = [...streamPieces(reply.text).map((text) => ({ text })), ...functionCallParts(reply)];
  const responseId = randomBytes(12).toString('base64url');
  const chunks = (pieces.length ? pieces : [{ text: '' }]).map((part) => ({
    candidates: [{ content: { role: 'model', parts: [part] }, index: 0 } as Json],
    modelVersion: model,
    responseId,
  }));
  const last = chunks.at(-1)!;
  last.candidates[0]!.finishReason = geminiFinishReasons[reply.finishReason];
  return chunks.map((chunk) => (chunk === last ? { ...chunk, usageMetadata: usageMetadata(reply) } : chunk));
}

function streamedAnswer(
  reply: CompleteReply,
  model: string,
  asSse: boolean,
  step: FakeChatStep | undefined,
): FakeResponse {
  const chunks = streamChunks(reply, model);
  // Without `alt=sse`, Gemini streams one JSON array instead of events.
  if (!asSse) return { status: 200, json: chunks };
  const events = chunks.map(sseEvent);
  const headers = { 'content-type': 'text/event-stream' };
  switch (step?.kind) {
    case 'stream-error': {
      const message = step.message ?? 'The model is overloaded. Please try again later.';
      const error = { error: { code: 503, message, status: 'UNAVAILABLE' } };
      return { status: 200, headers, chunks: [...events.slice(0, step.afterPieces), sseEvent(error)] };
    }
    case 'stream-drop':
      return { status: 200, headers, chunks: events, dropAfterChunks: step.afterPieces };
    case 'slow-stream':
      return { status: 200, headers, chunks: events, chunkDelayMs: step.pieceDelayMs };
    default:
      return { status: 200, headers, chunks: events };
  }
}

function sseEvent(data: unknown): string {
  return `data: ${JSON.stringify(data)}\r\n\r\n`;
}

// ---- Embeddings ----

/** text-embedding-004's size, unless `outputDimensionality` asks for fewer. */
const EMBEDDING_DIMENSIONS = 768;

function embedOne(body: Json): FakeResponse {
  const values = embeddingOf(body);
  if (!values) return invalidArgument('* EmbedContentRequest.content: contents is not specified');
  return { status: 200, json: { embedding: { values } } };
}

function embedBatch(body: Json, model: string): FakeResponse {
  const requests = jsonList(body.requests);
  if (!requests.length)
    return invalidArgument('* BatchEmbedContentsRequest.requests: requests is not specified');
  if (requests.some((request) => request.model !== `models/${model}`)) {
    return invalidArgument(
      `* BatchEmbedContentsRequest.model: the model of each request must be the batch's, models/${model}`,
    );
  }
  const vectors = requests.map(embeddingOf);
  if (vectors.some((values) => !values)) {
    return invalidArgument('* BatchEmbedContentsRequest.requests.content: contents is not specified');
  }
  return { status: 200, json: { embeddings: vectors.map((values) => ({ values })) } };
}

/** A deterministic vector for the request's text (the same text, the same vector). */
function embeddingOf(request: Json): number[] | undefined {
  const texts = textsOf(jsonList(asJson(request.content)?.parts));
  if (!texts.length) return undefined;
  const dimensions = Number(request.outputDimensionality ?? EMBEDDING_DIMENSIONS);
  const digest = createHash('sha256').update(texts.join('')).digest();
  return Array.from({ length: dimensions }, (_, index) => digest[index % digest.length]! / 127.5 - 1);
}
