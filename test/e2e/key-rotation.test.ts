/**
 * JOB-3: rotating repo storage and AI keys through the API. During the grace
 * period both keys work through the bridge; when it ends (on time, or moved
 * by an update) the old key is refused: InvalidAccessKeyId on S3, 401 on /v1.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bucket } from '../../core/db/entities/index.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { startTestAiGateway, type TestAiGateway } from '../helpers/ai-gateway.ts';
import { startTestBridge, type TestBridge } from '../helpers/bridge.ts';
import { api, login, services, startTestStack, type TestStack } from '../helpers/context.ts';
import { createAzuriteContainer, minioBucketRegistration } from '../helpers/emulator-buckets.ts';

describe('key rotation', () => {
  let stack: TestStack;
  let bridge: TestBridge;
  let gateway: TestAiGateway;
  let fake: FakeProvider;
  let token: string;
  let repoId: string;
  let bucketName: string;
  const call = (method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });

  async function waitForJob(jobId: string, status: string) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const job = await call('GET', `/jobs/${jobId}`);
      if (job.body.status === status) return job.body;
      await sleep(200);
    }
    throw new Error(`job ${jobId} did not reach ${status}`);
  }

  beforeAll(async () => {
    stack = await startTestStack();
    bridge = await startTestBridge(stack);
    gateway = await startTestAiGateway(stack);
    token = await login(stack.baseUrl, stack.admin);
    fake = await startFakeProvider('OPENAI');
    const bucket = await call('POST', '/bucket', await minioBucketRegistration({ name: 'rotated' }));
    bucketName = bucket.body.name;
    const config = await call('POST', '/ai/llm', {
      name: 'openai',
      type: 'OPENAI',
      apiEndpoint: fake.baseUrl,
      ...fake.credentials,
    });
    repoId = (
      await call('POST', '/repo', {
        name: 'rotating',
        bucketIds: [bucket.body.id],
        aiConfigIds: [config.body.id],
      })
    ).body.id;
  });
  afterAll(async () => {
    await gateway?.close();
    await bridge?.close();
    await fake?.close();
    await stack?.close();
  });

  it('keeps both storage keys working during the grace period, then refuses the old one', async () => {
    const old = (await call('POST', `/repo/${repoId}/apikey`, { name: 'app', scope: 'READ_WRITE' })).body;
    const rotated = await call('POST', `/repo/${repoId}/apikey/${old.id}/rotate`, { graceSeconds: 600 });
    expect(rotated.status).toBe(202);
    expect(rotated.body.key).toMatchObject({ name: 'app', scope: 'READ_WRITE' });
    expect(rotated.body.key.secretAccessKey).toBeDefined();
    const list = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
      bridge.client(credentials).send(new ListObjectsV2Command({ Bucket: bucketName }));
    const oldCredentials = { accessKeyId: old.accessKeyId, secretAccessKey: old.secretAccessKey };
    const newCredentials = {
      accessKeyId: rotated.body.key.accessKeyId,
      secretAccessKey: rotated.body.key.secretAccessKey,
    };
    await expect(list(oldCredentials)).resolves.toBeDefined();
    await expect(list(newCredentials)).resolves.toBeDefined();
    const job = await call('GET', `/jobs/${rotated.body.jobId}`);
    expect(job.body).toMatchObject({
      kind: 'key-rotation',
      status: 'RUNNING',
      state: { phase: 'GRACE', oldKeyId: old.id },
    });

    const shortened = await call('PATCH', `/jobs/${rotated.body.jobId}`, { graceSeconds: 0 });
    expect(shortened.status).toBe(200);
    const done = await waitForJob(rotated.body.jobId, 'COMPLETED');
    expect(done.state).toMatchObject({ phase: 'DONE', revokedAt: expect.any(String) });
    await expect(list(oldCredentials)).rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
    await expect(list(newCredentials)).resolves.toBeDefined();
    expect((await call('PATCH', `/jobs/${rotated.body.jobId}`, { graceSeconds: 60 })).status).toBe(409);
    expect((await call('POST', `/repo/${repoId}/apikey/${old.id}/rotate`, {})).status).toBe(409);
  });

  it('rotates an AI key: both work until the grace period ends on its own, then the old one is a 401', async () => {
    const old = (
      await call('POST', `/repo/${repoId}/ai/apikey`, { name: 'chat', limits: { requestsPerMinute: 100 } })
    ).body;
    const rotated = await call('POST', `/repo/${repoId}/ai/apikey/${old.id}/rotate`, { graceSeconds: 2 });
    expect(rotated.body.key).toMatchObject({ name: 'chat', limits: { requestsPerMinute: 100 } });
    const oldClient = gateway.client(old.key);
    const newClient = gateway.client(rotated.body.key.key);
    await expect(oldClient.models.list()).resolves.toBeDefined();
    await expect(newClient.models.list()).resolves.toBeDefined();
    await waitForJob(rotated.body.jobId, 'COMPLETED');
    await expect(oldClient.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(newClient.models.list()).resolves.toBeDefined();
  });

  it('rotates bucket credentials: refused ones change nothing, good ones are switched to and serve', async () => {
    const { connectionString } = services().azurite;
    const field = (name: string) => new RegExp(`${name}=([^;]+)`).exec(connectionString)?.[1] ?? '';
    const bucket = await call('POST', '/bucket', {
      name: 'azure-rotated',
      provider: 'AZURE',
      bucketName: await createAzuriteContainer(),
      endpoint: field('BlobEndpoint'),
      credentials: { type: 'CONNECTION_STRING', connectionString },
    });
    expect(bucket.status, JSON.stringify(bucket.body)).toBe(201);
    const repo = await call('POST', '/repo', { name: 'azure-rotating', bucketIds: [bucket.body.id] });
    const key = (await call('POST', `/repo/${repo.body.id}/apikey`, { name: 'rw', scope: 'READ_WRITE' }))
      .body;
    const s3 = bridge.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
    const rotate = (credentials: unknown) =>
      call('POST', `/bucket/${bucket.body.id}/credentials/rotate`, { credentials });

    const refused = await rotate({
      type: 'SHARED_KEY',
      accountName: field('AccountName'),
      accountKey: 'd3Jvbmc=',
    });
    expect(refused.status).toBe(202);
    expect((await waitForJob(refused.body.jobId, 'COMPLETED')).state).toMatchObject({ outcome: 'REJECTED' });
    expect((await call('GET', `/bucket/${bucket.body.id}`)).body.credentials.type).toBe('CONNECTION_STRING');
    await s3.send(new PutObjectCommand({ Bucket: 'azure-rotated', Key: 'before', Body: 'old credentials' }));

    const accepted = await rotate({
      type: 'SHARED_KEY',
      accountName: field('AccountName'),
      accountKey: field('AccountKey'),
    });
    expect((await waitForJob(accepted.body.jobId, 'COMPLETED')).state).toMatchObject({ outcome: 'ROTATED' });
    expect((await call('GET', `/bucket/${bucket.body.id}`)).body.credentials).toEqual({
      type: 'SHARED_KEY',
      hint: field('AccountName'),
    });
    const stored = await stack.orm.em
      .fork()
      .findOneOrFail(Bucket, bucket.body.id, { populate: ['pendingCredentials', 'previousCredentials'] });
    expect([stored.pendingCredentials, stored.previousCredentials]).toEqual([null, null]);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'azure-rotated', Key: 'before' }));
    expect(await got.Body!.transformToString()).toBe('old credentials');
  });

  it("refuses to steer another kind of job's grace period", async () => {
    const ping = await call('POST', '/jobs/ping', { message: 'hi' });
    expect((await call('PATCH', `/jobs/${ping.body.id}`, { graceSeconds: 1 })).status).toBe(409);
  });
});
