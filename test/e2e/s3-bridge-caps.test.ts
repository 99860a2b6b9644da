/**
 * A bucket's caps through the S3 bridge: request rate (503 SlowDown), egress
 * per day and stored bytes (403 QUOTA_EXCEEDED), set through the API as an
 * operator would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBridge, type TestBridge } from '../helpers/bridge.ts';
import { adminApi, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration } from '../helpers/emulator-buckets.ts';
import { s3ErrorCode, signedFetch } from '../helpers/signed-request.ts';

describe('S3 bridge bucket caps', () => {
  let stack: TestStack;
  let bridge: TestBridge;
  let credentials: { accessKeyId: string; secretAccessKey: string };
  const names: Record<string, string> = {};

  beforeAll(async () => {
    stack = await startTestStack();
    bridge = await startTestBridge(stack);
    const call = await adminApi(stack);
    const caps = {
      rate: { requestsPerMinuteCap: 3 },
      egress: { egressCapBytesPerDay: 10_000 },
      storage: { storageCapBytes: 10_000 },
    };
    const ids: string[] = [];
    for (const [label, cap] of Object.entries(caps)) {
      const created = await call(
        'POST',
        '/bucket',
        await minioBucketRegistration({ name: `caps-${label}`, ...cap }),
      );
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      ids.push(created.body.id);
      names[label] = created.body.name;
    }
    const repo = await call('POST', '/repo', { name: 'caps', bucketIds: ids });
    credentials = (await call('POST', `/repo/${repo.body.id}/apikey`, { name: 'rw', scope: 'READ_WRITE' }))
      .body;
  });
  afterAll(async () => {
    await bridge?.close();
    await stack?.close();
  });

  const send = async (method: string, path: string, body?: string) => {
    const response = await signedFetch(bridge.endpoint, credentials, { method, path, body });
    return [response.status, s3ErrorCode(response) ?? 'ok'];
  };

  it('answers 503 SlowDown past the requests-per-minute cap, and only for that bucket', async () => {
    for (let index = 0; index < 3; index++) expect(await send('HEAD', `/${names.rate}`)).toEqual([200, 'ok']);
    const refused = await signedFetch(bridge.endpoint, credentials, {
      method: 'GET',
      path: `/${names.rate}`,
    });
    expect([refused.status, s3ErrorCode(refused)]).toEqual([503, 'SlowDown']);
    expect(await send('GET', `/${names.egress}`)).toEqual([200, 'ok']);
  });

  it('answers 403 QUOTA_EXCEEDED to reads once the day’s egress reached the cap; writes still work', async () => {
    expect(await send('PUT', `/${names.egress}/eight-k`, 'x'.repeat(8_000))).toEqual([200, 'ok']);
    expect(await send('GET', `/${names.egress}/eight-k`)).toEqual([200, 'ok']);
    expect(await send('GET', `/${names.egress}/eight-k`)).toEqual([200, 'ok']); // crosses the cap, completes
    expect(await send('GET', `/${names.egress}/eight-k`)).toEqual([403, 'QUOTA_EXCEEDED']);
    expect(await send('PUT', `/${names.egress}/more`, 'y')).toEqual([200, 'ok']);
  });

  it('answers 403 QUOTA_EXCEEDED to a write that would pass the storage cap; deletes and reads still work', async () => {
    expect(await send('PUT', `/${names.storage}/first`, 'a'.repeat(6_000))).toEqual([200, 'ok']);
    expect(await send('PUT', `/${names.storage}/second`, 'b'.repeat(6_000))).toEqual([403, 'QUOTA_EXCEEDED']);
    expect(await send('PUT', `/${names.storage}/small`, 'c'.repeat(1_000))).toEqual([200, 'ok']);
    expect(await send('GET', `/${names.storage}/first`)).toEqual([200, 'ok']);
    expect(await send('DELETE', `/${names.storage}/first`)).toEqual([204, 'ok']);
    expect(await send('GET', `/${names.storage}/second`)).toEqual([404, 'NoSuchKey']);
  });
});
