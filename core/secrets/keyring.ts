/**
 * Master keys for envelope encryption: one active key that seals new secrets,
 * and older keys kept only to open (and re-wrap) what they sealed before a
 * rotation. Written as `id:base64key` entries, active first, separated by
 * commas or newlines (`#` starts a comment, for key files). An entry without
 * `id:` gets a derived id: the first 8 hex characters of SHA-256 of the key,
 * so `openssl rand -base64 32` output can be used as is.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { MasterKeyringError } from './errors.ts';

export const MASTER_KEY_BYTES = 32;
/** Key ids are stored in every sealed secret: short, printable, no separators of the keyring format. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]+|[A-Za-z0-9_-]+)={0,2}$/;

export interface MasterKeyEntry {
  readonly id: string;
  readonly key: Uint8Array;
}

export class MasterKeyring {
  readonly activeKeyId: string;
  // Private so that neither JSON.stringify nor util.inspect can reach the key material.
  readonly #keys: Map<string, Buffer>;

  /** The first entry is the active key. Keys are copied: the caller may wipe its buffers. */
  constructor(entries: readonly MasterKeyEntry[]) {
    const [active] = entries;
    if (!active) throw new MasterKeyringError('the master keyring needs at least one key');
    this.#keys = new Map();
    for (const { id, key } of entries) {
      if (!KEY_ID_PATTERN.test(id)) {
        throw new MasterKeyringError(
          `master key id "${id}" is not valid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
        );
      }
      if (this.#keys.has(id)) throw new MasterKeyringError(`master key id "${id}" appears more than once`);
      if (key.length !== MASTER_KEY_BYTES) {
        throw new MasterKeyringError(
          `master key "${id}" is ${key.length} bytes; a master key must be exactly ${MASTER_KEY_BYTES} bytes`,
        );
      }
      this.#keys.set(id, Buffer.from(key));
    }
    this.activeKeyId = active.id;
  }

  /** Every key id, active first. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  has(keyId: string): boolean {
    return this.#keys.has(keyId);
  }

  /** The key material for one id; only the envelope code should need this. */
  keyMaterial(keyId: string): Buffer | undefined {
    return this.#keys.get(keyId);
  }

  toJSON(): { activeKeyId: string; keyIds: string[] } {
    return { activeKeyId: this.activeKeyId, keyIds: this.keyIds };
  }

  [inspect.custom](): string {
    return `MasterKeyring { activeKeyId: '${this.activeKeyId}', keyIds: [${this.keyIds.map((id) => `'${id}'`).join(', ')}] }`;
  }
}

/** The id given to a key written without one: 8 hex characters of its SHA-256. */
export function deriveMasterKeyId(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** A fresh random master key, ready to be written as `${id}:${keyBase64}`. */
export function generateMasterKey(): { id: string; keyBase64: string } {
  const key = randomBytes(MASTER_KEY_BYTES);
  return { id: deriveMasterKeyId(key), keyBase64: key.toString('base64') };
}

/**
 * Parses `id1:base64key,id2:base64key` (active first). `source` names where the
 * text came from (a variable or file name) in error messages, which never echo key material.
 */
export function parseMasterKeyring(text: string, source = 'master keyring'): MasterKeyring {
  const entries = text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, ''))
    .flatMap((line) => line.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new MasterKeyringError(`${source}: no master key given`);
  const parsed = entries.map((entry, index) => parseEntry(entry, `${source}, key ${index + 1}`));
  try {
    return new MasterKeyring(parsed);
  } catch (error) {
    throw error instanceof MasterKeyringError ? new MasterKeyringError(`${source}: ${error.message}`) : error;
  }
}

/** Reads a key file holding the same format as `parseMasterKeyring` (one entry per line is fine). */
export async function readMasterKeyringFile(filePath: string): Promise<MasterKeyring> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new MasterKeyringError(`master key file ${filePath} cannot be read (${reason})`);
  }
  return parseMasterKeyring(text, `master key file ${filePath}`);
}

function parseEntry(entry: string, where: string): MasterKeyEntry {
  const separator = entry.indexOf(':');
  const explicitId = separator === -1 ? undefined : entry.slice(0, separator).trim();
  const encoded = separator === -1 ? entry : entry.slice(separator + 1).trim();
  const label = explicitId === undefined ? where : `${where} (id "${explicitId}")`;
  if (explicitId !== undefined && !KEY_ID_PATTERN.test(explicitId)) {
    throw new MasterKeyringError(
      `${where}: key id "${explicitId}" is not valid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  if (encoded === '') throw new MasterKeyringError(`${label}: the key is empty`);
  if (!BASE64_PATTERN.test(encoded) || encoded.replace(/=+$/, '').length % 4 === 1) {
    throw new MasterKeyringError(`${label}: the key is not valid base64`);
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length !== MASTER_KEY_BYTES) {
    throw new MasterKeyringError(
      `${label}: the key decodes to ${key.length} bytes; a master key must be exactly ${MASTER_KEY_BYTES} bytes (44 base64 characters, e.g. from \`openssl rand -base64 32\`)`,
    );
  }
  return { id: explicitId ?? deriveMasterKeyId(key), key };
}
