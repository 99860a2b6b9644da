/**
 * Vendor errors → StorageError, as one table (vendor code → code) with the
 * HTTP status and the network error code as fallbacks. Each adapter only
 * extracts `{ vendorCode, httpStatus }` from its SDK's error shape.
 */
import { Readable } from 'node:stream';
import { StorageError, type StorageErrorCode } from './object-store.ts';

/** Codes as the vendors spell them; S3 (AWS, MinIO, GCS XML API), GCS JSON API reasons, OAuth, Azure. */
const codeByVendorCode: Readonly<Record<string, StorageErrorCode>> = {
  // S3
  NoSuchKey: 'NotFound',
  NoSuchBucket: 'NotFound',
  NoSuchUpload: 'NotFound',
  NoSuchVersion: 'NotFound',
  NotFound: 'NotFound',
  AccessDenied: 'AccessDenied',
  AllAccessDisabled: 'AccessDenied',
  AccountProblem: 'AccessDenied',
  Forbidden: 'AccessDenied',
  InvalidAccessKeyId: 'InvalidCredentials',
  SignatureDoesNotMatch: 'InvalidCredentials',
  ExpiredToken: 'InvalidCredentials',
  InvalidToken: 'InvalidCredentials',
  TokenRefreshRequired: 'InvalidCredentials',
  CredentialsProviderError: 'InvalidCredentials',
  SlowDown: 'Throttled',
  Throttling: 'Throttled',
  ThrottlingException: 'Throttled',
  RequestLimitExceeded: 'Throttled',
  TooManyRequestsException: 'Throttled',
  TooManyBuckets: 'QuotaExceeded',
  XMinioAdminBucketQuotaExceeded: 'QuotaExceeded',
  XMinioStorageFull: 'QuotaExceeded',
  InternalError: 'Transient',
  ServiceUnavailable: 'Transient',
  RequestTimeout: 'Transient', // S3 answers 400 when the client sent the body too slowly
  XMinioServerNotInitialized: 'Transient',
  InvalidObjectState: 'Invalid', // 403 for an archived object: not a permission problem
  // GCS JSON API (`errors[].reason`) and Google OAuth (`error`)
  notFound: 'NotFound',
  forbidden: 'AccessDenied',
  insufficientPermissions: 'AccessDenied',
  accountDisabled: 'AccessDenied',
  authError: 'InvalidCredentials',
  invalid_grant: 'InvalidCredentials',
  invalid_client: 'InvalidCredentials',
  unauthorized_client: 'InvalidCredentials',
  rateLimitExceeded: 'Throttled',
  userRateLimitExceeded: 'Throttled',
  quotaExceeded: 'QuotaExceeded',
  dailyLimitExceeded: 'QuotaExceeded',
  backendError: 'Transient',
  // Azure Blob (x-ms-error-code)
  BlobNotFound: 'NotFound',
  ContainerNotFound: 'NotFound',
  ResourceNotFound: 'NotFound',
  AuthorizationFailure: 'AccessDenied',
  AuthorizationPermissionMismatch: 'AccessDenied',
  AuthorizationSourceIPMismatch: 'AccessDenied',
  AuthorizationProtocolMismatch: 'AccessDenied',
  AuthorizationResourceTypeMismatch: 'AccessDenied',
  AuthorizationServiceMismatch: 'AccessDenied',
  // "The account being accessed does not have sufficient permissions": a permission, not a quota.
  InsufficientAccountPermissions: 'AccessDenied',
  AccountIsDisabled: 'AccessDenied',
  AuthenticationFailed: 'InvalidCredentials',
  InvalidAuthenticationInfo: 'InvalidCredentials',
  NoAuthenticationInformation: 'InvalidCredentials',
  // Shared keys switched off on the account: these credentials can never work there.
  KeyBasedAuthenticationNotPermitted: 'InvalidCredentials',
  ServerBusy: 'Throttled',
  OperationTimedOut: 'Transient',
  REQUEST_SEND_ERROR: 'Transient',
  // Skybridge's outbound guard (core/net) refused the endpoint's address: retrying cannot help.
  OUTBOUND_ADDRESS_REFUSED: 'Invalid',
};

/** Failures of the connection itself, before or while talking HTTP. */
const transientNetworkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ERR_STREAM_PREMATURE_CLOSE',
  'TimeoutError',
  'RequestTimeout',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function codeForHttpStatus(status: number): StorageErrorCode {
  if (status === 401) return 'InvalidCredentials';
  if (status === 403) return 'AccessDenied';
  if (status === 404) return 'NotFound';
  if (status === 408) return 'Transient';
  if (status === 429) return 'Throttled';
  if (status === 507) return 'QuotaExceeded';
  if (status >= 500) return 'Transient';
  return 'Invalid';
}

export interface VendorFailure {
  vendorCode?: string;
  httpStatus?: number;
  message: string;
  cause: unknown;
}

/** Anything not recognised (TLS, a refused outbound guard, a bug) is `Invalid`: retrying would not help. */
export function classifyFailure(failure: VendorFailure): StorageError {
  const { httpStatus } = failure;
  const vendorCode = failure.vendorCode ?? ownErrorCode(failure.cause);
  const networkCode = networkErrorCode(failure.cause);
  const code =
    (vendorCode ? codeByVendorCode[vendorCode] : undefined) ??
    (httpStatus ? codeForHttpStatus(httpStatus) : undefined) ??
    (networkCode ? 'Transient' : 'Invalid');
  const label = vendorCode ?? networkCode ?? (httpStatus ? `HTTP ${httpStatus}` : 'error');
  // Answers to HEAD carry no body, so some SDKs have no message at all.
  const message = failure.message || 'no error details (an answer without a body)';
  return new StorageError(code, `${label}: ${message}`, {
    vendorCode: vendorCode ?? networkCode,
    httpStatus,
    cause: failure.cause,
  });
}

/** A plain error's string `code` (Node's system errors, the outbound guard's refusal). */
function ownErrorCode(error: unknown): string | undefined {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** The Node/undici network code of an error, looking through `cause` and AggregateError. */
export function networkErrorCode(error: unknown, depth = 0): string | undefined {
  if (!(error instanceof Error) || depth > 4) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && transientNetworkCodes.has(code)) return code;
  if (transientNetworkCodes.has(error.name)) return error.name;
  if (error instanceof AggregateError) return networkErrorCode(error.errors[0], depth + 1);
  return networkErrorCode(error.cause, depth + 1);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs one SDK call, turning whatever it throws into a StorageError. */
export async function mapFailures<T>(
  toStorageError: (error: unknown) => StorageError,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw error instanceof StorageError ? error : toStorageError(error);
  }
}

/** The same bytes, but a failure in mid-body surfaces as a StorageError too (a reset is `Transient`). */
export function mapStreamFailures(
  source: Readable,
  toStorageError: (error: unknown) => StorageError,
): Readable {
  async function* relay() {
    try {
      yield* source;
    } catch (error) {
      throw error instanceof StorageError ? error : toStorageError(error);
    }
  }
  // Pulled on demand, so back-pressure reaches the source; destroying the result ends `relay`, which destroys the source.
  return Readable.from(relay(), { objectMode: false });
}
