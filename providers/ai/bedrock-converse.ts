/**
 * Translation between OpenAI's Chat Completions (chat.ts) and Bedrock's
 * Converse API, both ways; the SDK calls are in bedrock.ts.
 *
 * Requests:
 * - system and developer messages become `system` text blocks; the other
 *   turns become `messages` of content blocks. Assistant tool calls become
 *   `toolUse` blocks, `tool` messages `toolResult` blocks (as text) of a user
 *   turn. Consecutive turns of one role are merged, tool results first, since
 *   Bedrock wants user and assistant to alternate. Blank texts are left out
 *   (Bedrock refuses them).
 * - Images: data URLs become inline `bytes` (png, jpeg, gif, webp); Converse
 *   cannot fetch a URL, so any other image is refused as Invalid.
 * - `max_completion_tokens` (else `max_tokens`), `temperature`, `top_p` and
 *   `stop` go into `inferenceConfig`.
 * - `tool_choice`: auto → `auto`, required → `any`, a function → `tool`. For
 *   `none` the tools are left out, unless the conversation already holds tool
 *   calls: Bedrock refuses toolUse / toolResult blocks without a
 *   `toolConfig`, and has no "none", so the tools stay declared (without a
 *   choice) and the model may still call one. A conversation with tool calls
 *   but no tools gets the tools it used declared, with an open schema.
 * - `response_format` json_object / json_schema: Converse has no JSON mode
 *   every model supports, so a system block asks for JSON only (and the
 *   schema when there is one). Nothing enforces it.
 * - OpenAI-only fields (`n`, `seed`, penalties, `logprobs`, `user`) are dropped.
 *
 * Answers: text blocks → `content`, `toolUse` blocks → `tool_calls`, other
 * blocks (reasoning) are dropped. Prompt tokens count cache reads and writes,
 * which Bedrock counts apart from `inputTokens`.
 */
import { randomUUID } from 'node:crypto';
import type {
  ContentBlock,
  ContentBlockDeltaEvent,
  ContentBlockStartEvent,
  ConverseRequest,
  ConverseResponse,
  ConverseStreamOutput,
  ToolChoice as ConverseToolChoice,
  ImageFormat,
  Message,
  SystemContentBlock,
  TokenUsage,
  Tool,
  ToolConfiguration,
  ToolUseBlock,
} from '@aws-sdk/client-bedrock-runtime';
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
import { AiProviderError } from './provider.ts';

/** What a Converse and a ConverseStream request have in common, as far as the gateway fills it. */
export type ConverseInput = Pick<
  ConverseRequest,
  'modelId' | 'messages' | 'system' | 'inferenceConfig' | 'toolConfig'
>;

/** JSON as the SDK types it (`__DocumentType`). */
type Json = NonNullable<ToolUseBlock['input']>;

export function toConverseInput(request: ChatRequest): ConverseInput {
  const messages = toMessages(request.messages);
  const system = systemBlocks(request);
  return {
    modelId: request.model,
    messages,
    system: system.length ? system : undefined,
    inferenceConfig: inferenceConfigOf(request),
    toolConfig: toolConfigOf(request, messages),
  };
}

function systemBlocks(request: ChatRequest): SystemContentBlock[] {
  const texts = request.messages.flatMap((message) =>
    message.role === 'system' || message.role === 'developer' ? [textOf(message.content)] : [],
  );
  const instruction = jsonInstruction(request.response_format);
  return [...texts, ...(instruction ? [instruction] : [])].filter(isNotBlank).map((text) => ({ text }));
}

function jsonInstruction(format: ResponseFormat | undefined | null): string | undefined {
  const only = 'Answer with a single JSON value only: no text before or after it, no code fences.';
  if (format?.type === 'json_object') return only;
  if (format?.type !== 'json_schema') return undefined;
  const schema = format.json_schema.schema;
  return schema ? `${only} It must match this JSON schema:\n${JSON.stringify(schema)}` : only;
}

const isNotBlank = (text: string) => text.trim() !== '';

function inferenceConfigOf(request: ChatRequest): ConverseRequest['inferenceConfig'] {
  const stop = typeof request.stop === 'string' ? [request.stop] : (request.stop ?? []);
  const config = {
    maxTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    temperature: request.temperature ?? undefined,
    topP: request.top_p ?? undefined,
    stopSequences: stop.length ? stop : undefined,
  };
  return Object.values(config).some((value) => value !== undefined) ? config : undefined;
}

function toMessages(messages: ChatMessage[]): Message[] {
  const turns: Message[] = [];
  for (const message of messages) {
    const turn = toMessage(message);
    if (!turn?.content?.length) continue;
    const previous = turns.at(-1);
    if (previous && previous.role === turn.role) {
      previous.content = toolResultsFirst([...(previous.content ?? []), ...turn.content]);
    } else turns.push(turn);
  }
  return turns;
}

/** Models (Anthropic's first) want a user turn's tool results before anything else in it. */
function toolResultsFirst(blocks: ContentBlock[]): ContentBlock[] {
  return [...blocks.filter((block) => block.toolResult), ...blocks.filter((block) => !block.toolResult)];
}

function toMessage(message: ChatMessage): Message | undefined {
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
    case 'tool': {
      const text = textOf(message.content);
      return {
        role: 'user',
        content: [{ toolResult: { toolUseId: message.tool_call_id, content: text ? [{ text }] : [] } }],
      };
    }
  }
}

const textBlocks = (text: string): ContentBlock[] => (isNotBlank(text) ? [{ text }] : []);

function userBlocks(content: string | ContentPart[]): ContentBlock[] {
  if (typeof content === 'string') return textBlocks(content);
  return content.flatMap((part) =>
    part.type === 'text' ? textBlocks(part.text) : [imageBlock(part.image_url.url)],
  );
}

const imageFormats: Readonly<Record<string, ImageFormat>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

function imageBlock(url: string): ContentBlock {
  const inline = url.match(/^data:([^;,]+);base64,(.*)$/s);
  if (!inline) {
    throw new AiProviderError(
      'Invalid',
      'Bedrock takes images inline only: send them as data: URLs (data:image/png;base64,…), not as links',
    );
  }
  const format = imageFormats[inline[1]!.toLowerCase()];
  if (!format) {
    throw new AiProviderError('Invalid', `Bedrock takes PNG, JPEG, GIF and WebP images, not ${inline[1]}`);
  }
  return { image: { format, source: { bytes: Buffer.from(inline[2]!, 'base64') } } };
}

function toToolUse(call: ToolCall): ContentBlock {
  return {
    toolUse: { toolUseId: call.id, name: call.function.name, input: toolInput(call.function.arguments) },
  };
}

/** Bedrock wants an object; arguments that are not a JSON object are passed on wrapped rather than refused. */
function toolInput(argumentsText: string): Json {
  if (!argumentsText.trim()) return {};
  try {
    const parsed: unknown = JSON.parse(argumentsText);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Json;
  } catch {}
  return { arguments: argumentsText };
}

function toolConfigOf(request: ChatRequest, messages: Message[]): ToolConfiguration | undefined {
  const declared = (request.tools ?? []).map(toTool);
  const usedNames = new Set(
    messages.flatMap((message) => (message.content ?? []).flatMap((block) => block.toolUse?.name ?? [])),
  );
  const toolsOff = request.tool_choice === 'none' || declared.length === 0;
  if (!toolsOff) return { tools: declared, toolChoice: toolChoiceOf(request.tool_choice) };
  if (usedNames.size === 0) return undefined;
  return { tools: declared.length ? declared : [...usedNames].map((name) => openTool(name)) };
}

function toTool(tool: ChatTool): Tool {
  const { name, description, parameters } = tool.function;
  return openTool(name, description, parameters as Json | undefined);
}

function openTool(name: string, description?: string, schema?: Json): Tool {
  return {
    toolSpec: { name, description, inputSchema: { json: schema ?? { type: 'object', properties: {} } } },
  };
}

function toolChoiceOf(choice: ChatRequest['tool_choice']): ConverseToolChoice | undefined {
  if (choice === 'auto') return { auto: {} };
  if (choice === 'required') return { any: {} };
  if (typeof choice === 'object' && choice !== null) return { tool: { name: choice.function.name } };
  return undefined;
}

const finishReasons: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

/** Unknown reasons (malformed_model_output, malformed_tool_use, later ones) end the answer as `stop`. */
export const finishReasonOf = (stopReason: string | undefined): FinishReason =>
  finishReasons[stopReason ?? ''] ?? 'stop';

const count = (value: number | undefined): number => value ?? 0;

function usageOfTokens(usage: TokenUsage) {
  const prompt =
    count(usage.inputTokens) + count(usage.cacheReadInputTokens) + count(usage.cacheWriteInputTokens);
  return usageOf(prompt, count(usage.outputTokens));
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Converse has no answer id; the request id is the one AWS can trace. */
export const completionId = (requestId: string | undefined) => `chatcmpl-${requestId ?? randomUUID()}`;

/** A Converse answer as a chat completion; undefined when it holds no message. */
export function toChatCompletion(
  response: ConverseResponse,
  model: string,
  id: string,
): ChatCompletion | undefined {
  const blocks = response.output?.message?.content;
  if (!blocks) return undefined;
  const text = blocks.flatMap((block) => block.text ?? []).join('');
  const toolCalls = blocks.flatMap((block) => (block.toolUse ? [toToolCall(block.toolUse)] : []));
  return {
    id,
    object: 'chat.completion',
    created: nowSeconds(),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text || (toolCalls.length ? null : ''),
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
          refusal: null,
        },
        finish_reason: finishReasonOf(response.stopReason),
        logprobs: null,
      },
    ],
    usage: usageOfTokens(response.usage ?? { inputTokens: 0, outputTokens: 0, totalTokens: 0 }),
  };
}

function toToolCall(toolUse: ToolUseBlock): ToolCall {
  return {
    id: toolUse.toolUseId ?? '',
    type: 'function',
    function: { name: toolUse.name ?? '', arguments: JSON.stringify(toolUse.input ?? {}) },
  };
}

type Delta = ChatCompletionChunk['choices'][number]['delta'];

/**
 * Turns the events of a ConverseStream answer into OpenAI chunks, one event
 * at a time. Exceptions and the stream's end are the caller's.
 */
export class ConverseStreamTranslator {
  readonly #id: string;
  readonly #model: string;
  readonly #created = nowSeconds();
  /** Bedrock indexes all content blocks; OpenAI indexes tool calls only. */
  readonly #toolIndexByBlock = new Map<number, number>();
  #stopped = false;

  constructor(model: string, id: string) {
    this.#model = model;
    this.#id = id;
  }

  /** messageStop came: the answer is complete (the metadata event after it is optional). */
  get stopped(): boolean {
    return this.#stopped;
  }

  translate(event: ConverseStreamOutput): ChatCompletionChunk[] {
    if (event.messageStart) return [this.#chunk({ role: 'assistant', content: '' })];
    if (event.contentBlockStart) return this.#blockStarted(event.contentBlockStart);
    if (event.contentBlockDelta) return this.#blockDelta(event.contentBlockDelta);
    if (event.messageStop) {
      this.#stopped = true;
      return [this.#chunk({}, finishReasonOf(event.messageStop.stopReason))];
    }
    const usage = event.metadata?.usage;
    if (usage) return [{ ...this.#header(), choices: [], usage: usageOfTokens(usage) }];
    return []; // contentBlockStop, and events added later
  }

  #blockStarted({ start, contentBlockIndex }: ContentBlockStartEvent): ChatCompletionChunk[] {
    const toolUse = start?.toolUse;
    if (!toolUse) return [];
    const index = this.#toolIndexByBlock.size;
    this.#toolIndexByBlock.set(count(contentBlockIndex), index);
    const name = toolUse.name ?? '';
    return [
      this.#toolCallChunk({
        index,
        id: toolUse.toolUseId ?? '',
        type: 'function',
        function: { name, arguments: '' },
      }),
    ];
  }

  #blockDelta({ delta, contentBlockIndex }: ContentBlockDeltaEvent): ChatCompletionChunk[] {
    if (delta?.text) return [this.#chunk({ content: delta.text })];
    const index = this.#toolIndexByBlock.get(count(contentBlockIndex));
    const piece = delta?.toolUse?.input;
    if (index === undefined || !piece) return [];
    return [this.#toolCallChunk({ index, function: { arguments: piece } })];
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
