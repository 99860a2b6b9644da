/**
 * OBS-2's Prometheus series through the real bridge: requests, bytes,
 * latency and tokens labelled by repository and operation, with the
 * documented names, and no label explosion when 10,000 distinct object keys
 * are read and written (keys never become labels).
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { registerFakeConfig, startTestAiGateway, type TestAiGateway } from '../helpers/ai-gateway.ts';
import { startTestBridge, type TestBridge } from '../helpers/bridge.ts';
import { type ApiCall, adminApi, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration } from '../helpers/emulator-buckets.ts';

const DISTINCT_KEYS = 10_000;

/** The series of a metrics text: one entry per `name{labels} value` line. */
function seriesOf(text: string, prefix: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(prefix) && !line.startsWith('#'));
}

/** The value of the series `name` whose labels include `labels` (in any order); NaN when there is none. */
function sampleOf(series: string[], name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  const line = series.find(
    (candidate) => candidate.startsWith(`${name}{`) && wanted.every((pair) => candidate.includes(pair)),
  );
  return Number(line?.split(' ').pop());
}

describe('Prometheus metrics of the bridge', () => {
  let stack: TestStack;
  let bridge: TestBridge;
  let gateway: TestAiGateway;
  let fake: FakeProvider;
  let call: ApiCall;
  let repoId: string;
  let bucketName: string;
  let credentials: { accessKeyId: string; secretAccessKey: string };

  beforeAll(async () => {
    stack = await startTestStack();
    [bridge, gateway, fake] = await Promise.all([
      startTestBridge(stack),
      startTestAiGateway(stack),
      startFakeProvider('OPENAI'),
    ]);
    call = await adminApi(stack);
    const bucket = await call('POST', '/bucket', await minioBucketRegistration({ name: 'metered' }));
    bucketName = bucket.body.name;
    const configId = await registerFakeConfig(call, 'openai', fake);
    repoId = (
      await call('POST', '/repo', { name: 'metered', bucketIds: [bucket.body.id], aiConfigIds: [configId] })
    ).body.id;
    credentials = (await call('POST', `/repo/${repoId}/apikey`, { name: 'rw', scope: 'READ_WRITE' })).body;
  });
  afterAll(async () => {
    await bridge?.close();
    await gateway?.close();
    await fake?.close();
    await stack?.close();
  });

  it('counts S3 requests and bytes by repository and operation, whatever the keys', async () => {
    const s3 = bridge.client(credentials);
    const keys = Array.from({ length: DISTINCT_KEYS }, (_, index) => `many/${index}-${crypto.randomUUID()}`);
    const written = keys.slice(0, 200);
    for (let next = 0; next < written.length; next += 50)
      await Promise.all(
        written
          .slice(next, next + 50)
          .map((Key) => s3.send(new PutObjectCommand({ Bucket: bucketName, Key, Body: 'x'.repeat(100) }))),
      );
    // The rest are read and missed: 9,800 more distinct keys, each a NoSuchKey.
    for (let next = 200; next < keys.length; next += 100)
      await Promise.all(
        keys
          .slice(next, next + 100)
          .map((Key) =>
            s3.send(new GetObjectCommand({ Bucket: bucketName, Key })).catch((error: Error) => error.name),
          ),
      );
    const text = await bridge.metrics.metrics();
    const s3Series = seriesOf(text, 'skybridge_s3_');
    expect(s3Series.some((line) => line.includes('many/'))).toBe(false);
    // A handful of operations × statuses × histogram buckets, not thousands of keys.
    expect(s3Series.length).toBeLessThan(80);
    const repository = repoId;
    expect(
      sampleOf(s3Series, 'skybridge_s3_requests_total', {
        repository,
        operation: 'PutObject',
        status: '200',
      }),
    ).toBe(200);
    expect(
      sampleOf(s3Series, 'skybridge_s3_requests_total', {
        repository,
        operation: 'GetObject',
        status: '404',
      }),
    ).toBe(9800);
    expect(
      sampleOf(s3Series, 'skybridge_s3_bytes_total', { repository, operation: 'PutObject', direction: 'in' }),
    ).toBe(20_000);
    expect(
      sampleOf(s3Series, 'skybridge_s3_request_duration_seconds_count', { operation: 'GetObject' }),
    ).toBe(9800);
  }, 300_000);

  it('counts AI requests and tokens by repository, provider and model; unknown models add no label', async () => {
    const { key } = (await call('POST', `/repo/${repoId}/ai/apikey`, { name: 'app' })).body;
    const client = gateway.client(key);
    const answer = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello to Ada' }],
    });
    for (let index = 0; index < 20; index++)
      await client.chat.completions
        .create({ model: `made-up-${index}`, messages: [{ role: 'user', content: 'hi' }] })
        .catch(() => undefined);
    const text = await gateway.metrics.metrics();
    const aiSeries = seriesOf(text, 'skybridge_ai_');
    expect(aiSeries.some((line) => line.includes('made-up'))).toBe(false);
    const labels = { repository: repoId, provider: 'OPENAI', model: 'gpt-4o-mini' };
    expect(sampleOf(aiSeries, 'skybridge_ai_tokens_total', { ...labels, direction: 'in' })).toBe(
      answer.usage?.prompt_tokens,
    );
    expect(sampleOf(aiSeries, 'skybridge_ai_tokens_total', { ...labels, direction: 'out' })).toBe(
      answer.usage?.completion_tokens,
    );
    const requests = { repository: repoId, operation: 'ChatCompletions' };
    expect(sampleOf(aiSeries, 'skybridge_ai_requests_total', { ...requests, status: '200' })).toBe(1);
    expect(sampleOf(aiSeries, 'skybridge_ai_requests_total', { ...requests, status: '404' })).toBe(20);
    expect(
      sampleOf(aiSeries, 'skybridge_ai_request_duration_seconds_count', { operation: 'ChatCompletions' }),
    ).toBe(21);
  });
});
