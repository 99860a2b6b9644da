/**
 * A fake Anthropic API, from the public API reference, with `x-api-key` and
 * `anthropic-version` on every request:
 * - `GET /v1/models`, paginated by `limit` / `after_id` / `before_id` with
 *   `has_more`, `first_id`, `last_id`;
 * - `POST /v1/messages`: validates the body as the API does (`max_tokens`
 *   required, user/assistant alternation, non-empty text, tool results that
 *   answer the previous turn's tool uses), answers a `message` or, with
 *   `stream: true`, its server-sent events (`message_start`, `ping`,
 *   `content_block_*`, `message_delta`, `message_stop`, and `error` for a
 *   scripted `stream-error`). A model is known by its id or, like the API,
 *   by its alias (the id without its date: `claude-sonnet-4-5`).
 * Errors are `{ type: 'error', error: { type, message }, request_id }`.
 */
import { randomUUID } from 'node:crypto';
import {
  completeReply,
  defaultReply,
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

  function answer(request: RecordedRequest, step?: FakeChatStep): FakeResponse {
    const route = `${request.method} ${request.path}`;
    if (route !== 'GET /v1/models' && route !== 'POST /v1/messages') {
      return anthropicError(404, 'not_found_error', 'Not Found');
    }
    const refusal = authenticate(request);
    if (refusal) return refusal;
    return route === 'GET /v1/models' ? listPage(request) : createMessage(request, step);
  }

  function authenticate(request: RecordedRequest): FakeResponse | undefined {
    if (!header(request, 'anthropic-version')) {
      return anthropicError(400, 'invalid_request_error', 'anthropic-version: header is required');
    }
    const key = header(request, 'x-api-key');
    if (!key) return anthropicError(401, 'authentication_error', 'x-api-key header is required');
    if (!secrets.includes(key)) return anthropicError(401, 'authentication_error', 'invalid x-api-key');
    return undefined;
  }

  function createMessage(request: RecordedRequest, step: FakeChatStep | undefined): FakeResponse {
    const body = readMessagesBody(request.body);
    if (typeof body === 'string') return anthropicError(400, 'invalid_request_error', body);
    if (!knowsModel(body.model)) return anthropicError(404, 'not_found_error', `model: ${body.model}`);
    if (step?.kind === 'stream-error' && !body.stream) {
      return anthropicError(500, 'api_error', defaultMessages.api_error ?? 'Error');
    }
    const message = renderMessage(body, replyFor(body, step?.reply));
    return body.stream ? streamedMessage(message, step) : { status: 200, json: wireMessage(message) };
  }

  function knowsModel(id: string): boolean {
    return state.models.some((model) => model.id === id || model.id.replace(/-\d{8}$/, '') === id);
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

/** An id as the API writes them: `req_…`, `msg_…`, `toolu_…`. */
function randomId(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
}

const requestId = () => randomId('req');

function anthropicError(status: number, type: string, message: string): FakeResponse {
  const id = requestId();
  return {
    status,
    headers: { 'request-id': id },
    json: { type: 'error', error: { type, message }, request_id: id },
  };
}

interface WireBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: string | WireBlock[];
}

interface WireTurn {
  role: string;
  content: string | WireBlock[];
}

/** The fields of a Messages request the fake reads. */
interface MessagesBody {
  model: string;
  max_tokens: number;
  messages: WireTurn[];
  system?: string | WireBlock[];
  stop_sequences?: string[];
  tools?: { name?: string; input_schema?: unknown }[];
  stream?: boolean;
}

/** The body, or the API's complaint about it. */
function readMessagesBody(text: string): MessagesBody | string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'The request body is not valid JSON';
  }
  if (typeof body !== 'object' || body === null) return 'The request body must be a JSON object';
  return invalidity(body as Partial<MessagesBody>) ?? (body as MessagesBody);
}

/** The API's complaint about the body, if any. */
function invalidity(body: Partial<MessagesBody>): string | undefined {
  if (typeof body.model !== 'string') return 'model: Field required';
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens ?? 0) < 1) return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: Field required';
  const toolProblem = (body.tools ?? []).findIndex((tool) => !tool.name || !tool.input_schema);
  if (toolProblem !== -1) return `tools.${toolProblem}: name and input_schema are required`;
  return body.messages
    .map((turn, index, turns) => turnInvalidity(turn, index, turns[index - 1]))
    .find(Boolean);
}

function turnInvalidity(turn: WireTurn, index: number, previous: WireTurn | undefined): string | undefined {
  if (turn.role === 'system') {
    return 'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.';
  }
  if (turn.role !== 'user' && turn.role !== 'assistant') {
    return `messages.${index}.role: Input should be 'user' or 'assistant'`;
  }
  if (turn.role === previous?.role) {
    return `messages: roles must alternate between "user" and "assistant", but found multiple "${turn.role}" roles in a row`;
  }
  const blocks = blocksOf(turn.content);
  if (blocks.length === 0) return `messages.${index}: all messages must have non-empty content`;
  if (blocks.some((block) => block.type === 'text' && !block.text)) {
    return 'messages: text content blocks must be non-empty';
  }
  const toolUses = new Set(blocksOf(previous?.content ?? []).flatMap((block) => block.id ?? []));
  const orphan = blocks.find(
    (block) => block.type === 'tool_result' && !toolUses.has(block.tool_use_id ?? ''),
  );
  return orphan
    ? `messages.${index}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${orphan.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`
    : undefined;
}

function blocksOf(content: string | WireBlock[]): WireBlock[] {
  return typeof content === 'string' ? (content ? [{ type: 'text', text: content }] : []) : content;
}

/** The words a turn carries: text, tool results, tool inputs. */
function textsOf(content: string | WireBlock[]): string[] {
  return blocksOf(content).flatMap((block) => {
    if (block.type === 'text') return [block.text ?? ''];
    if (block.type === 'tool_result') return textsOf(block.content ?? '');
    if (block.type === 'tool_use') return [JSON.stringify(block.input)];
    return [];
  });
}

/** The scripted reply, else the default one, with its defaults filled in. */
function replyFor(body: MessagesBody, scripted: FakeReply | undefined) {
  const prompt = [...textsOf(body.system ?? ''), ...body.messages.flatMap((turn) => textsOf(turn.content))];
  const promptText = prompt.join(' ');
  const lastUser = body.messages.findLast((turn) => turn.role === 'user');
  const reply = scripted ?? defaultReply(textsOf(lastUser?.content ?? '').join(' '), promptText);
  return completeReply(reply, promptText);
}

type ReplyBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; arguments: string };

interface RenderedMessage {
  id: string;
  model: string;
  blocks: ReplyBlock[];
  stopReason: string;
  stopSequence: string | null;
  usage: { input_tokens: number; output_tokens: number };
}

const stopReasons: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  content_filter: 'refusal',
};

/** The reply as the model would give it to this request: cut at the first stop sequence found. */
function renderMessage(body: MessagesBody, reply: ReturnType<typeof completeReply>): RenderedMessage {
  const stop = (body.stop_sequences ?? [])
    .map((sequence) => ({ sequence, at: reply.text.indexOf(sequence) }))
    .filter(({ at }) => at !== -1)
    .sort((a, b) => a.at - b.at)[0];
  const text = stop ? reply.text.slice(0, stop.at) : reply.text;
  const toolUses = (reply.toolCalls ?? []).map((call) => ({
    type: 'tool_use' as const,
    id: call.id ?? randomId('toolu'),
    name: call.name,
    arguments: call.arguments,
  }));
  return {
    id: randomId('msg'),
    model: body.model,
    blocks: [...(text ? [{ type: 'text' as const, text }] : []), ...toolUses],
    stopReason: stop ? 'stop_sequence' : (stopReasons[reply.finishReason] ?? 'end_turn'),
    stopSequence: stop?.sequence ?? null,
    usage: { input_tokens: reply.usage.inputTokens, output_tokens: reply.usage.outputTokens },
  };
}

function wireMessage(message: RenderedMessage) {
  return {
    id: message.id,
    type: 'message',
    role: 'assistant',
    model: message.model,
    content: message.blocks.map((block) =>
      block.type === 'text'
        ? block
        : { type: 'tool_use', id: block.id, name: block.name, input: JSON.parse(block.arguments) },
    ),
    stop_reason: message.stopReason,
    stop_sequence: message.stopSequence,
    usage: message.usage,
  };
}

/** One server-sent event; a piece is a content delta (what stream steps count). */
interface StreamEvent {
  data: { type: string; [field: string]: unknown };
  piece?: boolean;
}

function streamEvents(message: RenderedMessage): StreamEvent[] {
  const start = { ...wireMessage(message), content: [], stop_reason: null, stop_sequence: null };
  const usage = { input_tokens: message.usage.input_tokens, output_tokens: 1 };
  return [
    { data: { type: 'message_start', message: { ...start, usage } } },
    { data: { type: 'ping' } },
    ...message.blocks.flatMap(blockEvents),
    {
      data: {
        type: 'message_delta',
        delta: { stop_reason: message.stopReason, stop_sequence: message.stopSequence },
        usage: { output_tokens: message.usage.output_tokens },
      },
    },
    { data: { type: 'message_stop' } },
  ];
}

function blockEvents(block: ReplyBlock, index: number): StreamEvent[] {
  const [start, pieces, delta] =
    block.type === 'text'
      ? [
          { type: 'text', text: '' },
          streamPieces(block.text),
          (text: string) => ({ type: 'text_delta', text }),
        ]
      : [
          { type: 'tool_use', id: block.id, name: block.name, input: {} },
          streamPieces(block.arguments),
          (partial_json: string) => ({ type: 'input_json_delta', partial_json }),
        ];
  return [
    { data: { type: 'content_block_start', index, content_block: start } },
    ...pieces.map((piece) => ({
      data: { type: 'content_block_delta', index, delta: delta(piece) },
      piece: true,
    })),
    { data: { type: 'content_block_stop', index } },
  ];
}

const sse = (data: StreamEvent['data']) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;

/** The events in chunks that each end with a piece, so stream steps play piece by piece. */
function pieceChunks(events: StreamEvent[]): string[] {
  const chunks: string[] = [];
  let pending = '';
  for (const event of events) {
    pending += sse(event.data);
    if (event.piece) {
      chunks.push(pending);
      pending = '';
    }
  }
  return pending ? [...chunks, pending] : chunks;
}

function streamedMessage(message: RenderedMessage, step: FakeChatStep | undefined): FakeResponse {
  const chunks = pieceChunks(streamEvents(message));
  const response: FakeResponse = {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'request-id': requestId() },
    chunks,
  };
  switch (step?.kind) {
    case 'stream-error': {
      const error = { type: 'overloaded_error', message: step.message ?? defaultMessages.overloaded_error };
      return { ...response, chunks: [...chunks.slice(0, step.afterPieces), sse({ type: 'error', error })] };
    }
    case 'stream-drop':
      return { ...response, chunks: chunks.slice(0, step.afterPieces), dropAfterChunks: step.afterPieces };
    case 'slow-stream':
      return { ...response, chunkDelayMs: step.pieceDelayMs };
    default:
      return response;
  }
}
