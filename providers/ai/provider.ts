/**
 * The AI provider layer's shared vocabulary: what a connection to a provider
 * holds, what a listed model looks like, and the one error type every adapter
 * turns its vendor's failures into. Each adapter (openai.ts, anthropic.ts,
 * gemini.ts, bedrock.ts) documents at its top what `apiEndpoint`, `apiKey`
 * and `apiSecret` mean for its provider.
 */
import type { OutboundPolicy } from '../../core/net/outbound-guard.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from './chat.ts';

export const aiProviderTypes = ['OPENAI', 'GOOGLE', 'ANTHROPIC', 'AWS', 'OTHER'] as const;
export type AiProviderType = (typeof aiProviderTypes)[number];

/** An AI LLM config's connection fields, decrypted. */
export interface AiProviderConnection {
  type: AiProviderType;
  /** Base URL of the provider's API; empty means the provider's public endpoint where it has one. */
  apiEndpoint: string;
  /** Optional second credential (an organization id, an AWS access key id); see each adapter. */
  apiKey?: string;
  /** The main secret or token. */
  apiSecret: string;
}

export interface ModelInfo {
  /** The id to put in a request's `model` field. */
  id: string;
  displayName?: string;
  ownedBy?: string;
  /** ISO 8601, when the provider tells. */
  created?: string;
}

/** What every call to a provider needs from its caller. */
export interface ProviderCallOptions {
  /** Which non-public addresses the endpoint may resolve to (SSRF guard). */
  outboundPolicy: OutboundPolicy;
  /** Abort the whole exchange after this many milliseconds; default 15 s. */
  timeoutMs?: number;
}

export const defaultProviderTimeoutMs = 15_000;

/** Options of a chat or embeddings call. */
export interface ChatCallOptions extends ProviderCallOptions {
  /** Aborts the exchange, e.g. when the app that asked went away. */
  signal?: AbortSignal;
  /** Streams: the longest wait between two events once the answer started; default 60 s. */
  idleTimeoutMs?: number;
}

/** Each provider's calls, all in OpenAI's vocabulary (chat.ts) on this side. */
export interface AiProviderAdapter {
  listModels(connection: AiProviderConnection, options: ProviderCallOptions): Promise<ModelInfo[]>;
  /** One whole answer. `timeoutMs` bounds the whole exchange. */
  chat(
    connection: AiProviderConnection,
    request: ChatRequest,
    options: ChatCallOptions,
  ): Promise<ChatCompletion>;
  /**
   * A streamed answer. Resolves once the provider accepted the request (a
   * refusal rejects with its AiProviderError; `timeoutMs` bounds the wait for
   * the answer's headers). The chunks follow OpenAI's stream: the first delta
   * carries `role`, tool calls are indexed deltas, the last choice chunk has a
   * `finish_reason`, and a final chunk with no choices carries `usage`
   * whenever the provider reported it. An error event from the provider, or
   * an answer cut off before its end, throws an AiProviderError from the
   * iteration.
   */
  chatStream(
    connection: AiProviderConnection,
    request: ChatRequest,
    options: ChatCallOptions,
  ): Promise<AsyncIterable<ChatCompletionChunk>>;
  /** Throws AiProviderError('Invalid') when the provider has no embeddings API. */
  embeddings(
    connection: AiProviderConnection,
    request: EmbeddingsRequest,
    options: ChatCallOptions,
  ): Promise<EmbeddingsResponse>;
}

export const aiProviderErrorCodes = [
  'InvalidCredentials',
  'PermissionDenied',
  'NotFound',
  'Throttled',
  'Transient',
  'Invalid',
] as const;
export type AiProviderErrorCode = (typeof aiProviderErrorCodes)[number];

export interface AiProviderErrorDetails {
  httpStatus?: number;
  /** The provider's own error code or type (`invalid_api_key`, `UNAUTHENTICATED`, `ThrottlingException`). */
  vendorCode?: string;
  /** The provider's own message, as it sent it. */
  providerMessage?: string;
  retryAfterSeconds?: number;
  cause?: unknown;
}

/**
 * A provider failure in Skybridge's terms. `message` is written for an
 * operator (what went wrong and what to check) and never holds a secret.
 */
export class AiProviderError extends Error {
  readonly code: AiProviderErrorCode;
  readonly httpStatus?: number;
  readonly vendorCode?: string;
  readonly providerMessage?: string;
  readonly retryAfterSeconds?: number;
  constructor(code: AiProviderErrorCode, message: string, details: AiProviderErrorDetails = {}) {
    super(message, { cause: details.cause });
    this.name = 'AiProviderError';
    this.code = code;
    this.httpStatus = details.httpStatus;
    this.vendorCode = details.vendorCode;
    this.providerMessage = details.providerMessage;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
  /** Worth retrying with backoff. */
  get retryable(): boolean {
    return this.code === 'Throttled' || this.code === 'Transient';
  }
}
