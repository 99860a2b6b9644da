/**
 * Put Blob, the hot call of migrations and bridge uploads into Azure, as one
 * `node:http(s)` request signed with the account's shared key (or carrying the
 * SAS of the container's URL). `@azure/storage-blob`'s pipeline cost 0.5 ms of
 * CPU per small blob, more than the copy around it; everything else stays on
 * the SDK (azure.ts), whose URL and credential this reuses.
 */
import type http from 'node:http';
import type { Readable } from 'node:stream';
import type { StorageSharedKeyCredential } from '@azure/storage-blob';
import { exchange, type HttpEndpoint, readErrorAnswer } from './http-exchange.ts';

/** The REST API version `@azure/storage-blob` 12.34 speaks (its SERVICE_VERSION). */
export const AZURE_API_VERSION = '2026-10-06';

export interface PutBlobOptions {
  contentType?: string;
  /** Names already Azure identifiers (azure-metadata.ts). */
  metadata?: Record<string, string>;
}

export interface PutBlobTarget {
  endpoint: HttpEndpoint;
  /** Undefined for a SAS, which travels in the blob's URL. */
  sharedKey?: StorageSharedKeyCredential;
}

/**
 * One Put Blob of `contentLength` bytes; Azure answers with the MD5 it computed over what it stored.
 * An error answer throws what the SDK's RestError carries (`code`, `statusCode`, `message`), for
 * the adapter's own mapping (azure.ts `azureErrorToStorageError`).
 */
export async function putBlob(
  target: PutBlobTarget,
  blobUrl: string,
  body: Readable | Buffer,
  contentLength: number,
  options: PutBlobOptions,
): Promise<{ etag?: string; contentMd5?: string }> {
  const url = new URL(blobUrl);
  const headers: Record<string, string> = {
    'content-length': String(contentLength),
    'x-ms-blob-type': 'BlockBlob',
    'x-ms-date': new Date().toUTCString(),
    'x-ms-version': AZURE_API_VERSION,
  };
  if (options.contentType !== undefined) headers['x-ms-blob-content-type'] = options.contentType;
  for (const [name, value] of Object.entries(options.metadata ?? {}))
    headers[`x-ms-meta-${name.toLowerCase()}`] = value;
  if (target.sharedKey) headers.authorization = sharedKeyAuthorization(target.sharedKey, url, headers);
  const request: http.RequestOptions = {
    method: 'PUT',
    hostname: url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    headers,
  };
  const response = await exchange(target.endpoint, request, body);
  if (response.statusCode === undefined || response.statusCode >= 300) {
    const { Code, Message } = await readErrorAnswer(response);
    const headerCode = response.headers['x-ms-error-code'];
    throw Object.assign(new Error(Message ?? `Azure answered ${response.statusCode}`), {
      code: typeof headerCode === 'string' ? headerCode : Code,
      statusCode: response.statusCode,
    });
  }
  response.resume();
  const { etag, 'content-md5': contentMd5 } = response.headers;
  return { etag, contentMd5: typeof contentMd5 === 'string' ? contentMd5 : undefined };
}

/**
 * Shared Key authorization of a request without query parameters, as
 * Azure's "Authorize with Shared Key" defines it (and the SDK's
 * StorageSharedKeyCredentialPolicy computes it).
 */
export function sharedKeyAuthorization(
  credential: StorageSharedKeyCredential,
  url: URL,
  headers: Record<string, string>,
): string {
  const length = headers['content-length'];
  const standardHeaders = [
    'PUT',
    '', // Content-Language
    '', // Content-Encoding
    length === '0' ? '' : (length ?? ''),
    '', // Content-MD5
    '', // Content-Type
    '', // Date (x-ms-date is signed instead)
    '', // If-Modified-Since
    '', // If-Match
    '', // If-None-Match
    '', // If-Unmodified-Since
    '', // Range
  ];
  const canonicalHeaders = Object.keys(headers)
    .filter((name) => name.startsWith('x-ms-'))
    .sort(byServiceHeaderOrder)
    .map((name) => `${name}:${headers[name]!.trimStart()}\n`)
    .join('');
  const canonicalResource = `/${credential.accountName}${url.pathname}`;
  const stringToSign = `${standardHeaders.join('\n')}\n${canonicalHeaders}${canonicalResource}`;
  return `SharedKey ${credential.accountName}:${credential.computeHMACSHA256(stringToSign)}`;
}

/**
 * The storage service sorts header names as .NET's en-US culture does:
 * hyphens do not count, and `_` comes before digits, digits before letters.
 * For the names signed here (lowercase letters, digits, `_` and `-`) that is
 * plain ordering once hyphens are dropped and `_` is ranked first.
 */
function byServiceHeaderOrder(left: string, right: string): number {
  const key = (name: string) => name.replaceAll('-', '').replaceAll('_', '!');
  const [a, b] = [key(left), key(right)];
  return a < b ? -1 : a > b ? 1 : 0;
}
