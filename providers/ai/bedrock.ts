/**
 * Amazon Bedrock (type AWS) through the AWS SDK: `@aws-sdk/client-bedrock`
 * for the control plane (listing models), `@aws-sdk/client-bedrock-runtime`
 * for chat and embeddings.
 *
 * Connection fields:
 * - `apiEndpoint`: `https://bedrock.<region>.amazonaws.com` (or the
 *   `bedrock-runtime`, `-fips` and `.amazonaws.com.cn` forms of it): the
 *   region is read from the host, and runtime calls go to the matching
 *   `bedrock-runtime` host. A bare region (`eu-west-1`) is accepted. Any
 *   other URL is a custom endpoint (a proxy, a test fake) that serves both
 *   planes: it is called as written, signed for the region found in its host
 *   name, else us-east-1. There is no default: the region must be chosen.
 * - `apiKey`: the AWS access key id (required).
 * - `apiSecret`: the AWS secret access key. Requests are signed with SigV4.
 *   Only long-lived keys: there is no field for a session token, and the SDK's
 *   default credential chain (environment, instance metadata) is never used.
 *
 * Models: ListFoundationModels (`GET /foundation-models`) →
 * `{ modelSummaries: [{ modelId, modelName, providerName, … }] }`, one call.
 * Chat: Converse (`POST /model/{modelId}/converse`) and ConverseStream
 * (`…/converse-stream`, AWS event-stream frames: messageStart,
 * contentBlockStart / Delta / Stop, messageStop, metadata), translated in
 * bedrock-converse.ts. An exception frame in the middle of a stream
 * (throttlingException, modelStreamErrorException, …) throws from the
 * iteration.
 * Embeddings: InvokeModel (`POST /model/{modelId}/invoke`) with Titan Text
 * Embeddings V2's body `{ inputText, dimensions, normalize: true }` →
 * `{ embedding, inputTextTokenCount }`, one call per input, a few at a time;
 * Titan V1 gets `{ inputText }` only. Other families (Cohere) take other
 * bodies, and Bedrock refuses these (Invalid).
 * Errors: the type in `x-amzn-errortype` (UnrecognizedClientException,
 * InvalidSignatureException, AccessDeniedException, ThrottlingException, …),
 * `{ message }` in the body; the SDK turns them into exceptions named so. An
 * unknown model id is a 400 ValidationException "The provided model
 * identifier is invalid." (or a ResourceNotFoundException): NotFound.
 *
 * The SDK never retries (`maxAttempts: 1`): callers own retries and fallback.
 * Its runtime client would speak HTTP/2 through its own sessions, past the
 * outbound guard; it gets an HTTP/1.1 handler on the guarded agents instead.
 */
import { BedrockClient, ListFoundationModelsCommand } from '@aws-sdk/client-bedrock';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  InvokeModelCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { assertUrlAllowed, createGuardedAgents } from '../../core/net/outbound-guard.ts';
import {
  ConverseStreamTranslator,
  completionId,
  toChatCompletion,
  toConverseInput,
} from './bedrock-converse.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from './chat.ts';
import {
  type ApiDescription,
  connectionFailure,
  type HttpFailure,
  parseRetryAfter,
  providerHttpError,
  statusLabel,
  unexpectedAnswer,
} from './errors.ts';
import {
  asRecord,
  defaultStreamIdleTimeoutMs,
  endpointUrl,
  streamCutOff,
  streamIdle,
  timeoutOf,
} from './http.ts';
import {
  type AiProviderAdapter,
  type AiProviderConnection,
  AiProviderError,
  type AiProviderErrorCode,
  type ChatCallOptions,
  type ModelInfo,
  type ProviderCallOptions,
} from './provider.ts';
import { float32Base64 } from './translation.ts';

const defaultRegion = 'us-east-1';
/** us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-5, … */
const regionPattern = /(?:^|[.-])((?:[a-z]{2}|us-gov|us-iso[a-z]?|eu-isoe)-[a-z]+-\d{1,2})(?=$|[.-])/;
const awsHostPattern = /^bedrock(?:-runtime)?(-fips)?\.([a-z0-9-]+)\.(amazonaws\.com(?:\.cn)?)$/;

const baseUrlHint = 'https://bedrock.<region>.amazonaws.com, e.g. https://bedrock.us-east-1.amazonaws.com';
const credential = 'the AWS credentials (API key = access key id, API secret = secret access key)';
const modelsApi: ApiDescription = { api: 'the Bedrock ListFoundationModels API', baseUrlHint, credential };
const chatApi: ApiDescription = { api: 'the Bedrock Converse API', baseUrlHint, credential };
const embeddingsApi: ApiDescription = { api: 'the Bedrock InvokeModel API', baseUrlHint, credential };

export interface BedrockEndpoint {
  region: string;
  /** Where control-plane calls (ListFoundationModels) go. */
  controlPlane: URL;
  /** Where runtime calls (Converse, InvokeModel) go. */
  runtime: URL;
}

export function bedrockEndpoint(connection: AiProviderConnection): BedrockEndpoint {
  const written = connection.apiEndpoint.trim();
  if (!written) {
    throw new AiProviderError(
      'Invalid',
      `The API endpoint is required for AWS Bedrock: ${baseUrlHint} (it sets the region)`,
    );
  }
  if (/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(written)) return awsEndpoint('', written, 'amazonaws.com');
  let url: URL;
  try {
    url = new URL(written);
  } catch {
    throw new AiProviderError('Invalid', `The API endpoint is not a valid URL (expected ${baseUrlHint})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AiProviderError(
      'Invalid',
      `The API endpoint must start with https:// or http://, not ${url.protocol}//`,
    );
  }
  const aws = url.hostname.match(awsHostPattern);
  if (aws) {
    const [, fips = '', region = defaultRegion, domain = 'amazonaws.com'] = aws;
    return awsEndpoint(fips, region, domain);
  }
  url.hash = '';
  url.search = '';
  const region = url.hostname.match(regionPattern)?.[1] ?? defaultRegion;
  return { region, controlPlane: url, runtime: url };
}

function awsEndpoint(fips: string, region: string, domain: string): BedrockEndpoint {
  return {
    region,
    controlPlane: new URL(`https://bedrock${fips}.${region}.${domain}`),
    runtime: new URL(`https://bedrock-runtime${fips}.${region}.${domain}`),
  };
}

function credentialsOf(connection: AiProviderConnection) {
  const accessKeyId = connection.apiKey?.trim();
  if (!accessKeyId) {
    throw new AiProviderError(
      'Invalid',
      'The API key (the AWS access key id) is required for AWS Bedrock; the API secret holds the secret access key',
    );
  }
  return { accessKeyId, secretAccessKey: connection.apiSecret };
}

/** What an SDK client of either plane is built with, and how to let go of its connections. */
interface PlaneAccess {
  base: URL;
  settings: {
    region: string;
    endpoint: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
    maxAttempts: number;
    requestHandler: NodeHttpHandler;
  };
  close(): void;
}

async function planeAccess(
  connection: AiProviderConnection,
  plane: 'controlPlane' | 'runtime',
  options: ProviderCallOptions,
): Promise<PlaneAccess> {
  const endpoint = bedrockEndpoint(connection);
  const base = endpoint[plane];
  const credentials = credentialsOf(connection);
  try {
    // A clear refusal before any connection; the agents check again at connection time (DNS rebinding).
    await assertUrlAllowed(base, options.outboundPolicy);
  } catch (error) {
    throw connectionFailure(error, base, timeoutOf(options));
  }
  const agents = createGuardedAgents(options.outboundPolicy, { keepAlive: false });
  return {
    base,
    settings: {
      region: endpoint.region,
      endpoint: base.href,
      credentials,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpAgent: agents.httpAgent, httpsAgent: agents.httpsAgent }),
    },
    close: () => {
      agents.httpAgent.destroy();
      agents.httpsAgent.destroy();
    },
  };
}

/** One operation, as error messages name it. */
interface Operation {
  url: URL;
  api: ApiDescription;
  /** Set for runtime calls: an unknown model is reported as such. */
  modelId?: string;
}

const modelOperation = (base: URL, modelId: string, action: string, api: ApiDescription): Operation => ({
  url: endpointUrl(base, `model/${encodeURIComponent(modelId)}/${action}`),
  api,
  modelId,
});

/**
 * Runs `call` with the whole exchange bounded by `timeoutMs` and cancelled
 * by the caller's signal (whose reason is rethrown as is); failures become
 * AiProviderErrors.
 */
async function withinDeadline<T>(
  operation: Operation,
  options: ChatCallOptions,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = timeoutOf(options);
  const deadline = AbortSignal.timeout(timeoutMs);
  const caller = options.signal;
  try {
    return await call(caller ? AbortSignal.any([caller, deadline]) : deadline);
  } catch (error) {
    if (caller?.aborted) throw caller.reason;
    throw bedrockError(error, operation, timeoutMs, deadline.aborted ? deadline.reason : undefined);
  }
}

/** A client of `Client` for one call; its connections are released once `use` settles. */
async function withClient<C extends { destroy(): void }, T>(
  connection: AiProviderConnection,
  plane: 'controlPlane' | 'runtime',
  options: ProviderCallOptions,
  Client: new (settings: PlaneAccess['settings']) => C,
  use: (client: C, base: URL) => Promise<T>,
): Promise<T> {
  const access = await planeAccess(connection, plane, options);
  const client = new Client(access.settings);
  try {
    return await use(client, access.base);
  } finally {
    client.destroy();
    access.close();
  }
}

/** One runtime call to a model: `send` runs within the deadline, on a client released once it settles. */
async function callModel<T>(
  connection: AiProviderConnection,
  options: ChatCallOptions,
  model: { id: string; action: string; api: ApiDescription },
  send: (client: BedrockRuntimeClient, abortSignal: AbortSignal, operation: Operation) => Promise<T>,
): Promise<{ output: T; operation: Operation }> {
  return withClient(connection, 'runtime', options, BedrockRuntimeClient, async (client, base) => {
    const operation = modelOperation(base, model.id, model.action, model.api);
    const output = await withinDeadline(operation, options, (abortSignal) =>
      send(client, abortSignal, operation),
    );
    return { output, operation };
  });
}

async function listModels(
  connection: AiProviderConnection,
  options: ProviderCallOptions,
): Promise<ModelInfo[]> {
  return withClient(connection, 'controlPlane', options, BedrockClient, async (client, base) => {
    // Messages name the operation's URL, as the HTTP adapters do.
    const operation = { url: endpointUrl(base, 'foundation-models'), api: modelsApi };
    const output = await withinDeadline(operation, options, (abortSignal) =>
      client.send(new ListFoundationModelsCommand({}), { abortSignal }),
    );
    if (!Array.isArray(output.modelSummaries)) {
      throw unexpectedAnswer(output.$metadata.httpStatusCode ?? 200, operation.url, modelsApi);
    }
    return output.modelSummaries.flatMap((summary) =>
      summary.modelId
        ? [{ id: summary.modelId, displayName: summary.modelName, ownedBy: summary.providerName }]
        : [],
    );
  });
}

async function chat(
  connection: AiProviderConnection,
  request: ChatRequest,
  options: ChatCallOptions,
): Promise<ChatCompletion> {
  const input = toConverseInput(request);
  const converse = { id: request.model, action: 'converse', api: chatApi };
  const { output, operation } = await callModel(connection, options, converse, (client, abortSignal) =>
    client.send(new ConverseCommand(input), { abortSignal }),
  );
  const completion = toChatCompletion(output, request.model, completionId(output.$metadata.requestId));
  if (!completion) throw unexpectedAnswer(output.$metadata.httpStatusCode ?? 200, operation.url, chatApi);
  return completion;
}

async function chatStream(
  connection: AiProviderConnection,
  request: ChatRequest,
  options: ChatCallOptions,
): Promise<AsyncIterable<ChatCompletionChunk>> {
  const input = toConverseInput(request);
  const access = await planeAccess(connection, 'runtime', options);
  const client = new BedrockRuntimeClient(access.settings);
  const operation = modelOperation(access.base, request.model, 'converse-stream', chatApi);
  const timeoutMs = timeoutOf(options);
  // Cancels the HTTP exchange: on the first-byte timeout, on an idle stream, when reading stops.
  const exchange = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, exchange.signal]) : exchange.signal;
  const release = () => {
    exchange.abort();
    client.destroy();
    access.close();
  };
  // The SDK resolves once the first event arrived: the timeout bounds the wait for it.
  const firstByte = setTimeout(
    () => exchange.abort(new DOMException('first-byte timeout', 'TimeoutError')),
    timeoutMs,
  );
  try {
    const output = await client.send(new ConverseStreamCommand(input), { abortSignal: signal });
    if (!output.stream)
      throw unexpectedAnswer(output.$metadata.httpStatusCode ?? 200, operation.url, chatApi);
    const translator = new ConverseStreamTranslator(request.model, completionId(output.$metadata.requestId));
    const stream = { operation, signal, idleTimeoutMs: options.idleTimeoutMs ?? defaultStreamIdleTimeoutMs };
    return translatedStream(output.stream, translator, stream, release);
  } catch (error) {
    const timedOut = exchange.signal.aborted ? exchange.signal.reason : undefined;
    release();
    if (options.signal?.aborted) throw options.signal.reason;
    throw bedrockError(error, operation, timeoutMs, timedOut);
  } finally {
    clearTimeout(firstByte);
  }
}

interface StreamContext {
  operation: Operation;
  /** Aborted by the caller or by `release`. */
  signal: AbortSignal;
  idleTimeoutMs: number;
}

async function* translatedStream(
  events: AsyncIterable<ConverseStreamOutput>,
  translator: ConverseStreamTranslator,
  stream: StreamContext,
  release: () => void,
): AsyncGenerator<ChatCompletionChunk> {
  const iterator = events[Symbol.asyncIterator]();
  try {
    for (;;) {
      const { done, value } = await nextEvent(iterator, stream);
      if (done) break;
      yield* translator.translate(value);
    }
    if (!translator.stopped) throw streamCutOff(stream.operation.url);
  } finally {
    release();
  }
}

/** The next event, failing after `idleTimeoutMs` of silence, on abort, or as the SDK failed. */
async function nextEvent<T>(iterator: AsyncIterator<T>, stream: StreamContext): Promise<IteratorResult<T>> {
  const { signal, idleTimeoutMs, operation } = stream;
  const next = iterator.next();
  next.catch(() => {}); // it may lose the race, and fail once the connection is released
  let timer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  const interrupted = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(streamIdle(operation.url, idleTimeoutMs)), idleTimeoutMs);
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    if (signal.aborted) throw signal.reason;
    return await Promise.race([next, interrupted]);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw streamFailure(error, operation);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** An exception frame is Bedrock's own error; anything else means the connection broke. */
function streamFailure(error: unknown, operation: Operation): AiProviderError {
  if (error instanceof AiProviderError) return error;
  const { errorType, providerMessage } = sdkFailureOf(error);
  return errorType && codeByErrorType[errorType]
    ? streamedException(errorType, providerMessage, error)
    : streamCutOff(operation.url, error);
}

/** Titan calls in flight at once for one embeddings request. */
const EMBEDDING_CONCURRENCY = 4;

async function embeddings(
  connection: AiProviderConnection,
  request: EmbeddingsRequest,
  options: ChatCallOptions,
): Promise<EmbeddingsResponse> {
  const inputs = textInputsOf(request);
  const invoke = { id: request.model, action: 'invoke', api: embeddingsApi };
  const { output: results } = await callModel(connection, options, invoke, (client, abortSignal, operation) =>
    mapConcurrently(inputs, EMBEDDING_CONCURRENCY, async (inputText) => {
      const output = await client.send(
        new InvokeModelCommand({
          modelId: request.model,
          contentType: 'application/json',
          accept: 'application/json',
          body: JSON.stringify(titanBody(request, inputText)),
        }),
        { abortSignal },
      );
      return titanEmbedding(output.body, operation.url);
    }),
  );
  const tokens = results.reduce((sum, result) => sum + result.tokens, 0);
  return {
    object: 'list',
    data: results.map((result, index) => ({
      object: 'embedding',
      index,
      embedding: request.encoding_format === 'base64' ? float32Base64(result.embedding) : result.embedding,
    })),
    model: request.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

function textInputsOf(request: EmbeddingsRequest): string[] {
  const inputs: unknown = typeof request.input === 'string' ? [request.input] : request.input;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((input) => typeof input === 'string')) {
    throw new AiProviderError(
      'Invalid',
      'Bedrock embeddings take `input` as a text or a non-empty list of texts',
    );
  }
  return inputs;
}

/** Titan V1 refuses the keys V2 added. */
function titanBody(request: EmbeddingsRequest, inputText: string): Record<string, unknown> {
  if (/titan-embed-(text-v1|g1-text)/.test(request.model)) return { inputText };
  return { inputText, dimensions: request.dimensions, normalize: true };
}

function titanEmbedding(body: Uint8Array, url: URL): { embedding: number[]; tokens: number } {
  let answer: Record<string, unknown> | undefined;
  try {
    answer = asRecord(JSON.parse(Buffer.from(body).toString('utf8')));
  } catch {}
  const embedding = answer?.embedding;
  if (!Array.isArray(embedding) || !embedding.every((value) => typeof value === 'number')) {
    throw unexpectedAnswer(200, url, embeddingsApi);
  }
  const tokens = typeof answer?.inputTextTokenCount === 'number' ? answer.inputTextTokenCount : 0;
  return { embedding, tokens };
}

/** `work` on every item, at most `limit` at a time, results in order; the first failure stops the rest. */
async function mapConcurrently<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** AWS error types → codes; the names the SDK gives its exceptions. */
const codeByErrorType: Readonly<Record<string, AiProviderErrorCode>> = {
  UnrecognizedClientException: 'InvalidCredentials',
  InvalidSignatureException: 'InvalidCredentials',
  IncompleteSignatureException: 'InvalidCredentials',
  InvalidClientTokenId: 'InvalidCredentials',
  ExpiredTokenException: 'InvalidCredentials',
  AccessDeniedException: 'PermissionDenied',
  ThrottlingException: 'Throttled',
  TooManyRequestsException: 'Throttled',
  ServiceQuotaExceededException: 'Throttled',
  InternalServerException: 'Transient',
  ServiceUnavailableException: 'Transient',
  ModelStreamErrorException: 'Transient',
  ModelTimeoutException: 'Transient',
  ModelNotReadyException: 'Transient',
  ModelErrorException: 'Transient',
  ValidationException: 'Invalid',
  ResourceNotFoundException: 'NotFound',
  UnknownOperationException: 'NotFound',
  // What AWS front ends answer for a path that is no operation of theirs.
  MissingAuthenticationTokenException: 'NotFound',
};

/** The SDK's view of an HTTP answer it could not turn into a result, or of an exception frame. */
interface SdkFailure {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

function sdkFailureOf(error: unknown) {
  const failure = (typeof error === 'object' && error !== null ? error : {}) as SdkFailure;
  // The SDK names an error without a type `Unknown` (or `UnknownError`).
  const errorType =
    failure.name && failure.name !== 'Unknown' && failure.name !== 'UnknownError' ? failure.name : undefined;
  const providerMessage = failure.message && failure.message !== 'UnknownError' ? failure.message : undefined;
  return { failure, errorType, providerMessage };
}

function bedrockError(
  error: unknown,
  operation: Operation,
  timeoutMs: number,
  timeout: unknown,
): AiProviderError {
  if (error instanceof AiProviderError) return error;
  const { url, api } = operation;
  if (timeout !== undefined) return connectionFailure(timeout, url, timeoutMs);
  const { failure, errorType, providerMessage } = sdkFailureOf(error);
  const status = failure.$metadata?.httpStatusCode;
  if (status === undefined) {
    return errorType && codeByErrorType[errorType]
      ? streamedException(errorType, providerMessage, error)
      : connectionFailure(error, url, timeoutMs);
  }
  // A 2xx the SDK could not parse: not Bedrock's API at this address.
  if (status >= 200 && status < 300) return unexpectedAnswer(status, url, api);
  const details: HttpFailure = {
    status,
    url,
    vendorCode: errorType,
    providerMessage,
    code: errorType ? codeByErrorType[errorType] : undefined,
    retryAfterSeconds: parseRetryAfter(failure.$response?.headers?.['retry-after']),
    cause: error,
  };
  const unknownModel = operation.modelId !== undefined && isUnknownModel(details);
  return providerHttpError(
    {
      ...details,
      code: unknownModel ? 'NotFound' : details.code,
      message: unknownModel ? unknownModelMessage(details, operation.modelId) : credentialMessage(details),
    },
    api,
  );
}

/** Bedrock answers an unknown model id with a ValidationException, and an unknown ARN with ResourceNotFound. */
function isUnknownModel(failure: HttpFailure): boolean {
  if (failure.vendorCode === 'ResourceNotFoundException') return true;
  return (
    failure.vendorCode === 'ValidationException' &&
    /model identifier is invalid/i.test(failure.providerMessage ?? '')
  );
}

function unknownModelMessage(failure: HttpFailure, modelId: string | undefined): string {
  const said = failure.providerMessage ? `: ${failure.providerMessage}` : '';
  return `The provider does not know the model ${JSON.stringify(modelId)} ${statusLabel(failure)}${said} — check the model id (ListFoundationModels lists them; some models are called through an inference profile id such as us.<model id>)`;
}

/** An exception frame in the middle of a stream: Bedrock's error type and message, no HTTP status. */
function streamedException(errorType: string, providerMessage: string | undefined, cause: unknown) {
  const code = codeByErrorType[errorType] ?? 'Transient';
  const said = providerMessage ? `: ${providerMessage}` : '';
  return new AiProviderError(
    code,
    `The provider failed in the middle of a streamed answer (${errorType})${said}`,
    {
      vendorCode: errorType,
      providerMessage,
      cause,
    },
  );
}

/** Which half of the key pair AWS rejected, when its error type tells. */
function credentialMessage(failure: HttpFailure): string | undefined {
  if (failure.vendorCode === 'UnrecognizedClientException' || failure.vendorCode === 'InvalidClientTokenId') {
    return `The provider does not know the AWS access key id given as API key ${statusLabel(failure)}`;
  }
  if (failure.vendorCode === 'InvalidSignatureException') {
    return `The provider rejected the request signature: the API secret is not the secret access key of that access key id ${statusLabel(failure)}`;
  }
  return undefined;
}

export const bedrockAdapter: AiProviderAdapter = { listModels, chat, chatStream, embeddings };
