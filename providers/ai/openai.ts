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
 * Errors: `{ error: { message, type, param, code } }`.
 */
import {
  type ApiDescription,
  parseRetryAfter,
  providerHttpError,
  statusLabel,
  unexpectedAnswer,
} from './errors.ts';
import {
  asRecord,
  callProvider,
  endpointUrl,
  hasNoPath,
  type ProviderAnswer,
  parseEndpoint,
  stringOf,
} from './http.ts';
import type {
  AiProviderAdapter,
  AiProviderConnection,
  AiProviderError,
  ModelInfo,
  ProviderCallOptions,
} from './provider.ts';

export const openAiDefaultEndpoint = 'https://api.openai.com/v1';

const modelsApi: ApiDescription = {
  api: 'the OpenAI models API',
  baseUrlHint: 'it usually ends in /v1, e.g. https://api.openai.com/v1',
  credential: 'the API secret',
};

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

async function listModels(
  connection: AiProviderConnection,
  options: ProviderCallOptions,
): Promise<ModelInfo[]> {
  const url = endpointUrl(openAiBaseUrl(connection), 'models');
  const answer = await callProvider({ url, headers: openAiHeaders(connection) }, options);
  if (answer.status < 200 || answer.status > 299) throw openAiError(answer);
  const data = asRecord(answer.json)?.data;
  if (!Array.isArray(data)) throw unexpectedAnswer(answer.status, url, modelsApi);
  return data.flatMap((item) => {
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

/**
 * OpenAI's `{ error: { message, type, code } }`; compatible servers vary
 * (`{ error: "text" }`, vLLM's `{ object: 'error', message, type }`), so
 * each field is taken where it is found.
 */
export function openAiError(answer: ProviderAnswer): AiProviderError {
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
  if (answer.status === 401 && vendorCode === 'mismatched_organization') {
    return providerHttpError(
      {
        ...failure,
        message: `The provider rejected the organization given in the API key field ${statusLabel(failure)} — it must be an organization the API secret belongs to, or empty`,
      },
      modelsApi,
    );
  }
  if (vendorCode === 'insufficient_quota') {
    // A 429 that waiting does not cure: the account is out of credit.
    return providerHttpError(
      {
        ...failure,
        code: 'PermissionDenied',
        message: `The account behind the API secret has no quota left ${statusLabel(failure)} — check its plan and billing`,
      },
      modelsApi,
    );
  }
  return providerHttpError(failure, modelsApi);
}

export const openAiAdapter: AiProviderAdapter = { listModels };
