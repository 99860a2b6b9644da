/**
 * A fake Anthropic API, from the public API reference: `GET /v1/models` with
 * `x-api-key` and `anthropic-version`, paginated by `limit` / `after_id` /
 * `before_id` with `has_more`, `first_id`, `last_id`; errors as
 * `{ type: 'error', error: { type, message }, request_id }`.
 */
import { randomUUID } from 'node:crypto';
import {
  type FakeErrorStep,
  type FakeModel,
  type FakeResponse,
  type FakeServer,
  header,
  type RecordedRequest,
  startFakeHttpServer,
} from './fake-http.ts';

export interface FakeAnthropicOptions {
  secrets?: string[];
  models?: FakeModel[];
  /** Caps a page below the requested `limit`, to make tests paginate. Default: the API's 1000. */
  maxPageSize?: number;
}

export interface FakeAnthropic extends FakeServer {
  /** The base URL a client is configured with (as the Anthropic SDK's `baseURL`): the origin. */
  readonly baseUrl: string;
  models: FakeModel[];
}

export const fakeAnthropicSecret = 'sk-ant-fake-0123456789abcdef';

export const defaultAnthropicModels: FakeModel[] = [
  { id: 'claude-sonnet-4-5-20250929', displayName: 'Claude Sonnet 4.5', created: 1759104000 },
  { id: 'claude-opus-4-1-20250805', displayName: 'Claude Opus 4.1', created: 1754352000 },
  { id: 'claude-3-5-haiku-20241022', displayName: 'Claude Haiku 3.5', created: 1729555200 },
];

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 1000;

export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const secrets = options.secrets ?? [fakeAnthropicSecret];
  const maxPageSize = options.maxPageSize ?? MAX_LIMIT;
  const state = { models: options.models ?? defaultAnthropicModels };

  function answer(request: RecordedRequest): FakeResponse {
    if (request.method !== 'GET' || request.path !== '/v1/models') {
      return anthropicError(404, 'not_found_error', 'Not Found');
    }
    if (!header(request, 'anthropic-version')) {
      return anthropicError(400, 'invalid_request_error', 'anthropic-version: header is required');
    }
    const key = header(request, 'x-api-key');
    if (!key) return anthropicError(401, 'authentication_error', 'x-api-key header is required');
    if (!secrets.includes(key)) return anthropicError(401, 'authentication_error', 'invalid x-api-key');
    return listPage(request);
  }

  function listPage(request: RecordedRequest): FakeResponse {
    const limit = Number(request.query.get('limit') ?? DEFAULT_LIMIT);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      return anthropicError(
        400,
        'invalid_request_error',
        `limit: Input should be between 1 and ${MAX_LIMIT}`,
      );
    }
    const size = Math.min(limit, maxPageSize);
    const ids = state.models.map((model) => model.id);
    const afterId = request.query.get('after_id');
    const beforeId = request.query.get('before_id');
    const cursor = afterId ?? beforeId;
    if (cursor !== null && !ids.includes(cursor)) {
      return anthropicError(400, 'invalid_request_error', `Invalid cursor: ${cursor}`);
    }
    let start = 0;
    let end = Math.min(size, ids.length);
    if (afterId !== null) {
      start = ids.indexOf(afterId) + 1;
      end = Math.min(start + size, ids.length);
    } else if (beforeId !== null) {
      end = ids.indexOf(beforeId);
      start = Math.max(0, end - size);
    }
    const page = state.models.slice(start, end);
    return {
      status: 200,
      headers: { 'request-id': requestId() },
      json: {
        data: page.map((model) => ({
          type: 'model',
          id: model.id,
          display_name: model.displayName ?? model.id,
          created_at: new Date((model.created ?? 0) * 1000).toISOString(),
        })),
        has_more: beforeId !== null ? start > 0 : end < ids.length,
        first_id: page[0]?.id ?? null,
        last_id: page.at(-1)?.id ?? null,
      },
    };
  }

  const server = await startFakeHttpServer({ answer, errorResponse: scriptedError });
  return {
    ...server,
    baseUrl: server.origin,
    get models() {
      return state.models;
    },
    set models(models: FakeModel[]) {
      state.models = models;
    },
  };
}

/** The error type the API documents for each status. */
function errorTypeFor(status: number): string {
  const types: Record<number, string> = {
    400: 'invalid_request_error',
    401: 'authentication_error',
    402: 'billing_error',
    403: 'permission_error',
    404: 'not_found_error',
    413: 'request_too_large',
    429: 'rate_limit_error',
    529: 'overloaded_error',
  };
  return types[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

const defaultMessages: Record<string, string> = {
  authentication_error: 'invalid x-api-key',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  rate_limit_error: 'Number of requests has exceeded your rate limit. Please try again later.',
  overloaded_error: 'Overloaded',
  api_error: 'Internal server error',
};

function scriptedError(step: FakeErrorStep): FakeResponse {
  const type = errorTypeFor(step.status);
  const response = anthropicError(step.status, type, step.message ?? defaultMessages[type] ?? 'Error');
  if (step.retryAfterSeconds !== undefined) {
    response.headers = { ...response.headers, 'retry-after': String(step.retryAfterSeconds) };
  }
  return response;
}

function requestId(): string {
  return `req_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
}

function anthropicError(status: number, type: string, message: string): FakeResponse {
  const id = requestId();
  return {
    status,
    headers: { 'request-id': id },
    json: { type: 'error', error: { type, message }, request_id: id },
  };
}
