/**
 * What the translations between OpenAI's chat vocabulary (chat.ts) and the
 * providers' own (anthropic-messages.ts, bedrock-converse.ts,
 * gemini-contents.ts) have in common: reading a request's options, and
 * putting answers and stream chunks together in OpenAI's shapes.
 */
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatMessage,
  ChatRequest,
  ContentPart,
  FinishReason,
  ResponseFormat,
  ToolCall,
  ToolCallDelta,
  Usage,
} from './chat.ts';
import { textOf } from './chat.ts';
import { parseJsonObject } from './http.ts';

// ---- Requests ----

/** The texts of the system and developer messages, which providers take apart from the turns. */
export function systemTexts(messages: ChatMessage[]): string[] {
  return messages.flatMap((message) =>
    message.role === 'system' || message.role === 'developer' ? [textOf(message.content)] : [],
  );
}

/**
 * The system texts, for a provider without a JSON mode: a `response_format`
 * asking for JSON adds an instruction to answer with JSON only (and the
 * schema when there is one). The model usually complies; nothing enforces it.
 */
export function systemTextsAskingForJson(request: ChatRequest): string[] {
  const instruction = jsonInstruction(request.response_format);
  const texts = systemTexts(request.messages);
  return instruction ? [...texts, instruction] : texts;
}

function jsonInstruction(format: ResponseFormat | undefined | null): string | undefined {
  const only = 'Answer with a single JSON value only: no text before or after it, no code fences.';
  if (format?.type === 'json_object') return only;
  if (format?.type !== 'json_schema') return undefined;
  const schema = format.json_schema.schema;
  return schema ? `${only} It must match this JSON schema:\n${JSON.stringify(schema)}` : only;
}

/** The answer's token limit: `max_completion_tokens`, else `max_tokens`. */
export const maxTokensOf = (request: ChatRequest): number | undefined =>
  request.max_completion_tokens ?? request.max_tokens ?? undefined;

export const stopSequencesOf = (request: ChatRequest): string[] | undefined =>
  typeof request.stop === 'string' ? [request.stop] : (request.stop ?? undefined);

/** A `data:<media type>;base64,<data>` URL's parts; undefined for any other URL. */
export function inlineDataOf(url: string): { mediaType: string; data: string } | undefined {
  const inline = url.match(/^data:([^;,]+);base64,(.*)$/s);
  return inline ? { mediaType: inline[1]!, data: inline[2]! } : undefined;
}

/**
 * A tool call's arguments as the object a provider wants; arguments that are
 * not a JSON object are passed on wrapped rather than refused.
 */
export function toolInputOf(argumentsText: string): Record<string, unknown> {
  if (!argumentsText.trim()) return {};
  return parseJsonObject(argumentsText) ?? { arguments: argumentsText };
}

/** How a provider writes each kind of content block. */
export interface BlockWriter<Block> {
  /** None for an empty text, which providers refuse. */
  texts(text: string): Block[];
  image(url: string): Block;
  toolUse(call: ToolCall): Block;
  toolResult(toolCallId: string, text: string): Block;
  isToolResult(block: Block): boolean;
}

interface Turn<Block> {
  role: 'user' | 'assistant';
  content: Block[];
}

/**
 * The conversation as turns of blocks: user content, the assistant's text
 * and tool calls, tool results as user turns (system and developer messages
 * are not turns). Empty turns are left out and consecutive turns of one role
 * merged, since the provider wants user and assistant to alternate; a merged
 * turn has its tool results first, as the provider (Anthropic's models)
 * wants them.
 */
export function alternatingTurns<Block>(messages: ChatMessage[], write: BlockWriter<Block>): Turn<Block>[] {
  const turns: Turn<Block>[] = [];
  for (const message of messages) {
    const turn = turnOf(message, write);
    if (!turn?.content.length) continue;
    const previous = turns.at(-1);
    if (previous?.role !== turn.role) turns.push(turn);
    else previous.content = toolResultsFirst([...previous.content, ...turn.content], write);
  }
  return turns;
}

function toolResultsFirst<Block>(blocks: Block[], write: BlockWriter<Block>): Block[] {
  const isResult = (block: Block) => write.isToolResult(block);
  return [...blocks.filter(isResult), ...blocks.filter((block) => !isResult(block))];
}

function turnOf<Block>(message: ChatMessage, write: BlockWriter<Block>): Turn<Block> | undefined {
  switch (message.role) {
    case 'system':
    case 'developer':
      return undefined;
    case 'user':
      return { role: 'user', content: userBlocks(message.content, write) };
    case 'assistant':
      return {
        role: 'assistant',
        content: [
          ...write.texts(textOf(message.content)),
          ...(message.tool_calls ?? []).map((call) => write.toolUse(call)),
        ],
      };
    case 'tool':
      return { role: 'user', content: [write.toolResult(message.tool_call_id, textOf(message.content))] };
  }
}

function userBlocks<Block>(content: string | ContentPart[], write: BlockWriter<Block>): Block[] {
  if (typeof content === 'string') return write.texts(content);
  return content.flatMap((part) =>
    part.type === 'text' ? write.texts(part.text) : [write.image(part.image_url.url)],
  );
}

// ---- Answers ----

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export function toolCallOf(id: string, name: string, input: unknown): ToolCall {
  return { id, type: 'function', function: { name, arguments: JSON.stringify(input ?? {}) } };
}

/** The answer's text; empty text is `null` beside tool calls. */
export const answerContent = (text: string, toolCalls: ToolCall[]): string | null =>
  text || (toolCalls.length ? null : '');

interface Answer {
  id: string;
  model: string;
  content: string | null;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
}

/** A whole answer as a chat completion of one choice. */
export function singleChoiceCompletion(answer: Answer): ChatCompletion {
  const { toolCalls } = answer;
  return {
    id: answer.id,
    object: 'chat.completion',
    created: nowSeconds(),
    model: answer.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: answer.content,
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
          refusal: null,
        },
        finish_reason: answer.finishReason,
        logprobs: null,
      },
    ],
    usage: answer.usage,
  };
}

export type ChunkDelta = ChatCompletionChunk['choices'][number]['delta'];

/**
 * Writes one streamed answer's chunks: one choice, under the answer's id
 * and model. Providers number all the content blocks of an answer, OpenAI
 * numbers the tool calls only: the writer numbers a tool call when its block
 * starts.
 */
export class ChunkWriter {
  #id: string;
  #model: string;
  readonly #created = nowSeconds();
  readonly #toolIndexByBlock = new Map<number, number>();

  constructor(id: string, model: string) {
    this.#id = id;
    this.#model = model;
  }

  /** The provider's own id and model, where it tells them. */
  identify(id: string | undefined, model: string | undefined): void {
    this.#id = id ?? this.#id;
    this.#model = model ?? this.#model;
  }

  get hasToolCalls(): boolean {
    return this.#toolIndexByBlock.size > 0;
  }

  chunk(delta: ChunkDelta, finishReason: FinishReason | null = null): ChatCompletionChunk {
    return { ...this.#header(), choices: [{ index: 0, delta, finish_reason: finishReason }] };
  }

  /** The last chunk, with no choices (OpenAI's `stream_options.include_usage`). */
  usageChunk(usage: Usage): ChatCompletionChunk {
    return { ...this.#header(), choices: [], usage };
  }

  toolCallStarted(blockIndex: number, id: string, name: string): ChatCompletionChunk {
    const index = this.#toolIndexByBlock.size;
    this.#toolIndexByBlock.set(blockIndex, index);
    return this.#toolCallChunk({ index, id, type: 'function', function: { name, arguments: '' } });
  }

  /** A piece of a started tool call's arguments; none when the block is no tool call. */
  toolCallArguments(blockIndex: number, piece: string | undefined): ChatCompletionChunk[] {
    const index = this.#toolIndexByBlock.get(blockIndex);
    if (index === undefined || !piece) return [];
    return [this.#toolCallChunk({ index, function: { arguments: piece } })];
  }

  #toolCallChunk(call: ToolCallDelta): ChatCompletionChunk {
    return this.chunk({ tool_calls: [call] });
  }

  #header(): Pick<ChatCompletionChunk, 'id' | 'object' | 'created' | 'model'> {
    return { id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model };
  }
}

// ---- Embeddings ----

/** OpenAI's `encoding_format: 'base64'`: the vector's float32 bytes, little-endian. */
export function float32Base64(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  for (const [index, value] of vector.entries()) bytes.writeFloatLE(value, index * 4);
  return bytes.toString('base64');
}
