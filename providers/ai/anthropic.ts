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
 * Errors: `{ type: 'error', error: { type, message }, request_id }`; 529 is `overloaded_error`.
 */
import { type ApiDescription, parseRetryAfter, providerHttpError, unexpectedAnswer } from './errors.ts';
import {
  asRecord,
  callProvider,
  endpointUrl,
  MAX_PAGES,
  type ProviderAnswer,
  parseEndpoint,
  stringOf,
  tooManyPages,
} from './http.ts';
import type {
  AiProviderAdapter,
  AiProviderConnection,
  AiProviderError,
  ModelInfo,
  ProviderCallOptions,
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
    if (answer.status < 200 || answer.status > 299) throw anthropicError(answer);
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

export function anthropicError(answer: ProviderAnswer): AiProviderError {
  const error = asRecord(asRecord(answer.json)?.error);
  return providerHttpError(
    {
      status: answer.status,
      url: answer.url,
      vendorCode: stringOf(error?.type),
      providerMessage: stringOf(error?.message),
      retryAfterSeconds: parseRetryAfter(answer.headers.get('retry-after')),
    },
    modelsApi,
  );
}

export const anthropicAdapter: AiProviderAdapter = { listModels };
