/**
 * S3 errors are XML documents. One table maps each code to its HTTP status
 * (as AWS documents them); every failure on the S3 port leaves through here.
 */
import type { ServerResponse } from 'node:http';

export const s3ErrorStatus = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidChunkSizeError: 403,
  InvalidDigest: 400,
  InvalidObjectName: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  QUOTA_EXCEEDED: 403,
  RequestHeaderSectionTooLarge: 400,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
} as const;

export type S3ErrorCode = keyof typeof s3ErrorStatus;

export class S3Error extends Error {
  readonly code: S3ErrorCode;
  constructor(code: S3ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'S3Error';
    this.code = code;
  }
  get httpStatus(): number {
    return s3ErrorStatus[this.code];
  }
}

export const escapeXml = (text: string) =>
  text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c,
  );

export function sendS3Error(
  res: ServerResponse,
  error: { code: string; message: string; resource: string; requestId: string; httpStatus?: number },
): void {
  const status = error.httpStatus ?? s3ErrorStatus[error.code as S3ErrorCode] ?? 500;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message>` +
    `<Resource>${escapeXml(error.resource)}</Resource><RequestId>${error.requestId}</RequestId></Error>`;
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': error.requestId,
  });
  res.end(body);
}
