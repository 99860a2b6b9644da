/**
 * The S3 bridge answers bad requests the way S3 does, with S3 XML errors, and
 * leaves the backend as it was.
 */
import { request as httpRequest } from 'node:http';
import { HeadObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBridge, type TestBridge } from '../helpers/bridge.ts';
import { adminApi, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration } from '../helpers/emulator-buckets.ts';
import { s3ErrorCode, signedFetch, signHeaders } from '../helpers/signed-request.ts';

describe('S3 bridge: bad input', () => {
  let stack: TestStack;
  let bridge: TestBridge;
  let credentials: { accessKeyId: string; secretAccessKey: string };
  let client: S3Client;
  let bucket: string;

  beforeAll(async () => {
    stack = await startTestStack();
    bridge = await startTestBridge(stack);
    const call = await adminApi(stack);
    const registered = await call('POST', '/bucket', await minioBucketRegistration());
    bucket = registered.body.name;
    const repo = await call('POST', '/repo', { name: 'bad-input', bucketIds: [registered.body.id] });
    const key = (await call('POST', `/repo/${repo.body.id}/apikey`, { name: 'k', scope: 'READ_WRITE' })).body;
    credentials = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    client = bridge.client(credentials);
  });
  afterAll(async () => {
    await bridge?.close();
    await stack?.close();
  });

  const exists = (key: string) =>
    client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
      () => true,
      () => false,
    );

  it('refuses anonymous requests and unsigned garbage', async () => {
    const anonymous = await fetch(`${bridge.endpoint}/${bucket}`);
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toContain('<Code>AccessDenied</Code>');
    const malformed = await fetch(`${bridge.endpoint}/`, {
      headers: { authorization: 'AWS4-HMAC-SHA256 nonsense' },
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.text()).toContain('<Code>AuthorizationHeaderMalformed</Code>');
  });

  it('refuses a clock more than 15 minutes off', async () => {
    const skewed = new S3Client({
      endpoint: bridge.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials,
      maxAttempts: 1,
      systemClockOffset: 16 * 60 * 1000,
    });
    await expect(skewed.send(new ListBucketsCommand({}))).rejects.toMatchObject({
      name: 'RequestTimeTooSkewed',
    });
    skewed.destroy();
  });

  it('refuses a wrong Content-MD5 and a wrong checksum, and writes nothing', async () => {
    await expect(
      client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'md5.txt',
          Body: 'hello',
          ContentMD5: 'AAAAAAAAAAAAAAAAAAAAAA==',
        }),
      ),
    ).rejects.toMatchObject({ name: 'BadDigest' });
    expect(await exists('md5.txt')).toBe(false);
    await expect(
      client.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'crc.txt', Body: 'hello', ChecksumCRC32: 'AAAAAA==' }),
      ),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
    expect(await exists('crc.txt')).toBe(false);
  });

  it('refuses a body that does not match its signed hash', async () => {
    const signed = await signedFetch(bridge.endpoint, credentials, {
      method: 'PUT',
      path: `/${bucket}/tampered.txt`,
      body: 'the signed body',
      headers: { 'x-amz-content-sha256': 'a'.repeat(64) },
    });
    expect({ status: signed.status, code: s3ErrorCode(signed) }).toEqual({
      status: 400,
      code: 'XAmzContentSHA256Mismatch',
    });
    expect(await exists('tampered.txt')).toBe(false);
  });

  it('refuses keys with NUL bytes or dot segments, and malformed DeleteObjects XML', async () => {
    for (const path of [`/${bucket}/a%00b`, `/${bucket}/a/../b`, `/${bucket}/./x`]) {
      const response = await signedFetch(bridge.endpoint, credentials, { method: 'PUT', path, body: 'x' });
      expect({ path, status: response.status, code: s3ErrorCode(response) }).toEqual({
        path,
        status: 400,
        code: 'InvalidObjectName',
      });
    }
    for (const body of ['<Delete><Object><Key>a</Key>', '<Delete></Delete>', 'not xml at all']) {
      const response = await signedFetch(bridge.endpoint, credentials, {
        method: 'POST',
        path: `/${bucket}`,
        query: { delete: '' },
        body,
      });
      expect({ body, status: response.status, code: s3ErrorCode(response) }).toEqual({
        body,
        status: 400,
        code: 'MalformedXML',
      });
    }
  });

  it('answers an oversized header section with S3 XML', async () => {
    const response = await fetch(`${bridge.endpoint}/`, {
      headers: { 'x-amz-meta-big': 'x'.repeat(20_000) },
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('<Code>RequestHeaderSectionTooLarge</Code>');
  });

  it('leaves no object behind when an upload is cut off mid-stream', async () => {
    const path = `/${bucket}/cut-off.bin`;
    const headers = await signHeaders(bridge.endpoint, credentials, {
      method: 'PUT',
      path,
      payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-length': String(1024 * 1024) },
    });
    const url = new URL(bridge.endpoint);
    await new Promise<void>((resolve) => {
      const upload = httpRequest({ host: url.hostname, port: url.port, method: 'PUT', path, headers });
      upload.on('error', () => resolve());
      upload.write(Buffer.alloc(256 * 1024, 1), () => setTimeout(() => upload.destroy(), 100));
      upload.on('close', () => resolve());
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await exists('cut-off.bin')).toBe(false);
  });

  it('answers NotImplemented for what it does not support, never a wrong success', async () => {
    const queries: Record<string, string>[] = [{ acl: '' }, { versioning: '' }, { lifecycle: '' }];
    for (const query of queries) {
      const response = await signedFetch(bridge.endpoint, credentials, {
        method: 'GET',
        path: `/${bucket}`,
        query,
      });
      expect({ query, status: response.status, code: s3ErrorCode(response) }).toEqual({
        query,
        status: 501,
        code: 'NotImplemented',
      });
    }
  });
});
