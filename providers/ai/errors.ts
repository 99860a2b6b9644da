/**
 * Provider failures → AiProviderError, with messages written for the operator
 * who typed the endpoint and the secret: what the provider said, and what to
 * check. Adapters extract the vendor's code and message from its error body;
 * the status, the wording and the network failures are handled here once.
 */
import { OutboundAddressRefused, OutboundRequestError } from '../../core/net/outbound-guard.ts';
import { AiProviderError, type AiProviderErrorCode } from './provider.ts';

/** How an adapter names its API in messages. */
export interface ApiDescription {
  /** e.g. "the OpenAI models API" */
  api: string;
  /** What a correct base URL looks like, e.g. "it usually ends in /v1". */
  baseUrlHint: string;
  /** Which credential a 401 is about, e.g. "the API secret". */
  credential: string;
}

/** One non-2xx answer, as far as the adapter understood it. */
export interface HttpFailure {
  status: number;
  url: URL;
  vendorCode?: string;
  providerMessage?: string;
  retryAfterSeconds?: number;
  /** When the vendor's code says more than the status (Gemini answers 400 to a bad key). */
  code?: AiProviderErrorCode;
  /** Replaces the standard wording, for a vendor code that deserves its own explanation. */
  message?: string;
  cause?: unknown;
}

export function codeForHttpStatus(status: number): AiProviderErrorCode {
  if (status === 401) return 'InvalidCredentials';
  if (status === 403) return 'PermissionDenied';
  if (status === 404) return 'NotFound';
  if (status === 408) return 'Transient';
  if (status === 429) return 'Throttled';
  if (status >= 500) return 'Transient'; // including Anthropic's 529 overloaded_error
  return 'Invalid';
}

export function providerHttpError(failure: HttpFailure, api: ApiDescription): AiProviderError {
  const code = failure.code ?? codeForHttpStatus(failure.status);
  const message = failure.message ?? standardMessage(code, failure, api);
  return new AiProviderError(code, message, {
    httpStatus: failure.status,
    vendorCode: failure.vendorCode,
    providerMessage: failure.providerMessage,
    retryAfterSeconds: failure.retryAfterSeconds,
    cause: failure.cause,
  });
}

/** "(401 invalid_api_key)", or "(404)" when the provider gave no code. */
export function statusLabel(failure: Pick<HttpFailure, 'status' | 'vendorCode'>): string {
  return failure.vendorCode ? `(${failure.status} ${failure.vendorCode})` : `(${failure.status})`;
}

function standardMessage(code: AiProviderErrorCode, failure: HttpFailure, api: ApiDescription): string {
  const label = statusLabel(failure);
  const said = failure.providerMessage ? `: ${failure.providerMessage}` : '';
  switch (code) {
    case 'InvalidCredentials':
      return `The provider rejected ${api.credential} ${label}`;
    case 'PermissionDenied':
      return `The provider accepted the credentials but refused access ${label}${said}`;
    case 'NotFound':
      return `The endpoint does not serve ${api.api} at ${displayUrl(failure.url)} ${label} — check the base URL (${api.baseUrlHint})`;
    case 'Throttled': {
      const wait =
        failure.retryAfterSeconds === undefined ? '' : `; retry after ${failure.retryAfterSeconds} s`;
      return `The provider is rate limiting these credentials ${label}${wait}`;
    }
    case 'Transient':
      return `The provider failed to answer ${label}${said} — try again later`;
    case 'Invalid':
      return `The provider refused the request ${label}${said}`;
  }
}

/** The URL without credentials, query or fragment: safe for messages and logs. */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * `Retry-After` as seconds: delta-seconds or an HTTP date. Undefined when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed));
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Node's system error codes for a connection that failed, and what they mean to an operator. */
const networkFailures: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused (nothing listens on that port)',
  ECONNRESET: 'the connection was closed before a complete answer',
  ECONNABORTED: 'the connection was aborted',
  ERR_STREAM_PREMATURE_CLOSE: 'the connection was closed before a complete answer',
  EPIPE: 'the connection was closed while sending the request',
  ETIMEDOUT: 'the connection timed out',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved right now',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
  EHOSTDOWN: 'the host is down',
};

/** TLS failures: retrying cannot help until the certificate or the URL changes. */
const tlsFailureCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

/**
 * A failure to get an answer at all: the outbound guard's refusal (Invalid),
 * a timeout or a network failure (Transient), a TLS failure (Invalid).
 */
export function connectionFailure(error: unknown, url: URL, timeoutMs: number): AiProviderError {
  if (error instanceof AiProviderError) return error;
  const refusal = findInCauses(error, (e) => e instanceof OutboundAddressRefused);
  if (refusal) return new AiProviderError('Invalid', refusal.message, { cause: refusal });
  const where = `Could not reach the provider at ${url.host}`;
  if (error instanceof OutboundRequestError) {
    const code = error.code === 'OUTBOUND_INVALID_RESPONSE' ? 'Transient' : 'Invalid';
    return new AiProviderError(code, `${where}: ${error.message}`, { vendorCode: error.code, cause: error });
  }
  const systemCode = systemErrorCode(error);
  if (systemCode && tlsFailureCodes.has(systemCode)) {
    return new AiProviderError(
      'Invalid',
      `${where}: its TLS certificate or protocol was not accepted (${systemCode})`,
      { vendorCode: systemCode, cause: error },
    );
  }
  if (systemCode && networkFailures[systemCode]) {
    return new AiProviderError('Transient', `${where}: ${networkFailures[systemCode]} (${systemCode})`, {
      vendorCode: systemCode,
      cause: error,
    });
  }
  // After the system codes: the AWS SDK renames ECONNRESET and friends `TimeoutError`.
  if (findInCauses(error, isTimeout)) {
    return new AiProviderError('Transient', `${where}: no answer within ${formatSeconds(timeoutMs)}`, {
      vendorCode: 'TimeoutError',
      cause: error,
    });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new AiProviderError('Invalid', `The request to ${url.host} failed: ${detail}`, { cause: error });
}

function isTimeout(error: Error): boolean {
  return error.name === 'TimeoutError';
}

/** The first error in `error`'s cause chain (and AggregateError members) that matches. */
function findInCauses(error: unknown, matches: (error: Error) => boolean, depth = 0): Error | undefined {
  if (!(error instanceof Error) || depth > 5) return undefined;
  if (matches(error)) return error;
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const found = findInCauses(inner, matches, depth + 1);
      if (found) return found;
    }
  }
  return findInCauses(error.cause, matches, depth + 1);
}

function systemErrorCode(error: unknown): string | undefined {
  const found = findInCauses(error, (e) => {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' && (code in networkFailures || tlsFailureCodes.has(code));
  });
  return found ? String((found as { code?: unknown }).code) : undefined;
}

function formatSeconds(milliseconds: number): string {
  return `${Number((milliseconds / 1000).toFixed(3))} s`;
}

/** A 2xx answer that is not what the API returns: usually a base URL that points at some other server. */
export function unexpectedAnswer(status: number, url: URL, api: ApiDescription): AiProviderError {
  return new AiProviderError(
    'Invalid',
    `The endpoint answered ${status} at ${displayUrl(url)} but not with ${api.api} — check the base URL (${api.baseUrlHint})`,
    { httpStatus: status },
  );
}
