/**
 * Credits (OBS-3) as admins and apps meet them: the price table edited
 * through the API, budgets on a repository and on its keys that the S3
 * bridge (403 QUOTA_EXCEEDED) and the AI gateway (429 budget_exceeded)
 * enforce, overshooting by no more than the requests in flight, threshold
 * webhooks sent once each, and each repository's spend from the rollups.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollUpUsage } from '../../core/stats/rollup.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { registerFakeConfig, startTestAiGateway, type TestAiGateway } from '../helpers/ai-gateway.ts';
import { startTestBridge, type TestBridge } from '../helpers/bridge.ts';
import { type ApiCall, adminApi, api, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration } from '../helpers/emulator-buckets.ts';

interface ReceivedAlert {
  thresholdPercent: number;
  budget: { subjectKind: string };
}

async function startWebhookReceiver(): Promise<{ url: string; alerts: ReceivedAlert[]; server: Server }> {
  const alerts: ReceivedAlert[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      alerts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`, alerts, server };
}

const eventually = async (check: () => void | Promise<void>, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
};

describe('credits: prices, budgets and spend', () => {
  let stack: TestStack;
  let call: ApiCall;
  let bridge: TestBridge;
  let gateway: TestAiGateway;
  let fake: FakeProvider;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let repoId: string;
  let bucketName: string;
  let storageKey: { id: string; accessKeyId: string; secretAccessKey: string };

  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
    call = await adminApi(stack);
    bridge = await startTestBridge(stack);
    gateway = await startTestAiGateway(stack);
    fake = await startFakeProvider('OPENAI');
    receiver = await startWebhookReceiver();
    const bucket = await call('POST', '/bucket', await minioBucketRegistration({ name: 'credits' }));
    bucketName = bucket.body.name;
    const configId = await registerFakeConfig(call, 'metered', fake);
    const repo = await call('POST', '/repo', {
      name: 'credits',
      bucketIds: [bucket.body.id],
      aiConfigIds: [configId],
    });
    repoId = repo.body.id;
    storageKey = (await call('POST', `/repo/${repoId}/apikey`, { name: 'rw', scope: 'READ_WRITE' })).body;
    // One storage operation costs a tenth of a cent here, egress a dollar per GB.
    const price = await call('PUT', '/prices', {
      kind: 'STORAGE',
      provider: bucket.body.provider,
      storagePerGbMonth: 0.02,
      egressPerGb: 1,
      operationsPer1000: 1,
    });
    expect(price.status, JSON.stringify(price.body)).toBe(200);
  }, 120_000);
  afterAll(async () => {
    receiver?.server.close();
    await gateway?.close();
    await bridge?.close();
    await fake?.close();
    await stack?.close();
  });

  it('lists the example defaults and the organization’s own prices; only admins change them', async () => {
    const table = await call('GET', '/prices');
    expect(table.status).toBe(200);
    expect(table.body.currency).toBe('USD');
    const own = table.body.storage.filter((row: { source: string }) => row.source === 'override');
    expect(own).toEqual([
      expect.objectContaining({ provider: 'S3_COMPATIBLE', region: '*', operationsPer1000: 1 }),
    ]);
    // The default the override replaces is gone from the effective table; the others stay.
    expect(
      table.body.storage.filter(
        (row: { provider: string; region: string }) => row.provider === 'S3_COMPATIBLE',
      ),
    ).toHaveLength(1);
    expect(table.body.ai).toContainEqual(
      expect.objectContaining({ provider: 'OPENAI', model: 'gpt-4o-mini', source: 'default' }),
    );

    const invalid = await call('PUT', '/prices', { kind: 'AI', provider: 'OPENAI', inputPer1000Tokens: -1 });
    expect(invalid.status).toBe(400);
    expect(invalid.body.code).toBe('VALIDATION_FAILED');
    const unknownKind = await call('PUT', '/prices', { kind: 'GOLD', provider: 'OPENAI' });
    expect(unknownKind.status).toBe(400);

    const created = await call('PUT', '/prices', {
      kind: 'AI',
      provider: 'OPENAI',
      model: 'gpt-4o-mini',
      inputPer1000Tokens: 0.5,
      outputPer1000Tokens: 1.5,
    });
    const updated = await call('PUT', '/prices', {
      kind: 'AI',
      provider: 'OPENAI',
      model: 'gpt-4o-mini',
      inputPer1000Tokens: 1,
      outputPer1000Tokens: 1,
    });
    expect(updated.body).toMatchObject({
      id: created.body.id,
      inputPer1000Tokens: 1,
      outputPer1000Tokens: 1,
    });
    const audit = await call('GET', '/audit?action=price.set');
    expect(audit.body.events.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses S3 requests with 403 QUOTA_EXCEEDED once a repository budget is spent, within the requests in flight', async () => {
    const budget = await call('PUT', `/repo/${repoId}/budget`, {
      amountUsd: 0.02,
      period: 'DAY',
      alertThresholds: [50, 100],
      webhookUrl: receiver.url,
    });
    expect(budget.status, JSON.stringify(budget.body)).toBe(200);
    expect(budget.body.current).toMatchObject({ spentUsd: 0, remainingUsd: 0.02, percentUsed: 0 });

    const client = bridge.client(storageKey);
    // More writers than the database pool has connections: admission must not hold one while it waits for another.
    const workers = 40;
    let succeeded = 0;
    const refusals: { name?: string; $metadata?: { httpStatusCode?: number } }[] = [];
    const worker = async (index: number) => {
      for (let request = 0; ; request++) {
        try {
          await client.send(
            new PutObjectCommand({ Bucket: bucketName, Key: `w${index}/${request}`, Body: 'tiny' }),
          );
          succeeded += 1;
        } catch (error) {
          refusals.push(error as (typeof refusals)[number]);
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, (_, index) => worker(index)));
    // $0.001 an operation, $0.02 a day: 20 requests, and admission is atomic, so not one more.
    expect(succeeded).toBe(20);
    expect(refusals).toHaveLength(workers);
    for (const refusal of refusals) {
      expect(refusal.name).toBe('QUOTA_EXCEEDED');
      expect(refusal.$metadata?.httpStatusCode).toBe(403);
    }
    const after = await call('GET', `/repo/${repoId}/budget`);
    expect(after.body.current).toMatchObject({
      spentUsd: 0.02,
      remainingUsd: 0,
      percentUsed: 100,
      alertedPercent: 100,
    });
    await eventually(() =>
      expect(receiver.alerts.map((alert) => alert.thresholdPercent).sort((a, b) => a - b)).toEqual([50, 100]),
    );

    // Deletes still work (they free storage and cost nothing); a raised budget applies at once.
    await client.send(new DeleteObjectCommand({ Bucket: bucketName, Key: 'w0/0' }));
    expect((await call('PUT', `/repo/${repoId}/budget`, { amountUsd: 1, period: 'DAY' })).status).toBe(200);
    await client.send(new PutObjectCommand({ Bucket: bucketName, Key: 'after-raise', Body: 'x' }));
    expect((await call('DELETE', `/repo/${repoId}/budget`)).status).toBe(204);
  });

  it('charges egress on reads and enforces a budget on one storage key only', async () => {
    const payload = 'e'.repeat(1_000_000);
    const client = bridge.client(storageKey);
    await client.send(new PutObjectCommand({ Bucket: bucketName, Key: 'megabyte', Body: payload }));
    const other = (await call('POST', `/repo/${repoId}/apikey`, { name: 'other', scope: 'READ' })).body;
    // One GET: $0.001 for the operation + $0.001 for 1 MB of egress.
    const set = await call('PUT', `/repo/${repoId}/apikey/${other.id}/budget`, {
      amountUsd: 0.002,
      period: 'MONTH',
    });
    expect(set.status).toBe(200);
    const reader = bridge.client(other);
    const body = await (
      await reader.send(new GetObjectCommand({ Bucket: bucketName, Key: 'megabyte' }))
    ).Body!.transformToString();
    expect(body.length).toBe(payload.length);
    await eventually(async () =>
      expect(
        (await call('GET', `/repo/${repoId}/apikey/${other.id}/budget`)).body.current.spentUsd,
      ).toBeCloseTo(0.002, 6),
    );
    await expect(
      reader.send(new GetObjectCommand({ Bucket: bucketName, Key: 'megabyte' })),
    ).rejects.toMatchObject({
      name: 'QUOTA_EXCEEDED',
    });
    // The repository's other key has no budget of its own.
    await client.send(new GetObjectCommand({ Bucket: bucketName, Key: 'megabyte' }));
  });

  it('answers 429 budget_exceeded on /v1 once an AI key’s budget is spent, priced per model', async () => {
    await call('PUT', '/prices', {
      kind: 'AI',
      provider: 'OPENAI',
      model: 'gpt-4o-mini',
      inputPer1000Tokens: 1,
      outputPer1000Tokens: 1,
    });
    const key = (await call('POST', `/repo/${repoId}/ai/apikey`, { name: 'budgeted' })).body;
    expect(
      (await call('PUT', `/repo/${repoId}/ai/apikey/${key.id}/budget`, { amountUsd: 0.03, period: 'TOTAL' }))
        .status,
    ).toBe(200);
    const openai = gateway.client(key.key);
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Say hello to Ada' }] };
    let tokens = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        const answer = await openai.chat.completions.create(ask);
        tokens += answer.usage?.total_tokens ?? 0;
        await eventually(async () =>
          expect(
            (await call('GET', `/repo/${repoId}/ai/apikey/${key.id}/budget`)).body.current.spentUsd,
          ).toBeCloseTo(tokens / 1000, 6),
        );
      } catch (error) {
        expect(error).toBeInstanceOf(OpenAI.RateLimitError);
        expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('budget_exceeded');
        expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBeNull();
        break;
      }
    }
    // Refused only after the spend reached $0.03 ($1 per 1,000 tokens), and by less than one request over.
    expect(tokens / 1000).toBeGreaterThanOrEqual(0.03);
    expect(tokens).toBeLessThan(30 + 30);
  });

  it('rejects bad budgets and other organizations’ subjects', async () => {
    expect((await call('PUT', `/repo/${repoId}/budget`, { amountUsd: -5 })).status).toBe(400);
    expect((await call('PUT', `/repo/${repoId}/budget`, { amountUsd: 5, period: 'WEEK' })).status).toBe(400);
    expect(
      (await call('PUT', `/repo/${repoId}/budget`, { amountUsd: 5, alertThresholds: [150] })).status,
    ).toBe(400);
    expect(
      (await call('PUT', `/repo/${repoId}/budget`, { amountUsd: 5, webhookUrl: 'ftp://x' })).status,
    ).toBe(400);
    expect((await call('PUT', `/repo/${repoId}/budget`, { amountUsd: 5, extra: true })).status).toBe(400);
    expect((await call('GET', `/repo/${repoId}/budget`)).status).toBe(404);
    const outsider = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: { email: 'credits-outsider@other.test', password: 'password-123', organizationName: 'Elsewhere' },
    });
    const theirs = await api(stack.baseUrl, 'PUT', `/repo/${repoId}/budget`, {
      token: outsider.body.token,
      body: { amountUsd: 5 },
    });
    expect(theirs.status).toBe(404);
    const prices = await api(stack.baseUrl, 'GET', '/prices', { token: outsider.body.token });
    expect(prices.body.storage.every((row: { source: string }) => row.source === 'default')).toBe(true);
  });

  it('reports each repository’s spend from the rolled-up usage', async () => {
    await bridge.usage.flush();
    await gateway.usage.flush();
    await rollUpUsage(stack.orm.em, { settleSeconds: 0, rawRetentionDays: 7, minuteRetentionDays: 30 });
    const spend = await call('GET', `/credits/spend?repoId=${repoId}`);
    expect(spend.status, JSON.stringify(spend.body)).toBe(200);
    const [repository] = spend.body.repositories;
    expect(repository.repositoryId).toBe(repoId);
    expect(repository.storageUsd).toBeGreaterThan(0.02);
    expect(repository.aiUsd).toBeGreaterThan(0.02);
    expect(repository.totalUsd).toBeCloseTo(repository.storageUsd + repository.aiUsd, 6);
    expect(spend.body.totalUsd).toBeCloseTo(repository.totalUsd, 6);
    expect((await call('GET', '/credits/spend?from=2026-13-01')).status).toBe(400);
  });
});
