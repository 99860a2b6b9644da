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
  TokenUsage,
  Tool,
  ToolConfiguration,
  ToolUseBlock,
} from '@aws-sdk/client-bedrock-runtime';
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatRequest,
  type ChatTool,
  type FinishReason,
  type ToolCall,
  usageOf,
} from './chat.ts';
import { AiProviderError } from './provider.ts';
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

/** What a Converse and a ConverseStream request have in common, as far as the gateway fills it. */
export type ConverseInput = Pick<
  ConverseRequest,
  'modelId' | 'messages' | 'system' | 'inferenceConfig' | 'toolConfig'
>;

/** JSON as the SDK types it (`__DocumentType`). */
type Json = NonNullable<ToolUseBlock['input']>;

export function toConverseInput(request: ChatRequest): ConverseInput {
  const messages: Message[] = alternatingTurns(request.messages, blockWriter);
  const system = systemTextsAskingForJson(request)
    .filter(isNotBlank)
    .map((text) => ({ text }));
  return {
    modelId: request.model,
    messages,
    system: system.length ? system : undefined,
    inferenceConfig: inferenceConfigOf(request),
    toolConfig: toolConfigOf(request, messages),
  };
}

const isNotBlank = (text: string) => text.trim() !== '';

function inferenceConfigOf(request: ChatRequest): ConverseRequest['inferenceConfig'] {
  const stop = stopSequencesOf(request);
  const config = {
    maxTokens: maxTokensOf(request),
    temperature: request.temperature ?? undefined,
    topP: request.top_p ?? undefined,
    stopSequences: stop?.length ? stop : undefined,
  };
  return Object.values(config).some((value) => value !== undefined) ? config : undefined;
}

const blockWriter: BlockWriter<ContentBlock> = {
  texts: (text) => (isNotBlank(text) ? [{ text }] : []),
  image: imageBlock,
  toolUse: toToolUse,
  toolResult: (toolCallId, text) => ({
    toolResult: { toolUseId: toolCallId, content: text ? [{ text }] : [] },
  }),
  isToolResult: (block) => Boolean(block.toolResult),
};

const imageFormats: Readonly<Record<string, ImageFormat>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

function imageBlock(url: string): ContentBlock {
  const inline = inlineDataOf(url);
  if (!inline) {
    throw new AiProviderError(
      'Invalid',
      'Bedrock takes images inline only: send them as data: URLs (data:image/png;base64,…), not as links',
    );
  }
  const format = imageFormats[inline.mediaType.toLowerCase()];
  if (!format) {
    throw new AiProviderError(
      'Invalid',
      `Bedrock takes PNG, JPEG, GIF and WebP images, not ${inline.mediaType}`,
    );
  }
  return { image: { format, source: { bytes: Buffer.from(inline.data, 'base64') } } };
}

function toToolUse(call: ToolCall): ContentBlock {
  return {
    toolUse: {
      toolUseId: call.id,
      name: call.function.name,
      // Parsed JSON: what the SDK types as a document.
      input: toolInputOf(call.function.arguments) as Json,
    },
  };
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
  return singleChoiceCompletion({
    id,
    model,
    content: answerContent(text, toolCalls),
    toolCalls,
    finishReason: finishReasonOf(response.stopReason),
    usage: usageOfTokens(response.usage ?? { inputTokens: 0, outputTokens: 0, totalTokens: 0 }),
  });
}

const toToolCall = (toolUse: ToolUseBlock): ToolCall =>
  toolCallOf(toolUse.toolUseId ?? '', toolUse.name ?? '', toolUse.input);

/**
 * Turns the events of a ConverseStream answer into OpenAI chunks, one event
 * at a time. Exceptions and the stream's end are the caller's.
 */
export class ConverseStreamTranslator {
  readonly #chunks: ChunkWriter;
  #stopped = false;

  constructor(model: string, id: string) {
    this.#chunks = new ChunkWriter(id, model);
  }

  /** messageStop came: the answer is complete (the metadata event after it is optional). */
  get stopped(): boolean {
    return this.#stopped;
  }

  translate(event: ConverseStreamOutput): ChatCompletionChunk[] {
    if (event.messageStart) return [this.#chunks.chunk({ role: 'assistant', content: '' })];
    if (event.contentBlockStart) return this.#blockStarted(event.contentBlockStart);
    if (event.contentBlockDelta) return this.#blockDelta(event.contentBlockDelta);
    if (event.messageStop) {
      this.#stopped = true;
      return [this.#chunks.chunk({}, finishReasonOf(event.messageStop.stopReason))];
    }
    const usage = event.metadata?.usage;
    if (usage) return [this.#chunks.usageChunk(usageOfTokens(usage))];
    return []; // contentBlockStop, and events added later
  }

  #blockStarted({ start, contentBlockIndex }: ContentBlockStartEvent): ChatCompletionChunk[] {
    const toolUse = start?.toolUse;
    if (!toolUse) return [];
    return [
      this.#chunks.toolCallStarted(count(contentBlockIndex), toolUse.toolUseId ?? '', toolUse.name ?? ''),
    ];
  }

  #blockDelta({ delta, contentBlockIndex }: ContentBlockDeltaEvent): ChatCompletionChunk[] {
    if (delta?.text) return [this.#chunks.chunk({ content: delta.text })];
    return this.#chunks.toolCallArguments(count(contentBlockIndex), delta?.toolUse?.input);
  }
}
