/** Virtual-host addressing: `<bucket>.<suffix>` in the Host header addresses the bucket. */
import { request as httpRequest } from 'node:http';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBridge, type TestBridge } from '../helpers/bridge.ts';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration } from '../helpers/emulator-buckets.ts';
import { signHeaders } from '../helpers/signed-request.ts';

describe('S3 bridge: virtual-host addressing', () => {
  let stack: TestStack;
  let bridge: TestBridge;
  let credentials: { accessKeyId: string; secretAccessKey: string };
  let bucket: string;

  beforeAll(async () => {
    stack = await startTestStack();
    bridge = await startTestBridge(stack, { virtualHostSuffix: 's3.skybridge.test' });
    const token = await login(stack.baseUrl, stack.admin);
    const call = (method: string, path: string, body?: unknown) =>
      api(stack.baseUrl, method, path, { token, body });
    const registered = await call('POST', '/bucket', await minioBucketRegistration());
    bucket = registered.body.name;
    const repo = await call('POST', '/repo', { name: 'vhost', bucketIds: [registered.body.id] });
    const key = (await call('POST', `/repo/${repo.body.id}/apikey`, { name: 'k', scope: 'READ_WRITE' })).body;
    credentials = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    await bridge
      .client(credentials)
      .send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/hello.txt', Body: 'hello vhost' }));
  });
  afterAll(async () => {
    await bridge?.close();
    await stack?.close();
  });

  it('serves GET /<key> on <bucket>.<suffix>', async () => {
    const { port } = new URL(bridge.endpoint);
    const host = `${bucket}.s3.skybridge.test:${port}`;
    const headers = await signHeaders(`http://${host}`, credentials, {
      method: 'GET',
      path: '/dir/hello.txt',
    });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const outgoing = httpRequest(
        { host: '127.0.0.1', port, path: '/dir/hello.txt', headers },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      outgoing.on('error', reject);
      outgoing.end();
    });
    expect(answer).toEqual({ status: 200, body: 'hello vhost' });
  });
});
