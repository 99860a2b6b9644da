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
  type ChatRequest,
  type ChatTool,
  type FinishReason,
  type ToolCall,
  usageOf,
} from './chat.ts';
import { asRecord, stringOf } from './http.ts';
import {
  alternatingTurns,
  answerContent,
  type BlockWriter,
  ChunkWriter,
  inlineDataOf,
  maxTokensOf,
  singleChoiceCompletion,
  stopSequencesOf,
  systemTextsAskingForJson,
  toolCallOf,
  toolInputOf,
} from './translation.ts';

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
    max_tokens: maxTokensOf(request) ?? defaultMaxTokens,
    messages: alternatingTurns(request.messages, blockWriter),
    system: systemTextsAskingForJson(request).filter(Boolean).join('\n\n') || undefined,
    stop_sequences: stopSequencesOf(request),
    temperature: request.temperature ?? undefined,
    top_p: request.top_p ?? undefined,
    tools: hasTools ? request.tools?.map(toTool) : undefined,
    tool_choice: hasTools ? toToolChoice(request) : undefined,
    metadata: request.user ? { user_id: request.user } : undefined,
    stream: stream || undefined,
  };
}

const blockWriter: BlockWriter<ContentBlock> = {
  texts: textBlocks,
  image: imageBlock,
  toolUse: toToolUse,
  toolResult: (toolCallId, text) => ({ type: 'tool_result', tool_use_id: toolCallId, content: text }),
  isToolResult: (block) => block.type === 'tool_result',
};

/** Anthropic refuses empty text blocks. */
function textBlocks(text: string): TextBlock[] {
  return text ? [{ type: 'text', text }] : [];
}

function imageBlock(url: string): ImageBlock {
  const inline = inlineDataOf(url);
  if (inline)
    return { type: 'image', source: { type: 'base64', media_type: inline.mediaType, data: inline.data } };
  return { type: 'image', source: { type: 'url', url } };
}

function toToolUse(call: ToolCall): ToolUseBlock {
  return {
    type: 'tool_use',
    id: call.id,
    name: call.function.name,
    input: toolInputOf(call.function.arguments),
  };
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
  return singleChoiceCompletion({
    id: stringOf(message.id) ?? `msg_${Date.now()}`,
    model: stringOf(message.model) ?? requestedModel,
    content: answerContent(text, toolCalls),
    toolCalls,
    finishReason: finishReasonOf(message.stop_reason, toolCalls.length > 0),
    usage: usageOf(promptTokensOf(usage), count(usage?.output_tokens)),
  });
}

function toToolCall(block: Record<string, unknown>): ToolCall[] {
  if (block.type !== 'tool_use') return [];
  return [toolCallOf(String(block.id ?? ''), String(block.name ?? ''), block.input)];
}

/**
 * Turns the events of a streamed Messages answer into OpenAI chunks, one
 * event at a time. Error events and the stream's end are the caller's.
 */
export class StreamTranslator {
  readonly #chunks: ChunkWriter;
  #promptTokens = 0;
  #completionTokens = 0;
  #usageReported = false;

  constructor(requestedModel: string) {
    this.#chunks = new ChunkWriter('', requestedModel);
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
    this.#chunks.identify(stringOf(message?.id), stringOf(message?.model));
    this.#countUsage(asRecord(message?.usage));
    return [this.#chunks.chunk({ role: 'assistant', content: '' })];
  }

  #blockStarted(blockIndex: number, block: Record<string, unknown> | undefined): ChatCompletionChunk[] {
    if (block?.type !== 'tool_use') return [];
    return [this.#chunks.toolCallStarted(blockIndex, String(block.id ?? ''), String(block.name ?? ''))];
  }

  #blockDelta(blockIndex: number, delta: Record<string, unknown> | undefined): ChatCompletionChunk[] {
    if (delta?.type === 'text_delta' && typeof delta.text === 'string' && delta.text)
      return [this.#chunks.chunk({ content: delta.text })];
    const piece = delta?.type === 'input_json_delta' ? stringOf(delta.partial_json) : undefined;
    return this.#chunks.toolCallArguments(blockIndex, piece);
  }

  #finished(
    delta: Record<string, unknown> | undefined,
    usage: Record<string, unknown> | undefined,
  ): ChatCompletionChunk[] {
    this.#countUsage(usage);
    const reason = finishReasonOf(delta?.stop_reason, this.#chunks.hasToolCalls);
    return [this.#chunks.chunk({}, reason)];
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
    return [this.#chunks.usageChunk(usageOf(this.#promptTokens, this.#completionTokens))];
  }
}
