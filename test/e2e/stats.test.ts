/**
 * OBS-1 end to end: traffic through the real S3 bridge (`@aws-sdk/client-s3`)
 * and the AI gateway (the `openai` SDK), metered, rolled up, and read back
 * from each stats endpoint with the numbers the clients saw; bad ranges are
 * 400, another organization's ids 404.
 */
import { randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeNodeRegistration, bridgeNodeIdentity } from '../../core/nodes/registration.ts';
import { latencyBucketOf, latencyPercentile } from '../../core/stats/latency-histogram.ts';
import { rollUpUsage } from '../../core/stats/rollup.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { registerFakeConfig, startTestAiGateway, type TestAiGateway } from '../helpers/ai-gateway.ts';
import { startTestBridge, type TestBridge } from '../helpers/bridge.ts';
import {
  type ApiCall,
  adminApi,
  api,
  quietLogger,
  startTestStack,
  type TestStack,
} from '../helpers/context.ts';
import { minioBucketRegistration } from '../helpers/emulator-buckets.ts';

const objectSizes = [1000, 2500, 4096];
const chats = 3;

/** p95 as the sketch computes it, from the raw latencies the bridge metered. */
function p95Of(latencies: number[]): number | null {
  const histogram: number[] = [];
  for (const latency of latencies) {
    const index = latencyBucketOf(latency);
    while (histogram.length <= index) histogram.push(0);
    histogram[index] = (histogram[index] ?? 0) + 1;
  }
  return latencyPercentile(histogram, 0.95, Math.max(...latencies));
}

describe('stats endpoints', () => {
  let stack: TestStack;
  let bridge: TestBridge;
  let gateway: TestAiGateway;
  let fake: FakeProvider;
  let call: ApiCall;
  let outsider: ApiCall;
  let repoId: string;
  let bucketId: string;
  let aiKeyId: string;
  const today = new Date().toISOString().slice(0, 10);
  const tokens = { in: 0, out: 0 };

  /** What the bridge metered for the bucket, straight from the raw events (before any pruning). */
  let metered: { bytesIn: number; bytesOut: number; latencies: number[] };

  beforeAll(async () => {
    stack = await startTestStack();
    bridge = await startTestBridge(stack);
    gateway = await startTestAiGateway(stack);
    fake = await startFakeProvider('OPENAI');
    call = await adminApi(stack);
    const bucket = (await call('POST', '/bucket', await minioBucketRegistration())).body;
    bucketId = bucket.id;
    const configId = await registerFakeConfig(call, 'openai', fake);
    repoId = (
      await call('POST', '/repo', { name: 'measured', bucketIds: [bucketId], aiConfigIds: [configId] })
    ).body.id;
    const storageKey = (await call('POST', `/repo/${repoId}/apikey`, { name: 'app', scope: 'READ_WRITE' }))
      .body;
    const aiKey = (await call('POST', `/repo/${repoId}/ai/apikey`, { name: 'chat' })).body;
    aiKeyId = aiKey.id;

    const s3 = bridge.client({
      accessKeyId: storageKey.accessKeyId,
      secretAccessKey: storageKey.secretAccessKey,
    });
    for (const [index, size] of objectSizes.entries())
      await s3.send(new PutObjectCommand({ Bucket: bucket.name, Key: `o${index}`, Body: randomBytes(size) }));
    for (const index of objectSizes.keys())
      await (
        await s3.send(new GetObjectCommand({ Bucket: bucket.name, Key: `o${index}` }))
      ).Body?.transformToByteArray();
    await s3.send(new ListObjectsV2Command({ Bucket: bucket.name }));
    const missing = await s3
      .send(new GetObjectCommand({ Bucket: bucket.name, Key: 'missing' }))
      .catch((e) => e);
    expect((missing as S3ServiceException).$metadata.httpStatusCode).toBe(404);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: 'o0' }));

    const ai = gateway.client(aiKey.key);
    for (let i = 0; i < chats; i++) {
      const answer = await ai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: `Count to ${i + 3}` }],
      });
      tokens.in += answer.usage?.prompt_tokens ?? 0;
      tokens.out += answer.usage?.completion_tokens ?? 0;
    }
    await bridge.usage.flush();
    await gateway.usage.flush();

    const [raw] = await stack.orm.em
      .fork()
      .execute<{ bytes_in: string; bytes_out: string; latencies: number[] }[]>(
        `select sum(bytes_in) as bytes_in, sum(bytes_out) as bytes_out, array_agg(latency_ms) as latencies
         from usage_events where bucket_id = ?`,
        [bucketId],
      );
    metered = {
      bytesIn: Number(raw?.bytes_in),
      bytesOut: Number(raw?.bytes_out),
      latencies: raw?.latencies ?? [],
    };
    await rollUpUsage(stack.orm.em, { rawRetentionDays: 7, minuteRetentionDays: 30, settleSeconds: 0 });

    const signup = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: { email: 'stranger@other.test', password: 'password-123', organizationName: 'Other' },
    });
    outsider = (method, path, body) => api(stack.baseUrl, method, path, { token: signup.body.token, body });
  });
  afterAll(async () => {
    await bridge?.close();
    await gateway?.close();
    await fake?.close();
    await stack?.close();
  });

  // PutObject ×3, GetObject ×4 (one 404), ListObjectsV2, DeleteObject.
  const storageRequests = 9;

  it('GET /bucket/stats: requests, errors, bytes, latency, cost and operations of the bucket', async () => {
    const answer = await call('GET', `/bucket/stats?bucketId=${bucketId}`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const [figures] = answer.body.buckets;
    expect(answer.body.buckets).toHaveLength(1);
    expect(metered.bytesIn).toBeGreaterThanOrEqual(objectSizes.reduce((a, b) => a + b));
    expect(metered.bytesOut).toBeGreaterThanOrEqual(objectSizes.reduce((a, b) => a + b));
    expect(figures).toMatchObject({
      bucketId,
      provider: 'S3_COMPATIBLE',
      requests: storageRequests,
      errors: 1,
      serverErrors: 0,
      bytesIn: metered.bytesIn,
      bytesOut: metered.bytesOut,
      p95LatencyMs: p95Of(metered.latencies),
      requestsByOperation: { PutObject: 3, GetObject: 4, ListObjectsV2: 1, DeleteObject: 1 },
    });
    // S3_COMPATIBLE example prices: 0.01 per GB out, 0.0045 per 1,000 requests.
    const cost = (metered.bytesOut / 1e9) * 0.01 + (storageRequests / 1000) * 0.0045;
    expect(figures.costUsd).toBeCloseTo(cost, 6);
    expect(figures.p50LatencyMs).toBeLessThanOrEqual(figures.p95LatencyMs);
  });

  it('GET /repo/stats: the repository, alone or among all', async () => {
    const one = await call('GET', `/repo/stats?repoId=${repoId}&from=${today}&to=${today}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ from: today, to: today });
    expect(one.body.repositories).toEqual([
      expect.objectContaining({
        repositoryId: repoId,
        name: 'measured',
        requests: storageRequests,
        errors: 1,
      }),
    ]);
    const all = await call('GET', '/repo/stats');
    expect(all.body.repositories.find((r: { repositoryId: string }) => r.repositoryId === repoId)).toEqual(
      one.body.repositories[0],
    );
  });

  it('GET /stats/daily and /stats/minute: one entry per window, the traffic in the current ones', async () => {
    const daily = await call('GET', '/stats/daily');
    expect(daily.status).toBe(200);
    expect(daily.body.days).toHaveLength(30);
    expect(daily.body.days.at(-1)).toMatchObject({ date: today, requests: storageRequests, errors: 1 });
    expect(daily.body.days.slice(0, -1).every((day: { requests: number }) => day.requests === 0)).toBe(true);

    const minutes = await call('GET', `/stats/minute?bucketId=${bucketId}`);
    expect(minutes.status).toBe(200);
    expect(minutes.body.minutes).toHaveLength(60);
    const total = minutes.body.minutes.reduce((sum: number, m: { requests: number }) => sum + m.requests, 0);
    const bytesOut = minutes.body.minutes.reduce(
      (sum: number, m: { bytesOut: number }) => sum + m.bytesOut,
      0,
    );
    expect({ total, bytesOut }).toEqual({ total: storageRequests, bytesOut: metered.bytesOut });
  });

  it('GET /aistats/daily: tokens per model, key, conversation and policy outcome', async () => {
    const byModel = await call('GET', '/aistats/daily');
    expect(byModel.status).toBe(200);
    expect(byModel.body.dimension).toBe('model');
    expect(byModel.body.rows).toEqual([
      expect.objectContaining({
        date: today,
        model: 'gpt-4o-mini',
        requests: chats,
        errors: 0,
        tokensIn: tokens.in,
        tokensOut: tokens.out,
      }),
    ]);
    expect(tokens.in).toBeGreaterThan(0);
    const byKey = await call('GET', `/aistats/daily?dimension=key&repoId=${repoId}`);
    expect(byKey.body.rows).toEqual([expect.objectContaining({ keyId: aiKeyId, requests: chats })]);
    const byPolicy = await call('GET', '/aistats/daily?dimension=policy');
    expect(byPolicy.body.rows).toHaveLength(1);
    expect(byPolicy.body.rows[0]).toHaveProperty('policyOutcome');
    const byConversation = await call('GET', '/aistats/daily?dimension=conversation');
    expect(byConversation.body.rows).toEqual([
      expect.objectContaining({ conversationId: null, requests: chats }),
    ]);
  });

  it('GET /stats/nodes/minute: every registered node, one point per minute (none probed yet)', async () => {
    const empty = await call('GET', '/stats/nodes/minute');
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ from: expect.any(String), to: expect.any(String), nodes: [] });
    const identity = bridgeNodeIdentity(
      { region: 'local', provider: 'self', heartbeatSeconds: 60 },
      { s3Url: bridge.endpoint, openaiUrl: gateway.baseURL.replace(/\/v1$/, '') },
    );
    const node = await BridgeNodeRegistration.register(stack.orm.em, identity, quietLogger());
    try {
      const answer = await outsider('GET', '/stats/nodes/minute');
      expect(answer.body.nodes).toEqual([
        expect.objectContaining({
          nodeId: node.nodeId,
          label: 's3-local-self',
          address: bridge.endpoint,
          status: 'RUNNING',
          latencyMs: null,
          availabilityPercent: null,
          reputation: null,
        }),
      ]);
      expect(answer.body.nodes[0].minutes).toHaveLength(60);
    } finally {
      await node.stop();
    }
  });

  it('answers 400 to bad or too long ranges and unknown dimensions', async () => {
    for (const path of [
      '/stats/daily?from=2026-02-10&to=2026-02-01',
      '/stats/daily?from=2024-01-01&to=2026-01-01',
      '/repo/stats?from=yesterday',
      '/stats/minute?from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z',
      '/stats/minute?from=2026-01-01T01:00:00Z&to=2026-01-01T00:00:00Z',
      '/aistats/daily?dimension=colour',
      '/bucket/stats?bucketId=not-a-uuid',
    ]) {
      const answer = await call('GET', path);
      expect({ path, status: answer.status, code: answer.body.code }).toEqual({
        path,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
  });

  it("answers 404 to another organization's repository, bucket and workspace ids, and shows it nothing", async () => {
    const workspaceId = (await call('GET', `/repo/${repoId}`)).body.workspaceId;
    for (const path of [
      `/repo/stats?repoId=${repoId}`,
      `/bucket/stats?bucketId=${bucketId}`,
      `/stats/daily?bucketId=${bucketId}`,
      `/stats/minute?repoId=${repoId}`,
      `/aistats/daily?workspaceId=${workspaceId}`,
    ]) {
      const answer = await outsider('GET', path);
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
    }
    const theirs = await outsider('GET', '/stats/daily');
    expect(theirs.body.days.every((day: { requests: number }) => day.requests === 0)).toBe(true);
    expect((await outsider('GET', '/aistats/daily')).body.rows).toEqual([]);
  });
});
