import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  decryptSecret,
  encryptSecret,
  needsRewrap,
  parseSealedSecret,
  rewrapSecret,
  type SealedSecret,
} from '../../core/secrets/envelope.ts';
import { SecretDecryptionError } from '../../core/secrets/errors.ts';
import {
  deriveMasterKeyId,
  generateMasterKey,
  MasterKeyring,
  parseMasterKeyring,
  readMasterKeyringFile,
} from '../../core/secrets/keyring.ts';
import { REDACTED, redact } from '../../core/secrets/redact.ts';

const keyA = generateMasterKey();
const keyB = generateMasterKey();
const entryA = `${keyA.id}:${keyA.keyBase64}`;
const entryB = `${keyB.id}:${keyB.keyBase64}`;
const context = 'bucket:7f3a:credentials';
const plaintext = '{"accessKeyId":"AKIA…","secretAccessKey":"wJalrXUtnFEMI/K7MDENG"} ✓';

describe('master keyring', () => {
  it('parses id:base64 entries, the first being active', () => {
    const keyring = parseMasterKeyring(` ${entryB} , ${entryA} `);
    expect(keyring.activeKeyId).toBe(keyB.id);
    expect(keyring.keyIds).toEqual([keyB.id, keyA.id]);
  });

  it('derives the id of an entry written without one from SHA-256 of the key', () => {
    const keyring = parseMasterKeyring(keyA.keyBase64);
    expect(keyring.activeKeyId).toBe(keyA.id);
    expect(keyA.id).toBe(deriveMasterKeyId(Buffer.from(keyA.keyBase64, 'base64')));
    expect(keyA.id).toMatch(/^[0-9a-f]{8}$/);
  });

  it('reads a key file with one entry per line and comments', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'skybridge-keys-'));
    try {
      const file = path.join(dir, 'master.keys');
      await writeFile(file, `# active\n${entryB}\n\n# retired 2025-01\n${entryA}\n`);
      const keyring = await readMasterKeyringFile(file);
      expect(keyring.keyIds).toEqual([keyB.id, keyA.id]);
      await expect(readMasterKeyringFile(path.join(dir, 'missing'))).rejects.toThrow(
        /cannot be read \(ENOENT\)/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['nothing', '', /no master key given/],
    ['an empty key', 'k1:', /k1.*the key is empty/],
    ['bad base64', 'k1:not*base64!', /key 1 \(id "k1"\): the key is not valid base64/],
    [
      'a 16-byte key',
      `k1:${Buffer.alloc(16).toString('base64')}`,
      /decodes to 16 bytes; a master key must be exactly 32 bytes/,
    ],
    [
      'a 33-byte second key',
      `${entryA},k2:${Buffer.alloc(33).toString('base64')}`,
      /key 2 \(id "k2"\): the key decodes to 33 bytes/,
    ],
    ['a bad id', `bad id:${keyA.keyBase64}`, /key id "bad id" is not valid/],
    ['a duplicate id', `same:${keyA.keyBase64},same:${keyB.keyBase64}`, /"same" appears more than once/],
  ])('names the problem: %s', (_label, text, message) => {
    expect(() => parseMasterKeyring(text, 'SKYBRIDGE_MASTER_KEYS')).toThrow(message);
    expect(() => parseMasterKeyring(text, 'SKYBRIDGE_MASTER_KEYS')).toThrow(/^SKYBRIDGE_MASTER_KEYS/);
  });

  it('never echoes key material in errors, JSON or inspect output', () => {
    const short = Buffer.alloc(16, 7).toString('base64');
    try {
      parseMasterKeyring(`k1:${short}`);
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain(short);
      expect(error).toMatchObject({ code: 'MASTER_KEYRING_INVALID' });
    }
    const keyring = parseMasterKeyring(`${entryA},${entryB}`);
    for (const shown of [JSON.stringify(keyring), inspect(keyring, { showHidden: true, depth: 5 })]) {
      expect(shown).toContain(keyA.id);
      expect(shown).not.toContain(keyA.keyBase64);
      expect(shown).not.toContain(keyB.keyBase64);
    }
  });

  it('copies keys: wiping the caller buffer does not change the keyring', () => {
    const key = Buffer.from(keyA.keyBase64, 'base64');
    const keyring = new MasterKeyring([{ id: 'a', key }]);
    const sealed = encryptSecret(keyring, 'x', context);
    key.fill(0);
    expect(decryptSecret(keyring, sealed, context)).toBe('x');
  });
});

describe('envelope encryption', () => {
  const keyringA = parseMasterKeyring(entryA);

  it('round-trips, including empty and non-ASCII plaintext', () => {
    for (const text of [plaintext, '', 'é'.repeat(10_000)]) {
      const sealed = encryptSecret(keyringA, text, context);
      expect(decryptSecret(keyringA, sealed, context)).toBe(text);
    }
  });

  it('produces a JSON-serialisable value without the plaintext, that survives a round trip through JSON', () => {
    const sealed = encryptSecret(keyringA, plaintext, context);
    const stored = JSON.stringify(sealed);
    expect(stored).not.toContain('wJalrXUtnFEMI');
    expect(Object.keys(sealed).sort()).toEqual(
      ['ciphertext', 'keyId', 'nonce', 'tag', 'v', 'wrapNonce', 'wrapTag', 'wrappedKey'].sort(),
    );
    expect(sealed).toMatchObject({ v: 1, keyId: keyA.id });
    expect(decryptSecret(keyringA, parseSealedSecret(stored), context)).toBe(plaintext);
    expect(decryptSecret(keyringA, JSON.parse(stored), context)).toBe(plaintext);
  });

  it('seals the same plaintext differently every time', () => {
    const first = encryptSecret(keyringA, plaintext, context);
    const second = encryptSecret(keyringA, plaintext, context);
    expect(second.ciphertext).not.toBe(first.ciphertext);
    expect(second.nonce).not.toBe(first.nonce);
    expect(second.wrappedKey).not.toBe(first.wrappedKey);
    expect(second.wrapNonce).not.toBe(first.wrapNonce);
  });

  it('refuses the wrong context: a value moved to another row does not open', () => {
    const sealed = encryptSecret(keyringA, plaintext, context);
    expectDecryptionError(() => decryptSecret(keyringA, sealed, 'bucket:other:credentials'), {
      code: 'SECRET_AUTHENTICATION_FAILED',
    });
    expect(() => decryptSecret(keyringA, sealed, '')).toThrow(TypeError);
  });

  const binaryFields = ['wrappedKey', 'wrapNonce', 'wrapTag', 'ciphertext', 'nonce', 'tag'] as const;

  it.each(binaryFields)('refuses a value with one bit flipped in %s', (field) => {
    const sealed = encryptSecret(keyringA, plaintext, context);
    const bytes = Buffer.from(sealed[field], 'base64');
    for (const bit of [0, bytes.length * 8 - 1, Math.floor(bytes.length * 4)]) {
      const flipped = Buffer.from(bytes);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      const tampered = { ...sealed, [field]: flipped.toString('base64') };
      expectDecryptionError(() => decryptSecret(keyringA, tampered, context), {
        code: 'SECRET_AUTHENTICATION_FAILED',
      });
      expectDecryptionError(() => rewrapSecret(keyringA, tampered, context), {
        code: 'SECRET_AUTHENTICATION_FAILED',
      });
    }
  });

  it('refuses a changed key id, version or malformed field, naming the problem', () => {
    const sealed = encryptSecret(keyringA, plaintext, context);
    const otherId = `${keyA.id.slice(0, -1)}${keyA.id.endsWith('0') ? '1' : '0'}`;
    expectDecryptionError(() => decryptSecret(keyringA, { ...sealed, keyId: otherId }, context), {
      code: 'SECRET_UNKNOWN_KEY',
      message: new RegExp(`master key "${otherId}", which is not in the keyring \\(keys: ${keyA.id}\\)`),
    });
    expectDecryptionError(
      () => decryptSecret(keyringA, { ...sealed, v: 2 } as unknown as SealedSecret, context),
      {
        code: 'SECRET_UNSUPPORTED_VERSION',
      },
    );
    // A non-canonical spelling of the same tag bytes (unused low bits set) is refused: a value has one spelling.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const nonCanonicalTag = `${sealed.tag.slice(0, 21)}${alphabet[alphabet.indexOf(sealed.tag[21]!) ^ 1]}==`;
    expect(Buffer.from(nonCanonicalTag, 'base64')).toEqual(Buffer.from(sealed.tag, 'base64'));
    for (const [patch, message] of [
      [{ tag: sealed.tag.slice(4) }, /tag is 13 bytes; expected 16/],
      [{ nonce: 'not base64!' }, /nonce is not valid base64/],
      [{ wrappedKey: undefined }, /wrappedKey is not valid base64/],
      [{ tag: nonCanonicalTag }, /tag is not valid base64/],
    ] as const) {
      expectDecryptionError(
        () => decryptSecret(keyringA, { ...sealed, ...patch } as unknown as SealedSecret, context),
        { code: 'SECRET_MALFORMED', message },
      );
    }
    expectDecryptionError(() => parseSealedSecret('{not json'), { code: 'SECRET_MALFORMED' });
    expectDecryptionError(() => parseSealedSecret(null), { code: 'SECRET_MALFORMED' });
  });

  it('refuses a value sealed under different key material with the same id', () => {
    const sealed = encryptSecret(parseMasterKeyring(`same:${keyA.keyBase64}`), plaintext, context);
    expectDecryptionError(
      () => decryptSecret(parseMasterKeyring(`same:${keyB.keyBase64}`), sealed, context),
      {
        code: 'SECRET_AUTHENTICATION_FAILED',
        message: /master key "same"/,
      },
    );
  });
});

describe('master key rotation', () => {
  it('opens old values with an older key, re-wraps them under the active key, then needs only the new key', () => {
    const sealedUnderA = encryptSecret(parseMasterKeyring(entryA), plaintext, context);
    const rotated = parseMasterKeyring(`${entryB},${entryA}`);
    expect(needsRewrap(rotated, sealedUnderA)).toBe(true);
    expect(decryptSecret(rotated, sealedUnderA, context)).toBe(plaintext);

    const sealedUnderB = rewrapSecret(rotated, sealedUnderA, context);
    expect(sealedUnderB.keyId).toBe(keyB.id);
    expect(needsRewrap(rotated, sealedUnderB)).toBe(false);
    // Only the data key is re-wrapped: the ciphertext is untouched.
    expect(sealedUnderB.ciphertext).toBe(sealedUnderA.ciphertext);
    expect(sealedUnderB.wrappedKey).not.toBe(sealedUnderA.wrappedKey);

    const onlyB = parseMasterKeyring(entryB);
    expect(decryptSecret(onlyB, sealedUnderB, context)).toBe(plaintext);
    expectDecryptionError(() => decryptSecret(onlyB, sealedUnderA, context), { code: 'SECRET_UNKNOWN_KEY' });
  });

  it('refuses to re-wrap under the wrong context', () => {
    const sealed = encryptSecret(parseMasterKeyring(entryA), plaintext, context);
    expectDecryptionError(
      () => rewrapSecret(parseMasterKeyring(`${entryB},${entryA}`), sealed, 'bucket:other:credentials'),
      { code: 'SECRET_AUTHENTICATION_FAILED' },
    );
  });
});

describe('redact', () => {
  it('says whether a secret is set without showing it', () => {
    expect(redact('sk-live-123')).toBe(REDACTED);
    expect(redact('')).toBe('(not set)');
    expect(redact(undefined)).toBe('(not set)');
  });
});

function expectDecryptionError(
  action: () => unknown,
  expected: { code: string | RegExp; message?: RegExp },
): void {
  let thrown: unknown;
  let result: unknown;
  try {
    result = action();
  } catch (error) {
    thrown = error;
  }
  expect(result).toBeUndefined();
  expect(thrown).toBeInstanceOf(SecretDecryptionError);
  const error = thrown as SecretDecryptionError;
  expect(error.code).toMatch(expected.code);
  if (expected.message) expect(error.message).toMatch(expected.message);
  expect(error.message).not.toContain('wJalrXUtnFEMI');
}
