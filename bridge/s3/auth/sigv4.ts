/**
 * AWS Signature Version 4 for the S3 bridge: header auth (`Authorization: AWS4-HMAC-SHA256 ...`)
 * and query-string auth (presigned URLs), as S3 does it.
 *
 * Two steps, with the key lookup between them (it is the caller's, and so is InvalidAccessKeyId):
 *   1. `parseSignedRequest` reads the credential, scope, signed headers, signature and payload
 *      hash, and refuses what S3 refuses before looking at a key (malformed auth, skew, expiry,
 *      unsigned x-amz-* headers).
 *   2. `verifySignature` rebuilds the canonical request, signs it with the key's secret and
 *      compares in constant time. It returns the signing context that chunk signatures
 *      (`aws-chunked` bodies, see payload.ts) chain from.
 *
 * S3 specifics: the path is not normalised nor encoded twice; presigned requests sign
 * `UNSIGNED-PAYLOAD` (or the `X-Amz-Content-Sha256` query parameter) and leave
 * `X-Amz-Signature` out of the canonical query; any region is accepted (it is part of the scope).
 */
import { timingSafeEqual } from 'node:crypto';
import {
  awsUriEncode,
  buildStringToSign,
  collapseSpaces,
  deriveSigningKey,
  formatAmzDate,
  SIGV4_ALGORITHM,
  SIGV4_TERMINATOR,
  signWith,
} from '../../../core/aws/sigv4.ts';
import { S3AuthError } from './errors.ts';

export type RequestHeaders = Record<string, string | string[] | undefined>;

export interface SignedRequestInput {
  method: string;
  /** The path as received, still percent-encoded (`/bucket/a%20b`), without the query. */
  rawPath: string;
  /** The query as received, without `?`. */
  rawQuery: string;
  /** Node's lower-cased `IncomingHttpHeaders`. */
  headers: RequestHeaders;
  /**
   * Node's `rawHeaders`, when available: repeated headers are then joined with `,` exactly as
   * signers do, where `headers` has them joined with `, ` (or drops them).
   */
  rawHeaders?: readonly string[];
  now: Date;
}

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED_PAYLOAD = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_PAYLOAD_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_PAYLOAD_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
export {
  awsUriEncode,
  buildStringToSign,
  deriveSigningKey,
  EMPTY_SHA256,
  formatAmzDate,
  sha256Hex,
  signHex,
  signingKeyCacheSize,
} from '../../../core/aws/sigv4.ts';

/** S3 allows 15 minutes between the request's time and its own. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** Presigned URLs live at most 7 days. */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 604_800;

export interface ParsedSignature {
  kind: 'header' | 'presigned';
  accessKeyId: string;
  /** Scope date, `YYYYMMDD`. */
  date: string;
  region: string;
  service: string;
  /** Lower-cased, in the order the client listed them. */
  signedHeaders: string[];
  /** 64 lower-case hex digits. */
  signature: string;
  /** `x-amz-content-sha256` (a hex digest or one of the sentinels); `UNSIGNED-PAYLOAD` for presigned. */
  payloadHash: string;
  /** The request time as signed: `YYYYMMDDTHHMMSSZ`. */
  timestamp: string;
  requestTime: Date;
  /** Presigned only: X-Amz-Date + X-Amz-Expires. */
  expiresAt?: Date;
}

/** What chunk and trailer signatures are computed from. */
export interface SigningContext {
  accessKeyId: string;
  signingKey: Buffer;
  /** `YYYYMMDD/region/s3/aws4_request` */
  scope: string;
  /** `YYYYMMDDTHHMMSSZ` */
  timestamp: string;
  /** The request's signature: the first link of the chunk-signature chain. */
  seedSignature: string;
}

// ---------------------------------------------------------------------------------------------
// Parsing

export function parseSignedRequest(input: SignedRequestInput): ParsedSignature {
  const authorization = headerValue(input.headers, 'authorization');
  const query = parseQuery(input.rawQuery);
  const hasQueryAuth = query.some(
    ({ name }) => name === 'X-Amz-Algorithm' || name === 'X-Amz-Credential' || name === 'X-Amz-Signature',
  );
  if (authorization !== undefined && hasQueryAuth) {
    throw new S3AuthError(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      { ArgumentName: 'Authorization', ArgumentValue: authorization },
    );
  }
  if (authorization !== undefined) return parseHeaderAuth(authorization, input);
  if (hasQueryAuth) return parsePresigned(query, input);
  if (query.some(({ name }) => name === 'Signature' || name === 'AWSAccessKeyId')) {
    throw unsupportedMechanism();
  }
  throw new S3AuthError('AccessDenied', 'Access Denied');
}

const unsupportedMechanism = () =>
  new S3AuthError(
    'InvalidRequest',
    'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
  );

function parseHeaderAuth(authorization: string, input: SignedRequestInput): ParsedSignature {
  const match = /^(\S+)\s+(.*)$/s.exec(authorization.trim());
  if (!match || match[1] !== SIGV4_ALGORITHM) {
    if (match?.[1]?.startsWith('AWS4-')) {
      throw new S3AuthError(
        'AuthorizationHeaderMalformed',
        `The authorization header is malformed; the authorization mechanism "${match[1]}" is not supported. Please use ${SIGV4_ALGORITHM}.`,
      );
    }
    throw unsupportedMechanism();
  }
  const fields = new Map<string, string>();
  for (const part of match[2]!.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaderList = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || signedHeaderList === undefined || signature === undefined) {
    throw new S3AuthError(
      'AuthorizationHeaderMalformed',
      'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.',
    );
  }
  const malformed = (reason: string) =>
    new S3AuthError('AuthorizationHeaderMalformed', `The authorization header is malformed; ${reason}`);
  const scope = parseCredential(credential, malformed);
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) {
    throw new S3AuthError('SignatureDoesNotMatch', undefined, signatureDetails(scope.accessKeyId, signature));
  }
  const signedHeaders = parseSignedHeaderList(signedHeaderList, malformed);

  const { timestamp, requestTime, dateHeader } = headerRequestTime(input.headers);
  if (scope.date !== timestamp.slice(0, 8)) {
    throw malformed(
      `Invalid credential date "${scope.date}". This date is not the same as X-Amz-Date: "${timestamp.slice(0, 8)}".`,
    );
  }
  const skew = Math.abs(input.now.getTime() - requestTime.getTime());
  if (skew > MAX_CLOCK_SKEW_MS) {
    throw new S3AuthError('RequestTimeTooSkewed', undefined, {
      RequestTime: headerValue(input.headers, dateHeader) ?? '',
      ServerTime: input.now.toISOString(),
      MaxAllowedSkewMilliseconds: String(MAX_CLOCK_SKEW_MS),
    });
  }
  const payloadHash = headerValue(input.headers, 'x-amz-content-sha256');
  if (payloadHash === undefined) {
    throw new S3AuthError('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  if (!isValidPayloadHash(payloadHash)) {
    throw new S3AuthError(
      'InvalidArgument',
      `x-amz-content-sha256 must be ${UNSIGNED_PAYLOAD}, ${STREAMING_UNSIGNED_PAYLOAD_TRAILER}, ${STREAMING_SIGNED_PAYLOAD}, ${STREAMING_SIGNED_PAYLOAD_TRAILER}, or a valid sha256 value.`,
      { ArgumentName: 'x-amz-content-sha256', ArgumentValue: payloadHash },
    );
  }
  requireSigned(input.headers, signedHeaders, [dateHeader], []);
  return {
    kind: 'header',
    ...scope,
    signedHeaders,
    signature: signature.toLowerCase(),
    payloadHash,
    timestamp,
    requestTime,
  };
}

function parsePresigned(query: QueryParam[], input: SignedRequestInput): ParsedSignature {
  const param = (name: string) => query.find((p) => p.name === name)?.value;
  const algorithm = param('X-Amz-Algorithm');
  const credential = param('X-Amz-Credential');
  const amzDate = param('X-Amz-Date');
  const expires = param('X-Amz-Expires');
  const signedHeaderList = param('X-Amz-SignedHeaders');
  const signature = param('X-Amz-Signature');
  const queryError = (message: string) => new S3AuthError('AuthorizationQueryParametersError', message);
  if (algorithm !== undefined && algorithm !== SIGV4_ALGORITHM) {
    throw queryError(`X-Amz-Algorithm only supports "${SIGV4_ALGORITHM}"`);
  }
  if (!algorithm || !credential || !amzDate || !expires || !signedHeaderList || !signature) {
    throw queryError(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  const scope = parseCredential(credential, (reason) =>
    queryError(`Error parsing the X-Amz-Credential parameter; ${reason}`),
  );
  const requestTime = parseAmzDate(amzDate);
  if (!requestTime) throw queryError(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
  if (!/^-?\d+$/.test(expires)) throw queryError('X-Amz-Expires should be a number');
  const expiresSeconds = Number(expires);
  if (expiresSeconds < 0) throw queryError('X-Amz-Expires must be non-negative');
  if (expiresSeconds > MAX_PRESIGNED_EXPIRES_SECONDS) {
    throw queryError(
      `X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGNED_EXPIRES_SECONDS}`,
    );
  }
  if (scope.date !== amzDate.slice(0, 8)) {
    throw queryError(
      `Invalid credential date "${scope.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
    );
  }
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) {
    throw new S3AuthError('SignatureDoesNotMatch', undefined, signatureDetails(scope.accessKeyId, signature));
  }
  const signedHeaders = parseSignedHeaderList(signedHeaderList, (reason) =>
    queryError(`Error parsing the X-Amz-SignedHeaders parameter; ${reason}`),
  );
  const expiresAt = new Date(requestTime.getTime() + expiresSeconds * 1000);
  if (input.now.getTime() > expiresAt.getTime()) {
    throw new S3AuthError('AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expires,
      Expires: expiresAt.toISOString(),
      ServerTime: input.now.toISOString(),
    });
  }
  if (requestTime.getTime() - input.now.getTime() > MAX_CLOCK_SKEW_MS) {
    throw new S3AuthError('AccessDenied', 'Request is not valid yet');
  }
  // A presigned URL may be fetched with an x-amz-content-sha256 header it did not sign.
  requireSigned(input.headers, signedHeaders, [], ['x-amz-content-sha256']);
  const payloadHash =
    query.find((p) => p.name.toLowerCase() === 'x-amz-content-sha256')?.value ?? UNSIGNED_PAYLOAD;
  return {
    kind: 'presigned',
    ...scope,
    signedHeaders,
    signature: signature.toLowerCase(),
    payloadHash,
    timestamp: amzDate,
    requestTime,
    expiresAt,
  };
}

interface CredentialScope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

function parseCredential(credential: string, fail: (reason: string) => S3AuthError): CredentialScope {
  const parts = credential.split('/');
  if (parts.length < 5) {
    throw fail('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  const [date, region, service, terminator] = parts.slice(-4) as [string, string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (!accessKeyId || !/^\d{8}$/.test(date) || !region) {
    throw fail('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  if (service !== 's3') throw fail(`incorrect service "${service}". This endpoint belongs to "s3".`);
  if (terminator !== SIGV4_TERMINATOR) {
    throw fail(`incorrect terminal "${terminator}". This endpoint uses "${SIGV4_TERMINATOR}".`);
  }
  return { accessKeyId, date, region, service };
}

function parseSignedHeaderList(list: string, fail: (reason: string) => S3AuthError): string[] {
  const names = list.split(';').map((name) => name.trim().toLowerCase());
  if (names.some((name) => !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name))) {
    throw fail('the SignedHeaders list is mal-formed.');
  }
  return names;
}

/**
 * Host must be signed, and every x-amz-* header present too (S3 refuses unsigned ones with
 * AccessDenied and the HeadersNotSigned list); `also` are further headers that must be signed.
 */
function requireSigned(
  headers: RequestHeaders,
  signedHeaders: readonly string[],
  also: readonly string[],
  tolerated: readonly string[],
): void {
  const signed = new Set(signedHeaders);
  const required = new Set(['host', ...also]);
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-') && headers[name] !== undefined && !tolerated.includes(lower)) {
      required.add(lower);
    }
  }
  const notSigned = [...required].filter((name) => !signed.has(name)).sort();
  if (notSigned.length > 0) {
    throw new S3AuthError('AccessDenied', 'There were headers present in the request which were not signed', {
      HeadersNotSigned: notSigned.join(', '),
    });
  }
}

function isValidPayloadHash(value: string): boolean {
  return (
    /^[0-9a-fA-F]{64}$/.test(value) ||
    value === UNSIGNED_PAYLOAD ||
    value === STREAMING_SIGNED_PAYLOAD ||
    value === STREAMING_SIGNED_PAYLOAD_TRAILER ||
    value === STREAMING_UNSIGNED_PAYLOAD_TRAILER
  );
}

/** The request time from x-amz-date (preferred) or Date, as the `YYYYMMDDTHHMMSSZ` that is signed. */
function headerRequestTime(headers: RequestHeaders): {
  timestamp: string;
  requestTime: Date;
  dateHeader: 'x-amz-date' | 'date';
} {
  const invalid = () =>
    new S3AuthError('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  const amzDate = headerValue(headers, 'x-amz-date');
  if (amzDate !== undefined) {
    const requestTime = parseAmzDate(amzDate.trim());
    if (!requestTime) throw invalid();
    return { timestamp: amzDate.trim(), requestTime, dateHeader: 'x-amz-date' };
  }
  const date = headerValue(headers, 'date');
  if (date === undefined) throw invalid();
  const millis = Date.parse(date);
  if (Number.isNaN(millis)) throw invalid();
  const requestTime = new Date(millis);
  return { timestamp: formatAmzDate(requestTime), requestTime, dateHeader: 'date' };
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const time = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Refuse dates that Date.UTC would roll over (20130231T...).
  if (
    time.getUTCMonth() !== month - 1 ||
    time.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return undefined;
  }
  return time;
}

// ---------------------------------------------------------------------------------------------
// Verification

/**
 * Verify the request's signature with the secret of `parsed.accessKeyId`; throws
 * SignatureDoesNotMatch (with S3's diagnostic details) when it does not match.
 */
export function verifySignature(
  parsed: ParsedSignature,
  secretAccessKey: string,
  request: SignedRequestInput,
): SigningContext {
  const scope = `${parsed.date}/${parsed.region}/${parsed.service}/${SIGV4_TERMINATOR}`;
  const signingKey = deriveSigningKey(
    secretAccessKey,
    parsed.accessKeyId,
    parsed.date,
    parsed.region,
    parsed.service,
  );
  const provided = Buffer.from(parsed.signature, 'hex');
  const canonicalRequests = canonicalRequestCandidates(parsed, request);
  let first: { canonicalRequest: string; stringToSign: string } | undefined;
  for (const canonicalRequest of canonicalRequests) {
    const stringToSign = buildStringToSign(parsed.timestamp, scope, canonicalRequest);
    const expected = signWith(signingKey, stringToSign);
    if (timingSafeEqual(expected, provided)) {
      return {
        accessKeyId: parsed.accessKeyId,
        signingKey,
        scope,
        timestamp: parsed.timestamp,
        seedSignature: parsed.signature,
      };
    }
    first ??= { canonicalRequest, stringToSign };
  }
  throw new S3AuthError('SignatureDoesNotMatch', undefined, {
    ...signatureDetails(parsed.accessKeyId, parsed.signature),
    StringToSign: first?.stringToSign ?? '',
    CanonicalRequest: first?.canonicalRequest ?? '',
  });
}

const signatureDetails = (accessKeyId: string, signature: string) => ({
  AWSAccessKeyId: accessKeyId,
  SignatureProvided: signature,
});

/**
 * The canonical request S3 would build, and — only when the client's encoding of the path or
 * query differs from AWS's (e.g. `%7E` for `~`, a raw `+`) — the one built from the bytes as
 * sent, which is what such a client signed. Both name the same resource, so accepting either
 * does not widen what a signature authorizes.
 */
export function canonicalRequestCandidates(parsed: ParsedSignature, request: SignedRequestInput): string[] {
  const excluded = parsed.kind === 'presigned' ? 'X-Amz-Signature' : undefined;
  const head = request.method.toUpperCase();
  const tail = `${canonicalHeaders(parsed.signedHeaders, request)}\n${parsed.signedHeaders.join(';')}\n${parsed.payloadHash}`;
  const build = (path: string, query: string) => `${head}\n${path}\n${query}\n${tail}`;
  const path = canonicalPath(request.rawPath);
  const query = canonicalQuery(request.rawQuery, excluded);
  const rawPath = rawPathOrSlash(request.rawPath);
  const rawQuery = rawCanonicalQuery(request.rawQuery, excluded);
  const normalized = build(path, query);
  return path === rawPath && query === rawQuery ? [normalized] : [normalized, build(rawPath, rawQuery)];
}

function canonicalHeaders(signedHeaders: readonly string[], request: SignedRequestInput): string {
  const values = request.rawHeaders ? signedValuesFromRaw(signedHeaders, request.rawHeaders) : undefined;
  let block = '';
  for (const name of signedHeaders) {
    const raw = values ? values.get(name) : joinedHeader(request.headers[name]);
    block += `${name}:${collapseSpaces(raw ?? '')}\n`;
  }
  return block;
}

/** The signed headers' values from `rawHeaders`, repeated ones joined with `,` as signers do. */
function signedValuesFromRaw(
  signedHeaders: readonly string[],
  rawHeaders: readonly string[],
): Map<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!signedHeaders.includes(name)) continue;
    const value = collapseSpaces(rawHeaders[i + 1]!);
    const earlier = values.get(name);
    values.set(name, earlier === undefined ? value : `${earlier},${value}`);
  }
  return values;
}

const joinedHeader = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.map((v) => v.trim()).join(',') : value;

export function headerValue(headers: RequestHeaders, name: string): string | undefined {
  return joinedHeader(headers[name]);
}

/** Each path segment decoded and encoded again the AWS way; `/` stays, `%2F` stays `%2F`. */
export function canonicalPath(rawPath: string): string {
  const path = rawPathOrSlash(rawPath);
  try {
    return path
      .split('/')
      .map((segment) => awsUriEncode(decodeURIComponent(segment)))
      .join('/');
  } catch {
    return path; // invalid %-encoding: only the bytes as sent can have been signed
  }
}

const rawPathOrSlash = (rawPath: string) => (rawPath === '' ? '/' : rawPath);

interface QueryParam {
  /** Decoded (`+` is a space, as S3 reads it). */
  name: string;
  value: string;
  rawName: string;
  rawValue: string;
}

function parseQuery(rawQuery: string): QueryParam[] {
  const params: QueryParam[] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    params.push({
      name: decodeQueryComponent(rawName),
      value: decodeQueryComponent(rawValue),
      rawName,
      rawValue,
    });
  }
  return params;
}

function decodeQueryComponent(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

const byNameThenValue = (a: [string, string], b: [string, string]) =>
  a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;

/** Parameters decoded, encoded again the AWS way, sorted by encoded name then value. */
export function canonicalQuery(rawQuery: string, excludedName?: string): string {
  return parseQuery(rawQuery)
    .filter((p) => p.name !== excludedName)
    .map((p): [string, string] => [awsUriEncode(p.name), awsUriEncode(p.value)])
    .sort(byNameThenValue)
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function rawCanonicalQuery(rawQuery: string, excludedName?: string): string {
  return parseQuery(rawQuery)
    .filter((p) => p.name !== excludedName)
    .map((p): [string, string] => [p.rawName, p.rawValue])
    .sort(byNameThenValue)
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}
