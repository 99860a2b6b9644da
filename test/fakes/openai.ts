/**
 * A fake OpenAI API (also standing in for OpenAI-compatible servers), from
 * the public API reference, with `Authorization: Bearer`:
 * - `GET /v1/models`;
 * - `POST /v1/chat/completions`: a whole `chat.completion`, or with
 *   `stream: true` server-sent `data: <chat.completion.chunk>` events ending
 *   with `data: [DONE]` (the role in the first delta, tool calls as indexed
 *   deltas, a final `choices: []` chunk with usage when
 *   `stream_options.include_usage`); a failure part way is a
 *   `data: {"error": {...}}` event, as OpenAI-compatible servers send it;
 * - `POST /v1/embeddings`: deterministic vectors derived from each input's hash;
 * - errors as `{ error: { message, type, param, code } }`, an unknown model
 *   as 404 `model_not_found`.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  completeReply,
  countTokens,
  defaultReply,
  type FakeChatStep,
  type FakeErrorStep,
  type FakeModel,
  type FakeReply,
  type FakeResponse,
  type FakeServer,
  header,
  maskSecret,
  type RecordedRequest,
  startFakeHttpServer,
  streamPieces,
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
  const routes: Record<string, (request: RecordedRequest, step?: FakeChatStep) => FakeResponse> = {
    'GET /v1/models': listModels,
    'POST /v1/chat/completions': chatCompletions,
    'POST /v1/embeddings': embeddings,
  };

  function answer(request: RecordedRequest, step?: FakeChatStep): FakeResponse {
    const route = routes[`${request.method} ${request.path}`];
    if (!route) {
      return openAiError(
        404,
        'invalid_request_error',
        null,
        `Invalid URL (${request.method} ${request.path})`,
      );
    }
    return authenticate(request) ?? route(request, step);
  }

  function listModels(): FakeResponse {
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

  function chatCompletions(request: RecordedRequest, step?: FakeChatStep): FakeResponse {
    const body = jsonBody(request);
    if (!body) return unparsableBody();
    const refusal = unknownModel(body.model) ?? chatRequestRefusal(body);
    if (refusal) return refusal;
    const messages = (body.messages as unknown[]).map(recordOf);
    const promptText = messages.map((message) => textOf(message.content)).join(' ');
    const lastUser = messages.findLast((message) => message.role === 'user');
    const reply = completeReply(
      step?.reply ?? defaultReply(textOf(lastUser?.content), promptText),
      promptText,
    );
    const model = String(body.model);
    if (body.stream !== true) return wholeAnswer(completion(reply, model), step);
    return streamedAnswer(reply, model, recordOf(body.stream_options).include_usage === true, step);
  }

  function embeddings(request: RecordedRequest): FakeResponse {
    const body = jsonBody(request);
    if (!body) return unparsableBody();
    const refusal = unknownModel(body.model);
    if (refusal) return refusal;
    const inputs = typeof body.input === 'string' ? [body.input] : body.input;
    if (
      !Array.isArray(inputs) ||
      inputs.length === 0 ||
      !inputs.every((input) => typeof input === 'string')
    ) {
      return invalidParameter('input');
    }
    const dimensions = body.dimensions ?? FAKE_EMBEDDING_DIMENSIONS;
    if (
      typeof dimensions !== 'number' ||
      !Number.isInteger(dimensions) ||
      dimensions < 1 ||
      dimensions > 3072
    ) {
      return invalidParameter('dimensions');
    }
    const tokens = inputs.reduce((sum, input) => sum + countTokens(input), 0);
    const encode = body.encoding_format === 'base64' ? toBase64 : (vector: number[]) => vector;
    return {
      status: 200,
      json: {
        object: 'list',
        data: inputs.map((input, index) => ({
          object: 'embedding',
          index,
          embedding: encode(fakeEmbedding(input, dimensions)),
        })),
        model: body.model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      },
    };
  }

  function unknownModel(model: unknown): FakeResponse | undefined {
    if (typeof model !== 'string') return missingParameter('model');
    if (state.models.some((known) => known.id === model)) return undefined;
    return openAiError(
      404,
      'invalid_request_error',
      'model_not_found',
      `The model \`${model}\` does not exist or you do not have access to it.`,
    );
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

/** Length of a fake embedding when the request does not ask for `dimensions`. */
export const FAKE_EMBEDDING_DIMENSIONS = 8;

/** The fake's embedding of `text`: the same text always gets the same vector, with values in [-1, 1). */
export function fakeEmbedding(text: string, dimensions = FAKE_EMBEDDING_DIMENSIONS): number[] {
  return Array.from({ length: dimensions }, (_, position) => {
    const hash = createHash('sha256').update(`${position}:${text}`).digest();
    return (hash.readUInt32BE(0) / 2 ** 32) * 2 - 1;
  });
}

/** `encoding_format: 'base64'`: the vector's float32 bytes, little-endian, in base64. */
function toBase64(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}

type CompleteReply = ReturnType<typeof completeReply>;

function chatRequestRefusal(body: Record<string, unknown>): FakeResponse | undefined {
  if (!Array.isArray(body.messages)) return missingParameter('messages');
  if (body.stream_options !== undefined && body.stream !== true) {
    return openAiError(
      400,
      'invalid_request_error',
      null,
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
    );
  }
  return undefined;
}

function completion(reply: CompleteReply, model: string): Record<string, unknown> {
  const toolCalls = (reply.toolCalls ?? []).map((call) => ({
    id: call.id ?? newToolCallId(),
    type: 'function',
    function: { name: call.name, arguments: call.arguments },
  }));
  return {
    id: `chatcmpl-${randomUUID()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_fake',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: reply.text === '' && toolCalls.length > 0 ? null : reply.text,
          refusal: null,
          ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
        },
        logprobs: null,
        finish_reason: reply.finishReason,
      },
    ],
    usage: usageJson(reply),
  };
}

/** A whole answer, with the stream steps played in the ways a whole answer can fail or lag. */
function wholeAnswer(json: Record<string, unknown>, step?: FakeChatStep): FakeResponse {
  switch (step?.kind) {
    case 'stream-error':
      return scriptedError({ kind: 'error', status: 500, message: step.message });
    case 'stream-drop':
      return { status: 200, chunks: [JSON.stringify(json)], dropAfterChunks: 0 };
    case 'slow-stream':
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        chunks: [JSON.stringify(json)],
        chunkDelayMs: step.pieceDelayMs,
      };
    default:
      return { status: 200, json };
  }
}

function streamedAnswer(
  reply: CompleteReply,
  model: string,
  includeUsage: boolean,
  step?: FakeChatStep,
): FakeResponse {
  const identity = {
    id: `chatcmpl-${randomUUID()}`,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_fake',
  };
  // With include_usage, OpenAI sends `usage: null` on every chunk but the last.
  const event = (choices: unknown[], usage: unknown = null) =>
    serverSentEvent({ ...identity, choices, ...(includeUsage && { usage }) });
  const delta = (fields: Record<string, unknown>, finishReason: string | null = null) =>
    event([{ index: 0, delta: fields, logprobs: null, finish_reason: finishReason }]);
  const toolCallsOnly = reply.text === '' && Boolean(reply.toolCalls?.length);
  const opening = delta({ role: 'assistant', content: toolCallsOnly ? null : '', refusal: null });
  const pieces = [
    ...streamPieces(reply.text).map((content) => delta({ content })),
    ...toolCallDeltas(reply.toolCalls ?? []).map((fields) => delta(fields)),
  ];
  if (step?.kind === 'stream-error') {
    // As vLLM does, [DONE] follows the error: only the error event tells the answer failed.
    return eventStream([opening, ...pieces.slice(0, step.afterPieces), errorEvent(step.message), DONE]);
  }
  const closing = [
    delta({}, reply.finishReason),
    ...(includeUsage ? [event([], usageJson(reply))] : []),
    DONE,
  ];
  const response = eventStream([opening, ...pieces, ...closing]);
  // The opening chunk, then `afterPieces` pieces, then the connection is cut.
  if (step?.kind === 'stream-drop') response.dropAfterChunks = 1 + step.afterPieces;
  if (step?.kind === 'slow-stream') response.chunkDelayMs = step.pieceDelayMs;
  return response;
}

/** Each call's first delta names it; the following ones carry pieces of its arguments. */
function toolCallDeltas(calls: NonNullable<FakeReply['toolCalls']>): Record<string, unknown>[] {
  return calls.flatMap((call, index) => [
    {
      tool_calls: [
        {
          index,
          id: call.id ?? newToolCallId(),
          type: 'function',
          function: { name: call.name, arguments: '' },
        },
      ],
    },
    ...streamPieces(call.arguments).map((piece) => ({
      tool_calls: [{ index, function: { arguments: piece } }],
    })),
  ]);
}

function errorEvent(message = 'The server had an error while processing your request. Sorry about that!') {
  return serverSentEvent({ error: { message, type: 'server_error', param: null, code: null } });
}

const DONE = 'data: [DONE]\n\n';

const serverSentEvent = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

function eventStream(chunks: string[]): FakeResponse {
  return { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' }, chunks };
}

function usageJson(reply: CompleteReply) {
  const { inputTokens, outputTokens } = reply.usage;
  return {
    prompt_tokens: inputTokens,
    completion_tokens: outputTokens,
    total_tokens: inputTokens + outputTokens,
  };
}

const newToolCallId = () => `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`;

function jsonBody(request: RecordedRequest): Record<string, unknown> | undefined {
  try {
    const body: unknown = JSON.parse(request.body);
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? recordOf(body) : undefined;
  } catch {
    return undefined;
  }
}

function recordOf(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** A message's text: the string, or its text parts joined. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => {
      const text = recordOf(part).text;
      return typeof text === 'string' ? text : '';
    })
    .join('');
}

function unparsableBody(): FakeResponse {
  return openAiError(
    400,
    'invalid_request_error',
    null,
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
  );
}

function missingParameter(name: string): FakeResponse {
  return openAiError(
    400,
    'invalid_request_error',
    'missing_required_parameter',
    `Missing required parameter: '${name}'.`,
  );
}

function invalidParameter(name: string): FakeResponse {
  return openAiError(400, 'invalid_request_error', null, `'$.${name}' is invalid.`);
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
