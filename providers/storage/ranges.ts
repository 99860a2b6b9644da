/** Byte ranges, shared by the adapters. */
import { type ByteRange, StorageError } from './object-store.ts';

export function assertValidRange(range: ByteRange): void {
  const validStart = Number.isSafeInteger(range.start) && range.start >= 0;
  const validEnd = range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start);
  if (!validStart || !validEnd)
    throw new StorageError('Invalid', `invalid byte range ${range.start}-${range.end ?? ''}`);
}

/** The HTTP `Range` header value (`bytes=0-99`, `bytes=100-`). */
export function httpRangeHeader(range: ByteRange): string {
  return `bytes=${range.start}-${range.end ?? ''}`;
}

/** The whole object's size from a `Content-Range: bytes 0-99/1234` answer. */
export function totalSizeFromContentRange(contentRange: string | undefined): number | undefined {
  const total = contentRange?.match(/\/(\d+)\s*$/)?.[1];
  return total === undefined ? undefined : Number(total);
}

/** ETags in their HTTP form (quoted), whatever the vendor's API returned. */
export function quotedEtag(etag: string | undefined): string | undefined {
  if (etag === undefined || etag === '') return undefined;
  return etag.startsWith('"') || etag.startsWith('W/"') ? etag : `"${etag}"`;
}
