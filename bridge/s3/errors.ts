/** S3 errors are XML documents; one table maps each code to its HTTP status. */
import type { ServerResponse } from 'node:http';

export const s3ErrorStatus = {
  AccessDenied: 403,
  InternalError: 500,
  NotImplemented: 501,
} as const;

export type S3ErrorCode = keyof typeof s3ErrorStatus;

const escapeXml = (text: string) =>
  text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c,
  );

export function sendS3Error(
  res: ServerResponse,
  error: { code: S3ErrorCode; message: string; resource: string; requestId: string },
): void {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${error.code}</Code><Message>${escapeXml(error.message)}</Message>` +
    `<Resource>${escapeXml(error.resource)}</Resource><RequestId>${error.requestId}</RequestId></Error>`;
  res.writeHead(s3ErrorStatus[error.code], {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': error.requestId,
  });
  res.end(body);
}
