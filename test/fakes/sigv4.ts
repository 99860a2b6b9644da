/**
 * Checks an AWS Signature Version 4 `Authorization` header the way AWS does,
 * written from the public SigV4 description (canonical request → string to
 * sign → HMAC chain), so a fake AWS service can tell a wrong access key id
 * from a wrong secret. Path segments are encoded twice, as for every service
 * but S3.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { header, type RecordedRequest } from './fake-http.ts';

export type SigV4Verdict =
  | { ok: true; accessKeyId: string; region: string; service: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'unknown-key' | 'bad-signature'; accessKeyId?: string };

const authorizationPattern =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;

export function verifySigV4(
  request: RecordedRequest,
  secretFor: (accessKeyId: string) => string | undefined,
): SigV4Verdict {
  const authorization = header(request, 'authorization');
  if (!authorization) return { ok: false, reason: 'missing' };
  const match = authorization.match(authorizationPattern);
  const amzDate = header(request, 'x-amz-date');
  if (!match || !amzDate) return { ok: false, reason: 'malformed' };
  const [, accessKeyId = '', day = '', region = '', service = '', signedHeaders = '', signature = ''] = match;
  const secret = secretFor(accessKeyId);
  if (secret === undefined) return { ok: false, reason: 'unknown-key', accessKeyId };
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    sha256Hex(canonicalRequest(request, signedHeaders.split(';'))),
  ].join('\n');
  let key = hmac(`AWS4${secret}`, day);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const expected = hmac(key, stringToSign).toString('hex');
  const matches = timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
  return matches
    ? { ok: true, accessKeyId, region, service }
    : { ok: false, reason: 'bad-signature', accessKeyId };
}

function canonicalRequest(request: RecordedRequest, signedHeaders: string[]): string {
  const headers = signedHeaders.map(
    (name) => `${name}:${(header(request, name) ?? '').trim().replace(/\s+/g, ' ')}\n`,
  );
  return [
    request.method,
    canonicalPath(request.path),
    canonicalQuery(request.rawQuery),
    headers.join(''),
    signedHeaders.join(';'),
    header(request, 'x-amz-content-sha256') ?? sha256Hex(request.body),
  ].join('\n');
}

/** Normalised (no empty, `.` or `..` segments) and each segment encoded once more. */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `/${segments.map(awsUriEncode).join('/')}${trailing}`;
}

function canonicalQuery(rawQuery: string): string {
  if (!rawQuery) return '';
  return rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals === -1 ? pair : pair.slice(0, equals);
      const value = equals === -1 ? '' : pair.slice(equals + 1);
      return [awsUriEncode(decodeURIComponent(name)), awsUriEncode(decodeURIComponent(value))] as const;
    })
    .sort(([a, aValue], [b, bValue]) => (a === b ? compare(aValue, bValue) : compare(a, b)))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** RFC 3986 encoding: everything but A–Z a–z 0–9 - _ . ~ as %XX (uppercase). */
function awsUriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}
