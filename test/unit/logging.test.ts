import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logging.ts';

function captureLogs(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, stream };
}

describe('logging', () => {
  it('redacts secret fields wherever they appear', () => {
    const { lines, stream } = captureLogs();
    const logger = createLogger({ level: 'info', component: 'test', destination: stream });
    logger.info(
      {
        password: 'hunter2-top',
        user: { email: 'a@b.c', passwordHash: 'scrypt$hash-value' },
        bucket: { credentials: { secretAccessKey: 'AKIA-SECRET-VALUE' } },
        req: { headers: { authorization: 'Bearer eyJ-token-value', 'x-api-key': 'sk-live-value' } },
        config: { apiSecret: 'provider-secret-value', apiKey: 'provider-key-value' },
      },
      'something happened',
    );
    const output = lines.join('');
    for (const secret of [
      'hunter2-top',
      'scrypt$hash-value',
      'AKIA-SECRET-VALUE',
      'eyJ-token-value',
      'sk-live-value',
      'provider-secret-value',
      'provider-key-value',
    ]) {
      expect(output).not.toContain(secret);
    }
    expect(output).toContain('[REDACTED]');
    expect(output).toContain('a@b.c');
    expect(JSON.parse(output).component).toBe('test');
  });
});
