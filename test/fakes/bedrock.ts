/**
 * A fake Amazon Bedrock, from the public API reference, every request signed
 * with SigV4:
 * - control plane: ListFoundationModels (`GET /foundation-models`, optional
 *   `byProvider` filter) answering `{ modelSummaries: [...] }`;
 * - runtime: `POST /model/{modelId}/converse` (a whole JSON answer),
 *   `POST /model/{modelId}/converse-stream` (binary event-stream frames:
 *   messageStart, contentBlockStart / Delta / Stop, messageStop, metadata; a
 *   scripted failure part way is a `modelStreamErrorException` frame), and
 *   `POST /model/{modelId}/invoke` for Titan Text Embeddings V2 (deterministic
 *   vectors). Converse requests are checked as Bedrock checks them (first turn
 *   from the user, alternating roles, no blank text, a toolConfig when tool
 *   blocks are used); an unknown model id is Bedrock's 400 ValidationException
 *   "The provided model identifier is invalid.".
 * Errors as AWS JSON services send them: the type in `x-amzn-errortype`,
 * `{ message }` in the body. The signature is checked against the known
 * secret, so a wrong access key id (UnrecognizedClientException) and a wrong
 * secret (InvalidSignatureException) are told apart as AWS does.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { eventFrame, exceptionFrame } from './event-stream.ts';
import {
  completeReply,
  countTokens,
  defaultReply,
  type FakeChatStep,
  type FakeErrorStep,
  type FakeModel,
  type FakeResponse,
  type FakeServer,
  type RecordedRequest,
  startFakeHttpServer,
  streamPieces,
} from './fake-http.ts';
import { fakeEmbedding } from './openai.ts';
import { verifySigV4 } from './sigv4.ts';

export interface FakeAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface FakeBedrockOptions {
  credentials?: FakeAwsCredentials[];
  models?: FakeModel[];
  /** Goes into model ARNs. */
  region?: string;
}

export interface FakeBedrock extends FakeServer {
  /** The endpoint a client is configured with: the origin. */
  readonly baseUrl: string;
  models: FakeModel[];
}

export const fakeAwsCredentials: FakeAwsCredentials = {
  accessKeyId: 'AKIAFAKEBEDROCK00001',
  secretAccessKey: 'fakeSecretAccessKey0123456789abcdefghijk',
};

export const defaultBedrockModels: FakeModel[] = [
  {
    id: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
    displayName: 'Claude 3.5 Sonnet',
    ownedBy: 'Anthropic',
  },
  { id: 'amazon.titan-text-express-v1', displayName: 'Titan Text G1 - Express', ownedBy: 'Amazon' },
  { id: 'meta.llama3-8b-instruct-v1:0', displayName: 'Llama 3 8B Instruct', ownedBy: 'Meta' },
];

export async function startFakeBedrock(options: FakeBedrockOptions = {}): Promise<FakeBedrock> {
  const credentials = options.credentials ?? [fakeAwsCredentials];
  const region = options.region ?? 'us-east-1';
  const state = { models: options.models ?? defaultBedrockModels };
  const secretFor = (accessKeyId: string) =>
    credentials.find((pair) => pair.accessKeyId === accessKeyId)?.secretAccessKey;
  const knows = (modelId: string) =>
    state.models.some((model) => model.id === modelId) || embeddingModelIds.includes(modelId);

  function answer(request: RecordedRequest, step?: FakeChatStep): FakeResponse {
    const operation = operationOf(request);
    if (!operation) return awsError(404, 'UnknownOperationException', undefined);
    const refusal = authenticate(request);
    if (refusal) return refusal;
    if (operation.name === 'ListFoundationModels') return listFoundationModels(request);
    if (!knows(operation.modelId)) return validationError('The provided model identifier is invalid.');
    if (operation.name === 'InvokeModel') return invokeModel(request, operation.modelId);
    return converse(request, operation.modelId, operation.name === 'ConverseStream', step);
  }

  function authenticate(request: RecordedRequest): FakeResponse | undefined {
    const verdict = verifySigV4(request, secretFor);
    if (verdict.ok) return undefined;
    if (verdict.reason === 'missing')
      return awsError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    if (verdict.reason === 'malformed') {
      return awsError(
        403,
        'IncompleteSignatureException',
        'Authorization header requires Credential, SignedHeaders and Signature.',
      );
    }
    if (verdict.reason === 'unknown-key') {
      return awsError(
        403,
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    }
    return awsError(
      403,
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }

  function listFoundationModels(request: RecordedRequest): FakeResponse {
    const byProvider = request.query.get('byProvider')?.toLowerCase();
    const models = state.models.filter((model) => !byProvider || model.ownedBy?.toLowerCase() === byProvider);
    return {
      status: 200,
      headers: requestIdHeader(),
      json: { modelSummaries: models.map((model) => summary(model, region)) },
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

type Operation =
  | { name: 'ListFoundationModels' }
  | { name: 'Converse' | 'ConverseStream' | 'InvokeModel'; modelId: string };

const runtimeOperations: Record<string, 'Converse' | 'ConverseStream' | 'InvokeModel'> = {
  converse: 'Converse',
  'converse-stream': 'ConverseStream',
  invoke: 'InvokeModel',
};

function operationOf(request: RecordedRequest): Operation | undefined {
  if (request.method === 'GET' && request.path === '/foundation-models')
    return { name: 'ListFoundationModels' };
  const match = request.path.match(/^\/model\/([^/]+)\/([a-z-]+)$/);
  const name = match && runtimeOperations[match[2]!];
  if (request.method !== 'POST' || !name) return undefined;
  return { name, modelId: decodeURIComponent(match[1]!) };
}

/** Models InvokeModel runs as Titan text embeddings; known to the runtime API, not in the listing. */
export const embeddingModelIds = ['amazon.titan-embed-text-v2:0'];

type CompleteReply = ReturnType<typeof completeReply>;

const stopReasons: Record<CompleteReply['finishReason'], string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  content_filter: 'content_filtered',
};

function converse(
  request: RecordedRequest,
  modelId: string,
  streamed: boolean,
  step: FakeChatStep | undefined,
): FakeResponse {
  if (embeddingModelIds.includes(modelId)) {
    return validationError(
      "This action doesn't support the model that you provided. Try again with a supported text or chat model.",
    );
  }
  const body = jsonBody(request);
  if (!body) return malformedInput('#: expected type: JSONObject');
  const refusal = converseRefusal(body);
  if (refusal) return validationError(refusal);
  const prompt = promptOf(body);
  const reply = withToolUseIds(
    completeReply(step?.reply ?? defaultReply(prompt.lastUserText, prompt.text), prompt.text),
  );
  if (streamed) return streamedAnswer(reply, step);
  if (step?.kind === 'stream-error')
    return scriptedError({ kind: 'error', status: 500, message: step.message });
  return { status: 200, headers: requestIdHeader(), json: converseOutput(reply) };
}

/** What Bedrock checks of every Converse request, in its words. */
function converseRefusal(body: Record<string, unknown>): string | undefined {
  const messages = arrayOf(body.messages).map(recordOf);
  if (messages[0]?.role !== 'user') {
    return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
  }
  if (messages.some((message, index) => index > 0 && message.role === messages[index - 1]?.role)) {
    return 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
  }
  for (const [m, message] of messages.entries()) {
    for (const [b, block] of blocksOf(message).entries()) {
      if ('text' in block && !String(block.text).trim()) {
        return `The text field in the ContentBlock object at messages.${m}.content.${b} is blank. Add text to the text field, and try again.`;
      }
    }
  }
  const usesTools = messages.some((message) =>
    blocksOf(message).some((block) => 'toolUse' in block || 'toolResult' in block),
  );
  if (usesTools && !body.toolConfig) {
    return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
  }
  return undefined;
}

/** The prompt's words (system, texts, tool results) and the text of the last user turn. */
function promptOf(body: Record<string, unknown>): { text: string; lastUserText: string } {
  const messages = arrayOf(body.messages).map(recordOf);
  const system = arrayOf(body.system).map(recordOf).flatMap(blockTexts);
  const texts = messages.flatMap((message) => blocksOf(message).flatMap(blockTexts));
  const lastUser = messages.findLast((message) => message.role === 'user');
  const lastUserText = blocksOf(lastUser)
    .flatMap((block) => (typeof block.text === 'string' ? [block.text] : []))
    .join(' ');
  return { text: [...system, ...texts].join(' '), lastUserText };
}

function blockTexts(block: Record<string, unknown>): string[] {
  if (typeof block.text === 'string') return [block.text];
  const result = recordOf(block.toolResult);
  return arrayOf(result.content)
    .map(recordOf)
    .map((part) => (typeof part.text === 'string' ? part.text : JSON.stringify(part.json ?? '')));
}

const blocksOf = (message: Record<string, unknown> | undefined) => arrayOf(message?.content).map(recordOf);

function withToolUseIds(reply: CompleteReply): CompleteReply & { toolCalls: { id: string }[] } {
  const toolCalls = (reply.toolCalls ?? []).map((call) => ({ ...call, id: call.id ?? toolUseId() }));
  return { ...reply, toolCalls };
}

type RepliedWithIds = ReturnType<typeof withToolUseIds>;

function converseOutput(reply: RepliedWithIds): Record<string, unknown> {
  const toolUses = reply.toolCalls.map((call) => ({
    toolUse: { toolUseId: call.id, name: call.name, input: JSON.parse(call.arguments) },
  }));
  return {
    output: {
      message: { role: 'assistant', content: [...(reply.text ? [{ text: reply.text }] : []), ...toolUses] },
    },
    stopReason: stopReasons[reply.finishReason],
    usage: usageJson(reply),
    metrics: { latencyMs: 42 },
  };
}

function usageJson(reply: CompleteReply) {
  const { inputTokens, outputTokens } = reply.usage;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

/** An encoded event; `piece` marks the deltas that scripted steps count. */
interface Frame {
  bytes: Uint8Array;
  piece: boolean;
}

function streamedAnswer(reply: RepliedWithIds, step: FakeChatStep | undefined): FakeResponse {
  const frames = converseFrames(reply);
  const chunks = frames.map((frame) => frame.bytes);
  const headers = { ...requestIdHeader(), 'content-type': 'application/vnd.amazon.eventstream' };
  switch (step?.kind) {
    case 'stream-error': {
      const failure = exceptionFrame('modelStreamErrorException', {
        message: step.message ?? 'Model stream error.',
        originalStatusCode: 500,
        originalMessage: 'Internal server error',
      });
      return {
        status: 200,
        headers,
        chunks: [...chunks.slice(0, framesThroughPiece(frames, step.afterPieces)), failure],
      };
    }
    case 'stream-drop':
      return { status: 200, headers, chunks, dropAfterChunks: framesThroughPiece(frames, step.afterPieces) };
    case 'slow-stream':
      return { status: 200, headers, chunks, chunkDelayMs: step.pieceDelayMs };
    default:
      return { status: 200, headers, chunks };
  }
}

/** How many frames there are up to the `pieces`-th delta (after messageStart when 0). */
function framesThroughPiece(frames: Frame[], pieces: number): number {
  const pieceEnds = frames.flatMap((frame, index) => (frame.piece ? [index + 1] : []));
  return pieces <= 0 ? 1 : (pieceEnds[pieces - 1] ?? frames.length);
}

/**
 * ConverseStream's events: text blocks have no contentBlockStart, tool uses
 * start with their id and name, then stream their input as JSON pieces.
 * Like Bedrock, every event carries a `p` field of padding.
 */
function converseFrames(reply: RepliedWithIds): Frame[] {
  const frame = (type: string, payload: Record<string, unknown>, piece = false): Frame => ({
    bytes: eventFrame(type, { ...payload, p: padding() }),
    piece,
  });
  const textBlocks = reply.text
    ? [{ start: undefined, deltas: streamPieces(reply.text).map((text) => ({ text })) }]
    : [];
  const toolBlocks = reply.toolCalls.map((call) => ({
    start: { toolUse: { toolUseId: call.id, name: call.name } },
    deltas: streamPieces(call.arguments).map((input) => ({ toolUse: { input } })),
  }));
  return [
    frame('messageStart', { role: 'assistant' }),
    ...[...textBlocks, ...toolBlocks].flatMap((block, contentBlockIndex) => [
      ...(block.start ? [frame('contentBlockStart', { contentBlockIndex, start: block.start })] : []),
      ...block.deltas.map((delta) => frame('contentBlockDelta', { contentBlockIndex, delta }, true)),
      frame('contentBlockStop', { contentBlockIndex }),
    ]),
    frame('messageStop', { stopReason: stopReasons[reply.finishReason] }),
    frame('metadata', { usage: usageJson(reply), metrics: { latencyMs: 42 } }),
  ];
}

const padding = () => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'.slice(0, 1 + randomInt(52));

const toolUseId = () => `tooluse_${randomUUID().replaceAll('-', '').slice(0, 22)}`;

const titanEmbeddingKeys = ['inputText', 'dimensions', 'normalize', 'embeddingTypes'];
const titanDimensions = [256, 512, 1024];

/** Titan Text Embeddings V2: `{ inputText, dimensions?, normalize? }` → `{ embedding, inputTextTokenCount }`. */
function invokeModel(request: RecordedRequest, modelId: string): FakeResponse {
  if (!embeddingModelIds.includes(modelId))
    return validationError('The fake runs Titan text embeddings only.');
  const body = jsonBody(request);
  if (!body) return malformedInput('#: expected type: JSONObject');
  const extraneous = Object.keys(body).find((key) => !titanEmbeddingKeys.includes(key));
  if (extraneous) return malformedInput(`#: extraneous key [${extraneous}] is not permitted`);
  const { inputText, dimensions = 1024, normalize = true } = body;
  if (typeof inputText !== 'string') return malformedInput('#: required key [inputText] not found');
  if (!inputText) return malformedInput('#/inputText: expected minLength: 1, actual: 0');
  if (typeof dimensions !== 'number' || !titanDimensions.includes(dimensions)) {
    return malformedInput(`#/dimensions: ${JSON.stringify(dimensions)} is not a valid enum value`);
  }
  const vector = fakeEmbedding(inputText, dimensions);
  const embedding = normalize === false ? vector : unitLength(vector);
  return {
    status: 200,
    headers: requestIdHeader(),
    json: { embedding, embeddingsByType: { float: embedding }, inputTextTokenCount: countTokens(inputText) },
  };
}

function unitLength(vector: number[]): number[] {
  const length = Math.hypot(...vector) || 1;
  return vector.map((value) => value / length);
}

function jsonBody(request: RecordedRequest): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(request.body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? recordOf(parsed)
      : undefined;
  } catch {
    return undefined;
  }
}

const recordOf = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};

const arrayOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

const validationError = (message: string) => awsError(400, 'ValidationException', message);

const malformedInput = (detail: string) =>
  validationError(`Malformed input request: ${detail}, please reformat your input and try again.`);

function summary(model: FakeModel, region: string) {
  const embedding = model.id.includes('embed');
  return {
    modelArn: `arn:aws:bedrock:${region}::foundation-model/${model.id}`,
    modelId: model.id,
    modelName: model.displayName ?? model.id,
    providerName: model.ownedBy ?? 'Amazon',
    inputModalities: ['TEXT'],
    outputModalities: [embedding ? 'EMBEDDING' : 'TEXT'],
    responseStreamingSupported: !embedding,
    customizationsSupported: [],
    inferenceTypesSupported: ['ON_DEMAND'],
    modelLifecycle: { status: 'ACTIVE' },
  };
}

function scriptedError(step: FakeErrorStep): FakeResponse {
  const { status } = step;
  const [type, message] =
    status === 400
      ? ['ValidationException', 'Invalid request.']
      : status === 403
        ? [
            'AccessDeniedException',
            'User: arn:aws:iam::123456789012:user/fake is not authorized to perform: bedrock:ListFoundationModels because no identity-based policy allows the bedrock:ListFoundationModels action',
          ]
        : status === 404
          ? ['ResourceNotFoundException', 'The requested resource does not exist.']
          : status === 429
            ? ['ThrottlingException', 'Too many requests, please wait before trying again.']
            : status === 503
              ? ['ServiceUnavailableException', 'Service is temporarily unavailable. Please try again later.']
              : ['InternalServerException', 'Internal server error.'];
  const response = awsError(status, type, step.message ?? message);
  if (step.retryAfterSeconds !== undefined) {
    response.headers = { ...response.headers, 'retry-after': String(step.retryAfterSeconds) };
  }
  return response;
}

function requestIdHeader(): Record<string, string> {
  return { 'x-amzn-requestid': randomUUID() };
}

function awsError(status: number, type: string, message: string | undefined): FakeResponse {
  return {
    status,
    headers: {
      ...requestIdHeader(),
      'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    },
    json: message === undefined ? {} : { message },
  };
}
