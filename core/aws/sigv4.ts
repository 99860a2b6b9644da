/**
 * The parts of AWS Signature Version 4 that checking a signature (the S3 bridge,
 * bridge/s3/auth/sigv4.ts) and making one (the storage adapters' own S3 requests,
 * providers/storage/s3-http.ts) share: signing keys, the string to sign, the
 * HMAC, AWS's URI encoding, and a signer for requests whose headers we build.
 */
import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const SIGV4_TERMINATOR = 'aws4_request';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const hmac = (key: KeyObject | Buffer | string, data: string): Buffer =>
  createHmac('sha256', key).update(data, 'utf8').digest();
export const sha256Hex = (data: string | Uint8Array): string => hash('sha256', data, 'hex');

export function buildStringToSign(timestamp: string, scope: string, canonicalRequest: string): string {
  return `${SIGV4_ALGORITHM}\n${timestamp}\n${scope}\n${sha256Hex(canonicalRequest)}`;
}

/** `YYYYMMDDTHHMMSSZ` */
export function formatAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** A header value as SigV4 signs it: trimmed, each run of whitespace as one space (not rebuilt when already so). */
export const collapseSpaces = (value: string): string => {
  const trimmed = value.trim();
  return /[^\S ]|\s\s/.test(trimmed) ? trimmed.replace(/\s+/g, ' ') : trimmed;
};

/** AWS's URI encoding: everything but `A-Za-z0-9-._~` as `%XX` (upper-case hex) of its UTF-8 bytes. */
export function awsUriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Node prepares a raw Buffer key again on every createHmac (several times the cost of the HMAC
 * of a string to sign); a KeyObject is prepared once. Keyed by the signing key's Buffer, which
 * the cache below hands out again and again.
 */
const signingKeyObjects = new WeakMap<Buffer, KeyObject>();

function keyObjectOf(signingKey: Buffer): KeyObject {
  let keyObject = signingKeyObjects.get(signingKey);
  if (!keyObject) {
    keyObject = createSecretKey(signingKey);
    signingKeyObjects.set(signingKey, keyObject);
  }
  return keyObject;
}

interface CachedKey {
  secret: string;
  signingKey: Buffer;
}

/** Small LRU: a Map keeps insertion order, so re-inserting on hit makes the first key the oldest. */
const SIGNING_KEY_CACHE_SIZE = 256;
const signingKeyCache = new Map<string, CachedKey>();

/**
 * HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"), cached per
 * access key, date, region and service. The secret is kept with the entry and compared on each
 * hit, so a key whose secret changed is derived again rather than served stale. (A plain
 * comparison: both secrets are the server's own, nothing a client sends.)
 */
export function deriveSigningKey(
  secretAccessKey: string,
  accessKeyId: string,
  date: string,
  region: string,
  service = 's3',
): Buffer {
  const cacheKey = `${accessKeyId}\n${date}\n${region}\n${service}`;
  const cached = signingKeyCache.get(cacheKey);
  if (cached && cached.secret === secretAccessKey) {
    signingKeyCache.delete(cacheKey);
    signingKeyCache.set(cacheKey, cached);
    return cached.signingKey;
  }
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service),
    SIGV4_TERMINATOR,
  );
  signingKeyCache.delete(cacheKey);
  signingKeyCache.set(cacheKey, { secret: secretAccessKey, signingKey });
  if (signingKeyCache.size > SIGNING_KEY_CACHE_SIZE) {
    const oldest = signingKeyCache.keys().next().value;
    if (oldest !== undefined) signingKeyCache.delete(oldest);
  }
  return signingKey;
}

/** For tests: the number of cached signing keys. */
export const signingKeyCacheSize = (): number => signingKeyCache.size;

/** HMAC-SHA256 of a string to sign with a signing key. */
export const signWith = (signingKey: Buffer, stringToSign: string): Buffer =>
  hmac(keyObjectOf(signingKey), stringToSign);

/** HMAC-SHA256 of a string to sign with a signing key, as lower-case hex. */
export const signHex = (signingKey: Buffer, stringToSign: string): string =>
  signWith(signingKey, stringToSign).toString('hex');

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface RequestToSign {
  method: string;
  /** The path exactly as it is sent: already URI-encoded, not encoded again (S3's rule). */
  path: string;
  /** Lower-case names; every header given is signed. `host` and `x-amz-content-sha256` are required. */
  headers: Record<string, string>;
  region: string;
  service?: string;
  credentials: SigV4Credentials;
  now?: Date;
}

/**
 * Header-signs a request without a query string: returns its headers with `x-amz-date`,
 * `x-amz-security-token` (temporary credentials) and `authorization` added.
 */
export function signRequestHeaders(request: RequestToSign): Record<string, string> {
  const { credentials, region, service = 's3' } = request;
  const timestamp = formatAmzDate(request.now ?? new Date());
  const date = timestamp.slice(0, 8);
  const headers: Record<string, string> = { ...request.headers, 'x-amz-date': timestamp };
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  let canonicalHeaders = '';
  for (const name of names) canonicalHeaders += `${name}:${collapseSpaces(headers[name]!)}\n`;
  const signedHeaders = names.join(';');
  const payloadHash = headers['x-amz-content-sha256'] ?? EMPTY_SHA256;
  const canonicalRequest = `${request.method}\n${request.path}\n\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
  const scope = `${date}/${region}/${service}/${SIGV4_TERMINATOR}`;
  const signingKey = deriveSigningKey(
    credentials.secretAccessKey,
    credentials.accessKeyId,
    date,
    region,
    service,
  );
  const signature = signHex(signingKey, buildStringToSign(timestamp, scope, canonicalRequest));
  headers.authorization = `${SIGV4_ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
