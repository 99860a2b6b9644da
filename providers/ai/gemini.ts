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
 * Errors: `{ error: { code, message, status, details } }` (google.rpc.Status);
 * a bad key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID, not a 401.
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
  AiProviderErrorCode,
  ModelInfo,
  ProviderCallOptions,
} from './provider.ts';

export const geminiDefaultEndpoint = 'https://generativelanguage.googleapis.com/v1beta';
/** The API's maximum page size. */
const PAGE_SIZE = 1000;

const modelsApi: ApiDescription = {
  api: 'the Gemini models API',
  baseUrlHint: 'https://generativelanguage.googleapis.com/v1beta for the Gemini API',
  credential: 'the API secret (the Gemini API key)',
};

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
    if (answer.status < 200 || answer.status > 299) throw geminiError(answer);
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

export function geminiError(answer: ProviderAnswer): AiProviderError {
  const error = asRecord(asRecord(answer.json)?.error);
  const details = Array.isArray(error?.details) ? error.details.map(asRecord) : [];
  const reason = details.map((detail) => stringOf(detail?.reason)).find(Boolean);
  const status = stringOf(error?.status);
  const providerMessage = stringOf(error?.message);
  return providerHttpError(
    {
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
    },
    modelsApi,
  );
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

export const geminiAdapter: AiProviderAdapter = { listModels };
