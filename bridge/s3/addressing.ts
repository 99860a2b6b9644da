/**
 * Which bucket and key a request addresses: path-style (`/bucket/key`) or
 * virtual-host style (`bucket.<suffix>/key`) when a suffix is configured.
 */
import { reservedKeyPrefix } from '../../providers/storage/object-store.ts';
import { S3Error } from './errors.ts';

export interface S3Target {
  bucket?: string;
  key?: string;
}

const MAX_KEY_BYTES = 1024;

export function resolveTarget(
  host: string | undefined,
  rawPath: string,
  virtualHostSuffix?: string,
): S3Target {
  const hostname = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  if (virtualHostSuffix && hostname.endsWith(`.${virtualHostSuffix}`)) {
    const bucket = hostname.slice(0, -(virtualHostSuffix.length + 1));
    return { bucket, key: path === '' ? undefined : decodeKey(path) };
  }
  if (path === '') return {};
  const slash = path.indexOf('/');
  if (slash === -1) return { bucket: decodeSegment(path) };
  const key = path.slice(slash + 1);
  return { bucket: decodeSegment(path.slice(0, slash)), key: key === '' ? undefined : decodeKey(key) };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new S3Error('InvalidRequest', 'The request path is not valid percent-encoding');
  }
}

/** Keys are literal, but a key that could climb out of a prefix on a file-backed store is refused. */
export function decodeKey(raw: string): string {
  const key = decodeSegment(raw);
  if (key.includes('\0'))
    throw new S3Error('InvalidObjectName', 'Object keys must not contain NUL characters');
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw new S3Error('InvalidObjectName', 'Object keys must not contain "." or ".." path segments');
  }
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', 'Your key is too long');
  if (key.startsWith(reservedKeyPrefix))
    throw new S3Error(
      'InvalidObjectName',
      `Object keys under "${reservedKeyPrefix}" are reserved for Skybridge`,
    );
  return key;
}
