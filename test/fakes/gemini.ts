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
