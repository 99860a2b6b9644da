/**
 * Secrets stay secret: after a session that creates every kind of secret,
 * no plaintext appears in any database row, in any GET answer, or in the logs.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, services, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration, uniqueBucketName } from '../helpers/emulator-buckets.ts';

describe('secrets never leak', () => {
  let stack: TestStack;
  const logLines: string[] = [];
  const secrets: string[] = [];
  let token: string;
  let repoId: string;

  beforeAll(async () => {
    const destination = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    stack = await startTestStack({ logDestination: destination });
    const password = 'correct horse battery staple';
    const signup = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: { email: 'leaks@example.test', password, organizationName: 'Leak test' },
    });
    token = signup.body.token;
    secrets.push(password, token, stack.admin.password);
    const call = (method: string, path: string, body?: unknown) =>
      api(stack.baseUrl, method, path, { token, body });
    const { minio } = services();
    secrets.push(minio.secretAccessKey);
    const bucket = await call(
      'POST',
      '/bucket',
      await minioBucketRegistration({ name: uniqueBucketName('leak') }),
    );
    expect(bucket.status).toBe(201);
    const aiSecret = 'sk-live-provider-secret-0123456789';
    const aiKey = 'provider-extra-key-9876543210';
    secrets.push(aiSecret, aiKey);
    const config = await call('POST', '/ai/llm', {
      name: 'provider',
      type: 'OPENAI',
      apiEndpoint: 'http://127.0.0.1:9/v1',
      apiKey: aiKey,
      apiSecret: aiSecret,
    });
    expect(config.status).toBe(201);
    repoId = (
      await call('POST', '/repo', {
        name: 'leaky',
        bucketIds: [bucket.body.id],
        aiConfigIds: [config.body.id],
      })
    ).body.id;
    const storageKey = await call('POST', `/repo/${repoId}/apikey`, { name: 'app', scope: 'READ_WRITE' });
    expect(storageKey.body.secretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
    expect(storageKey.body.accessKeyId).toMatch(/^[A-Z0-9]{20}$/);
    secrets.push(storageKey.body.secretAccessKey);
    const aiRepoKey = await call('POST', `/repo/${repoId}/ai/apikey`, { name: 'app' });
    secrets.push(aiRepoKey.body.key);
    const invitation = await call('POST', '/organization/invitations', { email: 'new@example.test' });
    secrets.push(invitation.body.token);
    await call('PUT', `/bucket/${bucket.body.id}`, {
      credentials: {
        type: 'ACCESS_KEY',
        accessKeyId: minio.accessKeyId,
        secretAccessKey: minio.secretAccessKey,
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const leaksIn = (text: string) => secrets.filter((secret) => text.includes(secret));

  it('keeps no plaintext secret in any database row', async () => {
    const connection = stack.orm.em.getConnection();
    const tables = await connection.execute<{ table_name: string }[]>(
      "select table_name from information_schema.tables where table_schema = 'public'",
    );
    for (const { table_name } of tables) {
      const rows = await connection.execute(`select * from "${table_name}"`);
      expect({ table: table_name, leaks: leaksIn(JSON.stringify(rows)) }).toEqual({
        table: table_name,
        leaks: [],
      });
    }
  });

  it('returns no secret from any GET route', async () => {
    const ids: Record<string, string> = { repoId };
    const bodies: string[] = [];
    for (const route of stack.routes.filter(
      (candidate) => candidate.method === 'get' && candidate.access !== 'public',
    )) {
      if (route.path.includes(':') && !/^\/repo\/:repoId(\/apikey|\/ai\/apikey)?$/.test(route.path)) continue;
      const path = route.path.replace(/:(\w+)/g, (_, name: string) => ids[name] ?? '');
      const answer = await api(stack.baseUrl, 'GET', path, { token });
      bodies.push(JSON.stringify(answer.body));
    }
    for (const resource of ['/bucket', '/ai/llm']) {
      for (const item of (await api(stack.baseUrl, 'GET', resource, { token })).body) {
        bodies.push(
          JSON.stringify((await api(stack.baseUrl, 'GET', `${resource}/${item.id}`, { token })).body),
        );
      }
    }
    expect(bodies.length).toBeGreaterThan(10);
    expect(leaksIn(bodies.join('\n'))).toEqual([]);
  });

  it('writes no secret to the logs', () => {
    expect(logLines.length).toBeGreaterThan(10);
    expect(leaksIn(logLines.join(''))).toEqual([]);
    expect(logLines.join('')).toContain('[REDACTED]');
  });
});
