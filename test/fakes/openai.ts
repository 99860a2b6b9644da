/**
 * A fake OpenAI API (also standing in for OpenAI-compatible servers), from
 * the public API reference: `GET /v1/models` with `Authorization: Bearer`,
 * and errors as `{ error: { message, type, param, code } }`.
 */
import {
  type FakeErrorStep,
  type FakeModel,
  type FakeResponse,
  type FakeServer,
  header,
  maskSecret,
  type RecordedRequest,
  startFakeHttpServer,
} from './fake-http.ts';

export interface FakeOpenAiOptions {
  /** API keys it accepts. */
  secrets?: string[];
  /** When set, an `OpenAI-Organization` header must name it (a request without the header is fine). */
  organization?: string;
  models?: FakeModel[];
}

export interface FakeOpenAi extends FakeServer {
  /** The base URL a client is configured with: `<origin>/v1`. */
  readonly baseUrl: string;
  models: FakeModel[];
}

export const fakeOpenAiSecret = 'sk-fake-openai-0123456789abcdef';

export const defaultOpenAiModels: FakeModel[] = [
  { id: 'gpt-4o', ownedBy: 'system', created: 1715367049 },
  { id: 'gpt-4o-mini', ownedBy: 'system', created: 1721172741 },
  { id: 'text-embedding-3-small', ownedBy: 'system', created: 1705948997 },
];

export async function startFakeOpenAi(options: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const secrets = options.secrets ?? [fakeOpenAiSecret];
  const state = { models: options.models ?? defaultOpenAiModels };

  function answer(request: RecordedRequest): FakeResponse {
    if (request.method !== 'GET' || request.path !== '/v1/models') {
      return openAiError(
        404,
        'invalid_request_error',
        null,
        `Invalid URL (${request.method} ${request.path})`,
      );
    }
    const refusal = authenticate(request);
    if (refusal) return refusal;
    return {
      status: 200,
      json: {
        object: 'list',
        data: state.models.map((model) => ({
          id: model.id,
          object: 'model',
          created: model.created ?? 0,
          owned_by: model.ownedBy ?? 'system',
        })),
      },
    };
  }

  function authenticate(request: RecordedRequest): FakeResponse | undefined {
    const token = header(request, 'authorization')?.match(/^Bearer (.+)$/)?.[1];
    if (!token) {
      return openAiError(
        401,
        'invalid_request_error',
        null,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      );
    }
    if (!secrets.includes(token)) {
      return openAiError(
        401,
        'invalid_request_error',
        'invalid_api_key',
        `Incorrect API key provided: ${maskSecret(token)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      );
    }
    const organization = header(request, 'openai-organization');
    if (options.organization && organization && organization !== options.organization) {
      return openAiError(
        401,
        'invalid_request_error',
        'mismatched_organization',
        'OpenAI-Organization header should match organization for API key',
      );
    }
    return undefined;
  }

  const server = await startFakeHttpServer({ answer, errorResponse: scriptedError });
  return {
    ...server,
    baseUrl: `${server.origin}/v1`,
    get models() {
      return state.models;
    },
    set models(models: FakeModel[]) {
      state.models = models;
    },
  };
}

function scriptedError(step: FakeErrorStep): FakeResponse {
  const { status } = step;
  const [type, code, message] =
    status === 401
      ? ['invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.']
      : status === 403
        ? [
            'invalid_request_error',
            'unsupported_country_region_territory',
            'Country, region, or territory not supported',
          ]
        : status === 429
          ? ['requests', 'rate_limit_exceeded', 'Rate limit reached for requests. Please try again later.']
          : status >= 500
            ? [
                'server_error',
                null,
                'The server had an error while processing your request. Sorry about that!',
              ]
            : ['invalid_request_error', null, 'Invalid request.'];
  const response = openAiError(status, type, code, step.message ?? message);
  if (step.retryAfterSeconds !== undefined) {
    response.headers = { ...response.headers, 'retry-after': String(step.retryAfterSeconds) };
  }
  return response;
}

function openAiError(status: number, type: string, code: string | null, message: string): FakeResponse {
  return { status, json: { error: { message, type, param: null, code } } };
}
