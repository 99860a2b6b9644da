/**
 * The S3 errors the authentication layer can raise, as one table: code → HTTP status and S3's
 * default message. Codes, statuses and messages follow what Amazon S3 answers (its error-code
 * reference and observed responses), so clients' retry and error handling behave as against S3.
 */

export const s3AuthErrors = {
  AccessDenied: { status: 403, message: 'Access Denied' },
  AuthorizationHeaderMalformed: { status: 400, message: 'The authorization header is malformed.' },
  AuthorizationQueryParametersError: {
    status: 400,
    message: 'Error parsing the query-string authentication parameters.',
  },
  BadDigest: { status: 400, message: 'The Content-MD5 you specified did not match what we received.' },
  IncompleteBody: {
    status: 400,
    message: 'You did not provide the number of bytes specified by the Content-Length HTTP header.',
  },
  InvalidAccessKeyId: {
    status: 403,
    message: 'The AWS Access Key Id you provided does not exist in our records.',
  },
  InvalidArgument: { status: 400, message: 'Invalid Argument' },
  // S3 answers 403 here, not 400 (observed on real S3; the SDKs surface it as-is).
  InvalidChunkSizeError: {
    status: 403,
    message: 'Only the last chunk is allowed to have a size less than 8192 bytes',
  },
  InvalidDigest: { status: 400, message: 'The Content-MD5 you specified is not valid.' },
  InvalidRequest: { status: 400, message: 'Invalid Request' },
  MalformedTrailerError: {
    status: 400,
    message:
      'The request contained trailing data that was not well-formed or did not conform to our published schema.',
  },
  MissingContentLength: { status: 411, message: 'You must provide the Content-Length HTTP header.' },
  MissingSecurityHeader: { status: 400, message: 'Your request is missing a required header.' },
  RequestTimeTooSkewed: {
    status: 403,
    message: 'The difference between the request time and the current time is too large.',
  },
  SignatureDoesNotMatch: {
    status: 403,
    message:
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  },
  XAmzContentSHA256Mismatch: {
    status: 400,
    message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type S3AuthErrorCode = keyof typeof s3AuthErrors;

/**
 * An authentication or payload-integrity failure, carrying everything the server needs to answer
 * in S3's XML form: `<Code>`, `<Message>`, the HTTP status, and the extra elements S3 adds for that
 * code (`details`, e.g. `HeadersNotSigned`, `NumberBytesExpected`, `StringToSign`).
 */
export class S3AuthError extends Error {
  readonly code: S3AuthErrorCode;
  readonly httpStatus: number;
  readonly details: Readonly<Record<string, string>>;

  constructor(code: S3AuthErrorCode, message?: string, details: Record<string, string> = {}) {
    super(message ?? s3AuthErrors[code].message);
    this.name = 'S3AuthError';
    this.code = code;
    this.httpStatus = s3AuthErrors[code].status;
    this.details = details;
  }
}

export const isS3AuthError = (error: unknown): error is S3AuthError => error instanceof S3AuthError;
