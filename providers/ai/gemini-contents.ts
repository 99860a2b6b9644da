/**
 * Translation between OpenAI's chat vocabulary (chat.ts) and Gemini's
 * `generateContent`: the request's messages, tools and options one way,
 * whole answers and streamed chunks the other. No I/O here; gemini.ts calls
 * the API.
 *
 * - system and developer messages → `systemInstruction` (Gemini has no
 *   system turn); user → role `user`; assistant → role `model`, its tool
 *   calls as `functionCall` parts; tool results → `functionResponse` parts of
 *   a `user` turn, named after the call they answer. Consecutive turns of the
 *   same role are merged, as Gemini expects alternating turns.
 * - Gemini's function calls carry no ids (newer models may): the answer's
 *   calls get `call_<index>_<random>`, one random suffix per answer.
 */
import { randomBytes } from 'node:crypto';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatMessage,
  ChatRequest,
  ChatTool,
  ContentPart,
  FinishReason,
  ResponseFormat,
  ToolCall,
  ToolChoice,
  Usage,
} from './chat.ts';
import { textOf, usageOf } from './chat.ts';
import { asRecord, parseJsonObject, stringOf } from './http.ts';
import { AiProviderError } from './provider.ts';
import { ChunkWriter, inlineDataOf, singleChoiceCompletion, systemTexts, toolCallOf } from './translation.ts';

type Json = Record<string, unknown>;

export type GeminiPart =
  | { text: string }
  | { inlineData: { mimeType: string; data: string } }
  | { functionCall: { name: string; args: Json } }
  | { functionResponse: { name: string; response: Json } };

interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

interface FunctionDeclaration {
  name: string;
  description?: string;
  parameters?: Json;
}

export interface GenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: { text: string }[] };
  tools?: { functionDeclarations: FunctionDeclaration[] }[];
  toolConfig?: {
    functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] };
  };
  generationConfig: Json;
}

export function toGenerateContentRequest(request: ChatRequest): GenerateContentRequest {
  const instructions = systemTexts(request.messages);
  return {
    contents: toContents(request.messages),
    systemInstruction: instructions.length ? { parts: instructions.map((text) => ({ text })) } : undefined,
    tools: request.tools?.length
      ? [{ functionDeclarations: request.tools.map(toFunctionDeclaration) }]
      : undefined,
    toolConfig: toToolConfig(request.tool_choice),
    generationConfig: toGenerationConfig(request),
  };
}

function toContents(messages: ChatMessage[]): GeminiContent[] {
  const functionNames = new Map<string, string>();
  const contents: GeminiContent[] = [];
  for (const message of messages) {
    if (message.role === 'assistant') {
      for (const call of message.tool_calls ?? []) functionNames.set(call.id, call.function.name);
    }
    const turn = toTurn(message, functionNames);
    if (!turn?.parts.length) continue;
    const previous = contents.at(-1);
    if (previous?.role === turn.role) previous.parts.push(...turn.parts);
    else contents.push(turn);
  }
  return contents;
}

function toTurn(message: ChatMessage, functionNames: Map<string, string>): GeminiContent | undefined {
  switch (message.role) {
    case 'system':
    case 'developer':
      return undefined;
    case 'user':
      return { role: 'user', parts: contentParts(message.content) };
    case 'assistant':
      return {
        role: 'model',
        parts: [...contentParts(message.content ?? []), ...(message.tool_calls ?? []).map(functionCallPart)],
      };
    case 'tool':
      return { role: 'user', parts: [functionResponsePart(message, functionNames)] };
  }
}

function contentParts(content: string | ContentPart[]): GeminiPart[] {
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  return content.map((part) =>
    part.type === 'text' ? { text: part.text } : inlineImage(part.image_url.url),
  );
}

function inlineImage(url: string): GeminiPart {
  const inline = inlineDataOf(url);
  if (!inline) {
    throw new AiProviderError(
      'Invalid',
      'Gemini takes images only as base64 data: URLs (data:image/png;base64,…); the gateway does not fetch image URLs',
    );
  }
  return { inlineData: { mimeType: inline.mediaType, data: inline.data } };
}

function functionCallPart(call: ToolCall): GeminiPart {
  const args = parseJsonObject(call.function.arguments || '{}');
  if (!args) {
    throw new AiProviderError('Invalid', `The arguments of tool call ${call.id} are not a JSON object`);
  }
  return { functionCall: { name: call.function.name, args } };
}

function functionResponsePart(
  message: Extract<ChatMessage, { role: 'tool' }>,
  functionNames: Map<string, string>,
): GeminiPart {
  // Gemini matches a result to its call by the function's name, which OpenAI's tool message does not repeat.
  const name = functionNames.get(message.tool_call_id);
  if (!name) {
    throw new AiProviderError(
      'Invalid',
      `A tool message answers tool call ${JSON.stringify(message.tool_call_id)}, which no earlier assistant message made`,
    );
  }
  const text = textOf(message.content);
  // `response` must be a JSON object: a result that is not one is wrapped.
  return { functionResponse: { name, response: parseJsonObject(text) ?? { content: text } } };
}

function toFunctionDeclaration({ function: declared }: ChatTool): FunctionDeclaration {
  const { parameters } = declared;
  // Gemini refuses an OBJECT schema without properties: a function without parameters declares none.
  const hasParameters = parameters && Object.keys(asRecord(parameters.properties) ?? {}).length > 0;
  return {
    name: declared.name,
    description: declared.description,
    parameters: hasParameters ? toGeminiSchema(parameters) : undefined,
  };
}

function toToolConfig(choice: ToolChoice | undefined): GenerateContentRequest['toolConfig'] {
  if (choice === undefined) return undefined;
  if (typeof choice === 'object') {
    return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  }
  const modes = { none: 'NONE', auto: 'AUTO', required: 'ANY' } as const;
  return { functionCallingConfig: { mode: modes[choice] } };
}

function toGenerationConfig(request: ChatRequest): Json {
  return {
    temperature: request.temperature,
    topP: request.top_p,
    maxOutputTokens: request.max_completion_tokens ?? request.max_tokens,
    stopSequences: typeof request.stop === 'string' ? [request.stop] : request.stop,
    seed: request.seed,
    ...responseFormatConfig(request.response_format),
  };
}

function responseFormatConfig(format: ResponseFormat | undefined): Json {
  if (format?.type === 'json_object') return { responseMimeType: 'application/json' };
  if (format?.type !== 'json_schema') return {};
  const { schema } = format.json_schema;
  return { responseMimeType: 'application/json', responseSchema: schema && toGeminiSchema(schema) };
}

/**
 * The fields of Gemini's `Schema`, a subset of OpenAPI 3.0's. Gemini rejects
 * any other field ("Unknown name"), so JSON Schema's `$schema`,
 * `additionalProperties`, `$ref`/`$defs`, `const`, … are dropped: the
 * schema Gemini enforces can only be looser than the one asked for.
 */
const geminiSchemaFields = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);

export function toGeminiSchema(schema: Json): Json {
  const converted: Json = { ...typeFields(schema.type) };
  for (const [field, value] of Object.entries(schema)) {
    if (!geminiSchemaFields.has(field) || field === 'type') continue;
    converted[field] = subschemas(field, value);
  }
  return converted;
}

function subschemas(field: string, value: unknown): unknown {
  const asSchema = (item: unknown) => {
    const schema = asRecord(item);
    return schema ? toGeminiSchema(schema) : item;
  };
  if (field === 'items') return asSchema(value);
  if (field === 'anyOf' && Array.isArray(value)) return value.map(asSchema);
  const properties = asRecord(value);
  if (field === 'properties' && properties) {
    return Object.fromEntries(Object.entries(properties).map(([name, item]) => [name, asSchema(item)]));
  }
  return value;
}

/** JSON Schema's `type: ['string', 'null']` is Gemini's `type: 'string', nullable: true`. */
function typeFields(type: unknown): Json {
  if (!Array.isArray(type)) return type === undefined ? {} : { type };
  const types = type.filter((item) => item !== 'null');
  const nullable = types.length < type.length ? { nullable: true } : {};
  if (types.length === 1) return { type: types[0], ...nullable };
  return { anyOf: types.map((item) => ({ type: item })), ...nullable };
}

// ---- Answers ----

/** Gemini's finish reasons that mean its filters stopped the answer. */
const filteredFinishReasons = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
]);

/** True when the body looks like a GenerateContentResponse (a blocked prompt has no candidates). */
export function isGenerateContentAnswer(body: Json): boolean {
  return Array.isArray(body.candidates) || asRecord(body.promptFeedback) !== undefined;
}

export function toChatCompletion(body: Json, model: string): ChatCompletion {
  const parts = partsOf(body);
  const callId = toolCallIds();
  const toolCalls = functionCallsOf(parts).map((call, index) => toToolCall(call, callId(index)));
  return singleChoiceCompletion({
    id: completionId(body),
    model,
    content: textOfParts(parts) || null,
    toolCalls,
    finishReason: toFinishReason(geminiFinishOf(body), toolCalls.length > 0),
    usage: usageFrom(body.usageMetadata),
  });
}

/**
 * A stream of GenerateContentResponse chunks (error events already thrown by
 * the caller) as OpenAI chunks. Text parts become content deltas; a
 * function call arrives whole, so it is one tool-call delta with all its
 * arguments. A stream that ends without a finish reason was cut off.
 */
export async function* toChatChunks(
  events: AsyncIterable<Json>,
  model: string,
  host: string,
): AsyncGenerator<ChatCompletionChunk> {
  const callId = toolCallIds();
  let chunks: ChunkWriter | undefined;
  let toolCallCount = 0;
  let geminiFinish: string | undefined;
  let usage: unknown;
  for await (const event of events) {
    if (!chunks) {
      chunks = new ChunkWriter(completionId(event), model);
      yield chunks.chunk({ role: 'assistant', content: '' });
    }
    const parts = partsOf(event);
    const toolCalls = functionCallsOf(parts).map((call) => {
      const index = toolCallCount++;
      const { id, type, function: called } = toToolCall(call, callId(index));
      return { index, id, type, function: called };
    });
    const content = textOfParts(parts);
    if (content || toolCalls.length) {
      yield chunks.chunk({
        ...(content ? { content } : {}),
        ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
      });
    }
    geminiFinish = geminiFinishOf(event) ?? geminiFinish;
    usage = event.usageMetadata ?? usage;
  }
  if (!chunks || !geminiFinish) {
    throw new AiProviderError('Transient', `The streamed answer from ${host} ended before it was complete`);
  }
  yield chunks.chunk({}, toFinishReason(geminiFinish, toolCallCount > 0));
  if (usage) yield chunks.usageChunk(usageFrom(usage));
}

/** Only the first candidate: the gateway never asks for more (`candidateCount`). */
function firstCandidate(body: Json): Json | undefined {
  return asRecord(Array.isArray(body.candidates) ? body.candidates[0] : undefined);
}

function partsOf(body: Json): Json[] {
  const parts = asRecord(firstCandidate(body)?.content)?.parts;
  return Array.isArray(parts) ? records(parts) : [];
}

function records(values: unknown[]): Json[] {
  return values.flatMap((value) => {
    const record = asRecord(value);
    return record ? [record] : [];
  });
}

/** The answer's text; thought summaries (`thought: true`) are not part of it. */
function textOfParts(parts: Json[]): string {
  return parts
    .map((part) => (part.thought !== true && typeof part.text === 'string' ? part.text : ''))
    .join('');
}

function functionCallsOf(parts: Json[]): Json[] {
  return records(parts.map((part) => part.functionCall));
}

function toToolCall(call: Json, fallbackId: string): ToolCall {
  return toolCallOf(stringOf(call.id) ?? fallbackId, stringOf(call.name) ?? '', call.args);
}

function toolCallIds(): (index: number) => string {
  const suffix = randomBytes(6).toString('hex');
  return (index) => `call_${index}_${suffix}`;
}

/** The candidate's finish reason; a prompt Gemini blocked has no candidate, only a block reason. */
function geminiFinishOf(body: Json): string | undefined {
  const blocked = stringOf(asRecord(body.promptFeedback)?.blockReason);
  return stringOf(firstCandidate(body)?.finishReason) ?? (blocked ? 'SAFETY' : undefined);
}

function toFinishReason(geminiFinish: string | undefined, hasToolCalls: boolean): FinishReason {
  if (geminiFinish === 'MAX_TOKENS') return 'length';
  if (geminiFinish && filteredFinishReasons.has(geminiFinish)) return 'content_filter';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

/** Thinking tokens are billed as output but not counted in `candidatesTokenCount`. */
function usageFrom(metadata: unknown): Usage {
  const counts = asRecord(metadata);
  const count = (value: unknown) => (typeof value === 'number' ? value : 0);
  return usageOf(
    count(counts?.promptTokenCount),
    count(counts?.candidatesTokenCount) + count(counts?.thoughtsTokenCount),
  );
}

function completionId(body: Json): string {
  return `chatcmpl-${stringOf(body.responseId) ?? randomBytes(12).toString('hex')}`;
}
