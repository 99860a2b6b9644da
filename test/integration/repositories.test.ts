/** CP-4, CP-5, CP-7: repositories, their attachments and keys through the API. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepoAiKey, RepoStorageKey } from '../../core/db/entities/index.ts';
import { aiKeyMatches, openStorageKeySecret } from '../../core/keys/repo-keys.ts';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration, uniqueBucketName } from '../helpers/emulator-buckets.ts';

describe('repositories and keys', () => {
  let stack: TestStack;
  let token: string;
  let bucketId: string;
  const call = (method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });

  beforeAll(async () => {
    stack = await startTestStack();
    token = await login(stack.baseUrl, stack.admin);
    bucketId = (
      await call('POST', '/bucket', await minioBucketRegistration({ name: uniqueBucketName('repo') }))
    ).body.id;
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('creates a repository with resources, attaches and detaches, and keeps workspaces apart', async () => {
    const repo = await call('POST', '/repo', {
      name: 'shop',
      description: 'storefront',
      bucketIds: [bucketId],
    });
    expect(repo.status).toBe(201);
    expect(repo.body).toMatchObject({
      name: 'shop',
      storageEndpointType: 'S3',
      aiEndpointType: null,
      bucketIds: [bucketId],
    });
    const detached = await call('DELETE', `/repo/${repo.body.id}/bucket/${bucketId}`);
    expect(detached.body.bucketIds).toEqual([]);
    expect((await call('DELETE', `/repo/${repo.body.id}/bucket/${bucketId}`)).status).toBe(404);
    const reattached = await call('PUT', `/repo/${repo.body.id}/bucket/${bucketId}`);
    expect(reattached.body.bucketIds).toEqual([bucketId]);

    const otherWorkspace = await call('POST', '/workspace', { name: 'other' });
    const foreign = await call('POST', '/repo', { name: 'elsewhere', workspaceId: otherWorkspace.body.id });
    const crossWorkspace = await call('PUT', `/repo/${foreign.body.id}/bucket/${bucketId}`);
    expect(crossWorkspace).toMatchObject({ status: 409, body: { code: 'CONFLICT' } });
    const inOther = await call('GET', `/repo?workspaceId=${otherWorkspace.body.id}`);
    expect(inOther.body.map((item: { name: string }) => item.name)).toEqual(['elsewhere']);

    const renamed = await call('PUT', `/repo/${repo.body.id}`, { name: 'shop-2', aiEndpointType: 'OPENAI' });
    expect(renamed.body).toMatchObject({ name: 'shop-2', aiEndpointType: 'OPENAI' });
    expect((await call('PUT', `/repo/${repo.body.id}`, { storageEndpointType: 'FTP' })).status).toBe(400);
    expect((await call('POST', '/repo', { name: 'shop-2' })).status).toBe(409);
  });

  it('issues an AWS-like storage key whose secret is shown once and sealed, and revokes it', async () => {
    const repo = await call('POST', '/repo', { name: 'keys', bucketIds: [bucketId] });
    const created = await call('POST', `/repo/${repo.body.id}/apikey`, {
      name: 'backend',
      scope: 'READ_WRITE',
    });
    expect(created.status).toBe(201);
    const { accessKeyId, secretAccessKey } = created.body;
    expect(accessKeyId).toMatch(/^[A-Z0-9]{20}$/);
    expect(secretAccessKey).toHaveLength(40);
    const read = await call('GET', `/repo/${repo.body.id}/apikey/${created.body.id}`);
    expect(read.body).toMatchObject({ accessKeyId, scope: 'READ_WRITE', status: 'ACTIVE' });
    expect(read.body.secretAccessKey).toBeUndefined();
    const stored = await stack.orm.em
      .fork()
      .findOneOrFail(RepoStorageKey, created.body.id, { populate: ['secret'] });
    expect(openStorageKeySecret(stack.keyring, accessKeyId, stored.secret)).toBe(secretAccessKey);

    const narrowed = await call('PUT', `/repo/${repo.body.id}/apikey/${created.body.id}`, { scope: 'READ' });
    expect(narrowed.body.scope).toBe('READ');
    expect(
      (await call('PUT', `/repo/${repo.body.id}/apikey/${created.body.id}`, { scope: 'ROOT' })).status,
    ).toBe(400);
    const past = await call('POST', `/repo/${repo.body.id}/apikey`, {
      name: 'x',
      scope: 'READ',
      expiresAt: '2000-01-01T00:00:00Z',
    });
    expect(past).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    expect((await call('DELETE', `/repo/${repo.body.id}/apikey/${created.body.id}`)).status).toBe(204);
    const revoked = await call('GET', `/repo/${repo.body.id}/apikey`);
    expect(revoked.body[0]).toMatchObject({ status: 'REVOKED' });
  });

  it('issues AI keys stored only as a hash, with a prefix for lookup', async () => {
    const repo = await call('POST', '/repo', { name: 'ai' });
    const created = await call('POST', `/repo/${repo.body.id}/ai/apikey`, { name: 'chatbot' });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^sbk_[\w-]{12}\.[\w-]{43}$/);
    expect(created.body.key.startsWith(created.body.prefix)).toBe(true);
    const stored = await stack.orm.em
      .fork()
      .findOneOrFail(RepoAiKey, created.body.id, { populate: ['secretHash'] });
    expect(stored.secretHash).not.toContain(created.body.key);
    expect(aiKeyMatches(created.body.key, stored.secretHash)).toBe(true);
    expect(aiKeyMatches(`${created.body.key}x`, stored.secretHash)).toBe(false);
    const listed = await call('GET', `/repo/${repo.body.id}/ai/apikey`);
    expect(listed.body).toEqual([expect.objectContaining({ prefix: created.body.prefix, status: 'ACTIVE' })]);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key);
    expect((await call('DELETE', `/repo/${repo.body.id}/ai/apikey/${created.body.id}`)).status).toBe(204);
  });

  it('deletes a repository with its keys but leaves its buckets registered', async () => {
    const repo = await call('POST', '/repo', { name: 'doomed', bucketIds: [bucketId] });
    await call('POST', `/repo/${repo.body.id}/apikey`, { name: 'k', scope: 'READ' });
    expect((await call('DELETE', `/repo/${repo.body.id}`)).status).toBe(204);
    expect((await call('GET', `/repo/${repo.body.id}`)).status).toBe(404);
    expect((await call('GET', `/bucket/${bucketId}`)).status).toBe(200);
  });
});

describe('bad input on the management API', () => {
  let stack: TestStack;
  let token: string;

  beforeAll(async () => {
    stack = await startTestStack();
    token = await login(stack.baseUrl, stack.admin);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers malformed, mistyped and oversized bodies with a problem and writes nothing', async () => {
    const count = () => stack.orm.em.fork().count(RepoStorageKey);
    const repositories = async () => (await api(stack.baseUrl, 'GET', '/repo', { token })).body.length;
    const before = await repositories();
    const cases: [{ body?: unknown; rawBody?: string }, number, string][] = [
      [{ rawBody: '{"name":' }, 400, 'BAD_REQUEST'],
      [{ rawBody: '[1,2,3]' }, 400, 'VALIDATION_FAILED'],
      [{ body: { name: 42 } }, 400, 'VALIDATION_FAILED'],
      [{ body: { name: 'x', storageEndpointType: 'TAPE' } }, 400, 'VALIDATION_FAILED'],
      [{ body: { name: 'x', bucketIds: ['not-a-uuid'] } }, 400, 'VALIDATION_FAILED'],
      [{ body: { name: 'x', bucketIds: ['00000000-0000-4000-8000-000000000000'] } }, 404, 'NOT_FOUND'],
      [
        { rawBody: JSON.stringify({ name: 'x', description: 'y'.repeat(2 * 1024 * 1024) }) },
        413,
        'PAYLOAD_TOO_LARGE',
      ],
    ];
    const keysBefore = await count();
    for (const [input, status, code] of cases) {
      const answer = await api(stack.baseUrl, 'POST', '/repo', { token, ...input });
      expect({
        status: answer.status,
        code: answer.body?.code,
        type: answer.headers.get('content-type'),
      }).toEqual({
        status,
        code,
        type: expect.stringMatching(/^application\/problem\+json/),
      });
    }
    expect(await repositories()).toBe(before);
    expect(await count()).toBe(keysBefore);
  });
});
