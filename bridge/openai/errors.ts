/**
 * OpenAI-style errors, as the `openai` SDK parses them: `{ error: { message,
 * type, param, code } }` with the status OpenAI uses for the same failure.
 * Provider failures (after every retry and fallback) are mapped here once.
 */
import type { ServerResponse } from 'node:http';
import { AiProviderError } from '../../providers/ai/index.ts';
import { AllCandidatesFailed } from './fallback.ts';

export interface OpenAiErrorBody {
  message: string;
  type: string;
  code: string | null;
  param?: string | null;
}

export function sendOpenAiError(
  res: ServerResponse,
  status: number,
  error: OpenAiErrorBody,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({
    error: { message: error.message, type: error.type, param: error.param ?? null, code: error.code },
  });
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** A failure the gateway answers itself, with its status and OpenAI error fields. */
export class GatewayError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  readonly retryAfterSeconds?: number;
  /** Tells the openai SDK not to retry (`x-should-retry: false`): waiting will not help. */
  readonly doNotRetry: boolean;
  constructor(
    status: number,
    body: OpenAiErrorBody,
    options: { retryAfterSeconds?: number; doNotRetry?: boolean; cause?: unknown } = {},
  ) {
    super(body.message, { cause: options.cause });
    this.name = 'GatewayError';
    this.status = status;
    this.type = body.type;
    this.code = body.code;
    this.param = body.param ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.doNotRetry = options.doNotRetry ?? false;
  }

  get body(): OpenAiErrorBody {
    return { message: this.message, type: this.type, code: this.code, param: this.param };
  }
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new GatewayError(400, { message, type: 'invalid_request_error', param, code });

export const invalidApiKey = (message: string) =>
  new GatewayError(401, { message, type: 'invalid_request_error', code: 'invalid_api_key' });

export const modelNotFound = (model: string) =>
  new GatewayError(404, {
    message: `The model \`${model}\` does not exist or this key's repository has no AI config that serves it.`,
    type: 'invalid_request_error',
    param: 'model',
    code: 'model_not_found',
  });

/** What the app is told when the providers failed: the last failure, in OpenAI's terms. */
export function gatewayErrorOf(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const failure = error instanceof AllCandidatesFailed ? error.last : error;
  if (!(failure instanceof AiProviderError)) {
    return new GatewayError(500, {
      message: 'The gateway failed to handle the request',
      type: 'server_error',
      code: 'internal_error',
    });
  }
  const upstream = failure.providerMessage ? ` (provider said: ${failure.providerMessage})` : '';
  switch (failure.code) {
    case 'Throttled':
      return new GatewayError(
        429,
        {
          message: `The provider is rate limiting requests${upstream}`,
          type: 'rate_limit_error',
          code: 'rate_limit_exceeded',
        },
        { retryAfterSeconds: failure.retryAfterSeconds },
      );
    case 'Transient':
      return new GatewayError(503, {
        message: `The provider is unavailable: ${failure.message}`,
        type: 'server_error',
        code: 'upstream_unavailable',
      });
    case 'NotFound':
      return new GatewayError(404, {
        message: `The provider does not know this model${upstream}`,
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_not_found',
      });
    case 'InvalidCredentials':
    case 'PermissionDenied':
      // The repository's provider credentials, not the app's key: a gateway problem for the app.
      return new GatewayError(502, {
        message: `The provider refused the AI config's credentials: ${failure.message}`,
        type: 'server_error',
        code: 'upstream_authentication_failed',
      });
    case 'Invalid':
      return invalidRequest(`The provider refused the request${upstream || `: ${failure.message}`}`);
  }
}
