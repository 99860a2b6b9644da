/**
 * Translation between OpenAI's Chat Completions (chat.ts) and Anthropic's
 * Messages API, both ways; the HTTP side is in anthropic.ts.
 *
 * Requests:
 * - system and developer messages become the top-level `system` text; the
 *   other turns become `messages` of content blocks. Assistant tool calls
 *   become `tool_use` blocks and `tool` messages `tool_result` blocks of a
 *   user turn. Consecutive turns of one role are merged into one, since
 *   Anthropic wants user and assistant to alternate.
 * - `max_tokens` is required by Anthropic: `max_completion_tokens`, else
 *   `max_tokens`, else `defaultMaxTokens`.
 * - `response_format` json_object / json_schema: Anthropic has no JSON mode,
 *   so the system text gets an instruction to answer with JSON only (and the
 *   schema when there is one). The model usually complies; nothing enforces it.
 * - `parallel_tool_calls: false` → `disable_parallel_tool_use`, `user` →
 *   `metadata.user_id`. OpenAI-only fields (`n`, `seed`, penalties,
 *   `logprobs`) are dropped.
 *
 * Answers: text blocks → `content`, `tool_use` blocks → `tool_calls`, other
 * blocks (thinking) are dropped. Prompt tokens count cached input too
 * (Anthropic's `input_tokens` excludes cache reads and writes).
 */
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatMessage,
  type ChatRequest,
  type ChatTool,
  type ContentPart,
  type FinishReason,
  type ResponseFormat,
  type ToolCall,
  type ToolCallDelta,
  textOf,
  usageOf,
} from './chat.ts';
import { asRecord, stringOf } from './http.ts';

/** Used when the request sets no limit: Anthropic requires one, and every current model allows this many. */
export const defaultMaxTokens = 4096;

type TextBlock = { type: 'text'; text: string };
type ImageBlock = {
  type: 'image';
  source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };
};
type ToolUseBlock = { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };
type ToolResultBlock = { type: 'tool_result'; tool_use_id: string; content: string };
type ContentBlock = TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock;

interface Turn {
  role: 'user' | 'assistant';
  content: ContentBlock[];
}

type AnthropicToolChoice =
  | { type: 'auto' | 'any' | 'none'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean };

/** The body of `POST /v1/messages`; undefined fields are left out by JSON.stringify. */
export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: Turn[];
  system?: string;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  tools?: { name: string; description?: string; input_schema: Record<string, unknown> }[];
  tool_choice?: AnthropicToolChoice;
  metadata?: { user_id: string };
  stream?: boolean;
}

export function toMessagesRequest(request: ChatRequest, stream = false): MessagesRequest {
  const hasTools = Boolean(request.tools?.length);
  return {
    model: request.model,
    max_tokens: request.max_completion_tokens ?? request.max_tokens ?? defaultMaxTokens,
    messages: toTurns(request.messages),
    system: systemText(request) || undefined,
    stop_sequences: typeof request.stop === 'string' ? [request.stop] : (request.stop ?? undefined),
    temperature: request.temperature ?? undefined,
    top_p: request.top_p ?? undefined,
    tools: hasTools ? request.tools?.map(toTool) : undefined,
    tool_choice: hasTools ? toToolChoice(request) : undefined,
    metadata: request.user ? { user_id: request.user } : undefined,
    stream: stream || undefined,
  };
}

function systemText(request: ChatRequest): string {
  const texts = request.messages.flatMap((message) =>
    message.role === 'system' || message.role === 'developer' ? [textOf(message.content)] : [],
  );
  const instruction = jsonInstruction(request.response_format);
  return [...texts, ...(instruction ? [instruction] : [])].filter(Boolean).join('\n\n');
}

function jsonInstruction(format: ResponseFormat | undefined | null): string | undefined {
  const only = 'Answer with a single JSON value only: no text before or after it, no code fences.';
  if (format?.type === 'json_object') return only;
  if (format?.type !== 'json_schema') return undefined;
  const schema = format.json_schema.schema;
  return schema ? `${only} It must match this JSON schema:\n${JSON.stringify(schema)}` : only;
}

function toTurns(messages: ChatMessage[]): Turn[] {
  const turns: Turn[] = [];
  for (const message of messages) {
    const turn = toTurn(message);
    if (!turn?.content.length) continue;
    const previous = turns.at(-1);
    if (previous?.role === turn.role)
      previous.content = toolResultsFirst([...previous.content, ...turn.content]);
    else turns.push(turn);
  }
  return turns;
}

/** Anthropic wants a user turn's tool results before anything else in it. */
function toolResultsFirst(blocks: ContentBlock[]): ContentBlock[] {
  const isResult = (block: ContentBlock) => block.type === 'tool_result';
  return [...blocks.filter(isResult), ...blocks.filter((block) => !isResult(block))];
}

function toTurn(message: ChatMessage): Turn | undefined {
  switch (message.role) {
    case 'system':
    case 'developer':
      return undefined;
    case 'user':
      return { role: 'user', content: userBlocks(message.content) };
    case 'assistant':
      return {
        role: 'assistant',
        content: [...textBlocks(textOf(message.content)), ...(message.tool_calls ?? []).map(toToolUse)],
      };
    case 'tool':
      return {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: message.tool_call_id, content: textOf(message.content) },
        ],
      };
  }
}

/** Anthropic refuses empty text blocks. */
function textBlocks(text: string): TextBlock[] {
  return text ? [{ type: 'text', text }] : [];
}

function userBlocks(content: string | ContentPart[]): ContentBlock[] {
  if (typeof content === 'string') return textBlocks(content);
  return content.flatMap((part): ContentBlock[] =>
    part.type === 'text' ? textBlocks(part.text) : [imageBlock(part.image_url.url)],
  );
}

function imageBlock(url: string): ImageBlock {
  const inline = url.match(/^data:([^;,]+);base64,(.*)$/s);
  if (inline) return { type: 'image', source: { type: 'base64', media_type: inline[1]!, data: inline[2]! } };
  return { type: 'image', source: { type: 'url', url } };
}

function toToolUse(call: ToolCall): ToolUseBlock {
  return {
    type: 'tool_use',
    id: call.id,
    name: call.function.name,
    input: toolInput(call.function.arguments),
  };
}

/** Anthropic wants an object; arguments that are not a JSON object are passed on wrapped rather than refused. */
function toolInput(argumentsText: string): Record<string, unknown> {
  if (!argumentsText.trim()) return {};
  try {
    const parsed = asRecord(JSON.parse(argumentsText));
    if (parsed) return parsed;
  } catch {}
  return { arguments: argumentsText };
}

function toTool(tool: ChatTool): NonNullable<MessagesRequest['tools']>[number] {
  const { name, description, parameters } = tool.function;
  return { name, description, input_schema: parameters ?? { type: 'object' } };
}

function toToolChoice(request: ChatRequest): AnthropicToolChoice {
  const choice = request.tool_choice;
  if (choice === 'none') return { type: 'none' };
  const chosen: AnthropicToolChoice =
    choice === 'required'
      ? { type: 'any' }
      : typeof choice === 'object' && choice !== null
        ? { type: 'tool', name: choice.function.name }
        : { type: 'auto' };
  return request.parallel_tool_calls === false ? { ...chosen, disable_parallel_tool_use: true } : chosen;
}

export function finishReasonOf(stopReason: unknown, hasToolCalls: boolean): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default: // end_turn, stop_sequence, pause_turn
      return hasToolCalls ? 'tool_calls' : 'stop';
  }
}

const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** Input tokens including cache reads and writes, which Anthropic counts apart. */
function promptTokensOf(usage: Record<string, unknown> | undefined): number {
  return (
    count(usage?.input_tokens) +
    count(usage?.cache_creation_input_tokens) +
    count(usage?.cache_read_input_tokens)
  );
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A Messages API answer as a chat completion; undefined when the body is not a message. */
export function toChatCompletion(json: unknown, requestedModel: string): ChatCompletion | undefined {
  const message = asRecord(json);
  if (message?.type !== 'message' || !Array.isArray(message.content)) return undefined;
  const blocks = message.content.flatMap((block: unknown): Record<string, unknown>[] => {
    const record = asRecord(block);
    return record ? [record] : [];
  });
  const text = blocks.flatMap((block) => (block.type === 'text' ? [String(block.text ?? '')] : [])).join('');
  const toolCalls = blocks.flatMap(toToolCall);
  const usage = asRecord(message.usage);
  return {
    id: stringOf(message.id) ?? `msg_${Date.now()}`,
    object: 'chat.completion',
    created: nowSeconds(),
    model: stringOf(message.model) ?? requestedModel,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text || (toolCalls.length ? null : ''),
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
          refusal: null,
        },
        finish_reason: finishReasonOf(message.stop_reason, toolCalls.length > 0),
        logprobs: null,
      },
    ],
    usage: usageOf(promptTokensOf(usage), count(usage?.output_tokens)),
  };
}

function toToolCall(block: Record<string, unknown>): ToolCall[] {
  if (block.type !== 'tool_use') return [];
  return [
    {
      id: String(block.id ?? ''),
      type: 'function',
      function: { name: String(block.name ?? ''), arguments: JSON.stringify(block.input ?? {}) },
    },
  ];
}

type Delta = ChatCompletionChunk['choices'][number]['delta'];

/**
 * Turns the events of a streamed Messages answer into OpenAI chunks, one
 * event at a time. Error events and the stream's end are the caller's.
 */
export class StreamTranslator {
  #id = '';
  #model: string;
  readonly #created = nowSeconds();
  /** Anthropic indexes all content blocks; OpenAI indexes tool calls only. */
  readonly #toolIndexByBlock = new Map<number, number>();
  #promptTokens = 0;
  #completionTokens = 0;
  #usageReported = false;

  constructor(requestedModel: string) {
    this.#model = requestedModel;
  }

  translate(event: Record<string, unknown>): ChatCompletionChunk[] {
    switch (event.type) {
      case 'message_start':
        return this.#started(asRecord(event.message));
      case 'content_block_start':
        return this.#blockStarted(count(event.index), asRecord(event.content_block));
      case 'content_block_delta':
        return this.#blockDelta(count(event.index), asRecord(event.delta));
      case 'message_delta':
        return this.#finished(asRecord(event.delta), asRecord(event.usage));
      case 'message_stop':
        return this.#usageChunk();
      default: // ping, content_block_stop, and events added later
        return [];
    }
  }

  #started(message: Record<string, unknown> | undefined): ChatCompletionChunk[] {
    this.#id = stringOf(message?.id) ?? this.#id;
    this.#model = stringOf(message?.model) ?? this.#model;
    this.#countUsage(asRecord(message?.usage));
    return [this.#chunk({ role: 'assistant', content: '' })];
  }

  #blockStarted(blockIndex: number, block: Record<string, unknown> | undefined): ChatCompletionChunk[] {
    if (block?.type !== 'tool_use') return [];
    const index = this.#toolIndexByBlock.size;
    this.#toolIndexByBlock.set(blockIndex, index);
    const name = String(block.name ?? '');
    return [
      this.#toolCallChunk({
        index,
        id: String(block.id ?? ''),
        type: 'function',
        function: { name, arguments: '' },
      }),
    ];
  }

  #blockDelta(blockIndex: number, delta: Record<string, unknown> | undefined): ChatCompletionChunk[] {
    if (delta?.type === 'text_delta' && typeof delta.text === 'string' && delta.text)
      return [this.#chunk({ content: delta.text })];
    const index = this.#toolIndexByBlock.get(blockIndex);
    const piece = delta?.type === 'input_json_delta' ? stringOf(delta.partial_json) : undefined;
    if (index === undefined || piece === undefined) return [];
    return [this.#toolCallChunk({ index, function: { arguments: piece } })];
  }

  #finished(
    delta: Record<string, unknown> | undefined,
    usage: Record<string, unknown> | undefined,
  ): ChatCompletionChunk[] {
    this.#countUsage(usage);
    const reason = finishReasonOf(delta?.stop_reason, this.#toolIndexByBlock.size > 0);
    return [this.#chunk({}, reason)];
  }

  /** message_start carries the input tokens, message_delta the (cumulative) output and sometimes input tokens. */
  #countUsage(usage: Record<string, unknown> | undefined): void {
    if (!usage) return;
    this.#usageReported = true;
    this.#promptTokens = promptTokensOf(usage) || this.#promptTokens;
    this.#completionTokens = count(usage.output_tokens) || this.#completionTokens;
  }

  #usageChunk(): ChatCompletionChunk[] {
    if (!this.#usageReported) return [];
    return [{ ...this.#header(), choices: [], usage: usageOf(this.#promptTokens, this.#completionTokens) }];
  }

  #toolCallChunk(call: ToolCallDelta): ChatCompletionChunk {
    return this.#chunk({ tool_calls: [call] });
  }

  #chunk(delta: Delta, finishReason: FinishReason | null = null): ChatCompletionChunk {
    return { ...this.#header(), choices: [{ index: 0, delta, finish_reason: finishReason }] };
  }

  #header(): Pick<ChatCompletionChunk, 'id' | 'object' | 'created' | 'model'> {
    return { id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model };
  }
}
