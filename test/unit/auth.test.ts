import { describe, expect, it } from 'vitest';
import { generatePassword, hashPassword, verifyPassword } from '../../core/auth/passwords.ts';
import { createTokenSigner } from '../../core/auth/tokens.ts';

describe('passwords', () => {
  it('verifies the right password and rejects a wrong one', async () => {
    const password = generatePassword();
    const stored = await hashPassword(password);
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(stored).not.toContain(password);
    expect(await verifyPassword(password, stored)).toBe(true);
    expect(await verifyPassword(`${password}x`, stored)).toBe(false);
  });

  it('salts: the same password hashes differently', async () => {
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
  });

  it('rejects a malformed stored hash instead of throwing', async () => {
    expect(await verifyPassword('x', 'not-a-hash')).toBe(false);
  });
});

describe('session tokens', () => {
  const secret = 'a'.repeat(64);

  it('round-trips the user id', async () => {
    const signer = createTokenSigner(secret, 60);
    const { token, expiresAt } = await signer.issue({ userId: 'u-1' });
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(await signer.verify(token)).toEqual({ userId: 'u-1' });
  });

  it('refuses a token signed with another secret, a tampered one and an expired one', async () => {
    const { token } = await createTokenSigner('b'.repeat(64), 60).issue({ userId: 'u-1' });
    await expect(createTokenSigner(secret, 60).verify(token)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    const good = (await createTokenSigner(secret, 60).issue({ userId: 'u-1' })).token;
    const tampered = `${good.slice(0, -2)}${good.endsWith('A') ? 'B' : 'A'}A`;
    await expect(createTokenSigner(secret, 60).verify(tampered)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    const expired = (await createTokenSigner(secret, -10).issue({ userId: 'u-1' })).token;
    await expect(createTokenSigner(secret, 60).verify(expired)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });
});
