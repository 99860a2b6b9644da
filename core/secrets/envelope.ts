/**
 * Authenticated envelope encryption for stored credentials.
 *
 * Each secret gets its own random 256-bit data key, which encrypts the
 * plaintext with AES-256-GCM; the data key is itself encrypted ("wrapped")
 * with the active master key, also AES-256-GCM. Both layers are bound to a
 * context string (the AAD, e.g. `bucket:<id>:credentials`), so a sealed value
 * copied to another row does not open. Rotating the master key only re-wraps
 * the 32-byte data key (`rewrapSecret`); the ciphertext is untouched.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecretDecryptionError } from './errors.ts';
import { KEY_ID_PATTERN, type MasterKeyring } from './keyring.ts';

export const SEALED_SECRET_VERSION = 1;

/** A sealed secret as stored (e.g. in a jsonb column). Every binary field is standard base64. */
export interface SealedSecret {
  /** Format version. */
  readonly v: typeof SEALED_SECRET_VERSION;
  /** Id of the master key that wraps the data key. */
  readonly keyId: string;
  /** The data key, encrypted under the master key. */
  readonly wrappedKey: string;
  readonly wrapNonce: string;
  readonly wrapTag: string;
  /** The plaintext, encrypted under the data key. */
  readonly ciphertext: string;
  readonly nonce: string;
  readonly tag: string;
}

const ALGORITHM = 'aes-256-gcm';
const DATA_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Seals `plaintext` under the keyring's active master key, bound to the context `aad`. */
export function encryptSecret(keyring: MasterKeyring, plaintext: string, aad: string): SealedSecret {
  assertContext(aad);
  const dataKey = randomBytes(DATA_KEY_BYTES);
  try {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(ALGORITHM, dataKey, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(dataAad(aad));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return {
      v: SEALED_SECRET_VERSION,
      ...wrapDataKey(keyring, dataKey, aad),
      ciphertext: ciphertext.toString('base64'),
      nonce: nonce.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
    };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Opens a sealed secret. Throws `SecretDecryptionError` on any problem (malformed
 * value, unknown key id, tampering, wrong `aad`) and never returns partial plaintext.
 */
export function decryptSecret(keyring: MasterKeyring, sealed: SealedSecret, aad: string): string {
  assertContext(aad);
  const parsed = parseSealedSecret(sealed);
  const dataKey = unwrapDataKey(keyring, parsed, aad);
  try {
    const plaintext = openCiphertext(dataKey, parsed, aad);
    const text = plaintext.toString('utf8');
    plaintext.fill(0);
    return text;
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Re-wraps the data key under the active master key (cheap rotation): the
 * ciphertext stays as it is. The ciphertext is still authenticated first, so a
 * tampered value is refused rather than given a fresh wrapping.
 */
export function rewrapSecret(keyring: MasterKeyring, sealed: SealedSecret, aad: string): SealedSecret {
  assertContext(aad);
  const parsed = parseSealedSecret(sealed);
  const dataKey = unwrapDataKey(keyring, parsed, aad);
  try {
    openCiphertext(dataKey, parsed, aad).fill(0);
    return { ...parsed, ...wrapDataKey(keyring, dataKey, aad) };
  } finally {
    dataKey.fill(0);
  }
}

/** True when the secret is not wrapped by the active master key (a rotation left it behind). */
export function needsRewrap(keyring: MasterKeyring, sealed: SealedSecret): boolean {
  return sealed.keyId !== keyring.activeKeyId;
}

/**
 * Checks that a stored value (an object, or its JSON text) has the shape of a
 * sealed secret; throws `SecretDecryptionError` naming the first problem.
 */
export function parseSealedSecret(value: unknown): SealedSecret {
  const candidate = typeof value === 'string' ? parseJson(value) : value;
  if (typeof candidate !== 'object' || candidate === null) {
    throw new SecretDecryptionError('SECRET_MALFORMED', 'sealed secret is not an object');
  }
  const record = candidate as Record<string, unknown>;
  if (record.v !== SEALED_SECRET_VERSION) {
    throw new SecretDecryptionError(
      'SECRET_UNSUPPORTED_VERSION',
      `sealed secret has format version ${JSON.stringify(record.v)}; this build reads version ${SEALED_SECRET_VERSION}`,
    );
  }
  const keyId = record.keyId;
  if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) {
    throw new SecretDecryptionError('SECRET_MALFORMED', 'sealed secret has no valid keyId');
  }
  return {
    v: SEALED_SECRET_VERSION,
    keyId,
    wrappedKey: base64Field(record, 'wrappedKey', DATA_KEY_BYTES),
    wrapNonce: base64Field(record, 'wrapNonce', NONCE_BYTES),
    wrapTag: base64Field(record, 'wrapTag', TAG_BYTES),
    ciphertext: base64Field(record, 'ciphertext', undefined),
    nonce: base64Field(record, 'nonce', NONCE_BYTES),
    tag: base64Field(record, 'tag', TAG_BYTES),
  };
}

function wrapDataKey(
  keyring: MasterKeyring,
  dataKey: Buffer,
  aad: string,
): Pick<SealedSecret, 'keyId' | 'wrappedKey' | 'wrapNonce' | 'wrapTag'> {
  const keyId = keyring.activeKeyId;
  const masterKey = keyring.keyMaterial(keyId)!;
  const wrapNonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, masterKey, wrapNonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(wrapAad(keyId, aad));
  const wrappedKey = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  return {
    keyId,
    wrappedKey: wrappedKey.toString('base64'),
    wrapNonce: wrapNonce.toString('base64'),
    wrapTag: cipher.getAuthTag().toString('base64'),
  };
}

function unwrapDataKey(keyring: MasterKeyring, sealed: SealedSecret, aad: string): Buffer {
  const masterKey = keyring.keyMaterial(sealed.keyId);
  if (!masterKey) {
    throw new SecretDecryptionError(
      'SECRET_UNKNOWN_KEY',
      `secret is sealed under master key "${sealed.keyId}", which is not in the keyring (keys: ${keyring.keyIds.join(', ')}); add that key back as an older key`,
    );
  }
  const decipher = createDecipheriv(ALGORITHM, masterKey, Buffer.from(sealed.wrapNonce, 'base64'), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(wrapAad(sealed.keyId, aad));
  decipher.setAuthTag(Buffer.from(sealed.wrapTag, 'base64'));
  return finish(
    decipher,
    Buffer.from(sealed.wrappedKey, 'base64'),
    `the data key failed authentication under master key "${sealed.keyId}": the value was tampered with, is read with the wrong context, or the key material for that id changed`,
  );
}

function openCiphertext(dataKey: Buffer, sealed: SealedSecret, aad: string): Buffer {
  const decipher = createDecipheriv(ALGORITHM, dataKey, Buffer.from(sealed.nonce, 'base64'), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(dataAad(aad));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  return finish(
    decipher,
    Buffer.from(sealed.ciphertext, 'base64'),
    'the ciphertext failed authentication: the value was tampered with or is read with the wrong context',
  );
}

/** GCM only authenticates in final(): the output is discarded unless it succeeds. */
function finish(decipher: ReturnType<typeof createDecipheriv>, input: Buffer, failure: string): Buffer {
  const output = decipher.update(input);
  try {
    return Buffer.concat([output, decipher.final()]);
  } catch {
    throw new SecretDecryptionError('SECRET_AUTHENTICATION_FAILED', failure);
  } finally {
    output.fill(0);
  }
}

// Domain separation: the two layers never share an AAD, and the wrapping also commits to the key id.
function dataAad(aad: string): Buffer {
  return Buffer.from(`skybridge-secret/v1/data\0${aad}`, 'utf8');
}

function wrapAad(keyId: string, aad: string): Buffer {
  return Buffer.from(`skybridge-secret/v1/key\0${keyId}\0${aad}`, 'utf8');
}

function assertContext(aad: string): void {
  if (typeof aad !== 'string' || aad === '') {
    throw new TypeError('a secret needs a non-empty context (aad), e.g. `bucket:<id>:credentials`');
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SecretDecryptionError('SECRET_MALFORMED', 'sealed secret is not valid JSON');
  }
}

/** Canonical base64 only: a re-encoded value must match, so no two spellings open the same bytes. */
function base64Field(
  record: Record<string, unknown>,
  field: string,
  expectedBytes: number | undefined,
): string {
  const value = record[field];
  if (typeof value !== 'string' || Buffer.from(value, 'base64').toString('base64') !== value) {
    throw new SecretDecryptionError('SECRET_MALFORMED', `sealed secret field ${field} is not valid base64`);
  }
  const length = Buffer.byteLength(value, 'base64');
  if (expectedBytes !== undefined && length !== expectedBytes) {
    throw new SecretDecryptionError(
      'SECRET_MALFORMED',
      `sealed secret field ${field} is ${length} bytes; expected ${expectedBytes}`,
    );
  }
  return value;
}
