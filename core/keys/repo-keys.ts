/**
 * Repository keys. Storage keys look like AWS's (a 20-character access key id
 * and a 40-character secret) so every S3 client accepts them; the secret is
 * sealed, not hashed, because SigV4 verification needs it. AI keys are bearer
 * tokens, stored as a SHA-256 hash with a short public prefix for lookup.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { decryptSecret, encryptSecret, parseSealedSecret, type SealedSecret } from '../secrets/envelope.ts';
import type { MasterKeyring } from '../secrets/keyring.ts';

const UPPER_ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomFrom(alphabet: string, length: number): string {
  const bytes = randomBytes(length);
  // 32 symbols divide 256 evenly: no modulo bias.
  return Array.from(bytes, (byte) => alphabet[byte % alphabet.length]).join('');
}

export function newStorageKeyPair(): { accessKeyId: string; secretAccessKey: string } {
  return {
    accessKeyId: `SKB${randomFrom(UPPER_ALPHANUMERIC, 17)}`,
    secretAccessKey: randomBytes(30).toString('base64'),
  };
}

const storageKeyContext = (accessKeyId: string) => `storage-key:${accessKeyId}:secret`;

export function sealStorageKeySecret(
  keyring: MasterKeyring,
  accessKeyId: string,
  secret: string,
): SealedSecret {
  return encryptSecret(keyring, secret, storageKeyContext(accessKeyId));
}

export function openStorageKeySecret(keyring: MasterKeyring, accessKeyId: string, sealed: unknown): string {
  return decryptSecret(keyring, parseSealedSecret(sealed), storageKeyContext(accessKeyId));
}

export const AI_KEY_PREFIX_LENGTH = 16;

/** `sbk_` + 12 public characters, then a dot and 43 secret characters (256 bits). */
export function newAiKey(): { key: string; prefix: string; secretHash: string } {
  const prefix = `sbk_${randomBytes(9).toString('base64url')}`;
  const key = `${prefix}.${randomBytes(32).toString('base64url')}`;
  return { key, prefix, secretHash: hashAiKey(key) };
}

export function hashAiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function aiKeyPrefixOf(key: string): string | undefined {
  const prefix = key.slice(0, AI_KEY_PREFIX_LENGTH);
  return /^sbk_[\w-]{12}$/.test(prefix) && key[AI_KEY_PREFIX_LENGTH] === '.' ? prefix : undefined;
}

/** Constant-time comparison of a presented key with a stored hash. */
export function aiKeyMatches(key: string, secretHash: string): boolean {
  const presented = Buffer.from(hashAiKey(key), 'hex');
  const stored = Buffer.from(secretHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
