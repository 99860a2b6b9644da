/**
 * BR-6: the S3 bridge records one usage event per request, through
 * `@aws-sdk/client-s3` against a MinIO-backed repository.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createS3Authenticator } from '../../bridge/s3/authenticate.ts';
import { MultipartUploads } from '../../bridge/s3/multipart-uploads.ts';
import { RepositoryBuckets } from '../../bridge/s3/repository-buckets.ts';
import { createS3Server } from '../../bridge/s3/server.ts';
import { UsageEvent } from '../../core/db/entities/index.ts';
import { StorageKeyResolver } from '../../core/keys/storage-key-resolver.ts';
import { UsageRecorder } from '../../core/metering/usage-recorder.ts';
import { createGuardedAgents } from '../../core/net/outbound-guard.ts';
import { createMetricsRegistry } from '../../core/observability/metrics.ts';
import {
  api,
  login,
  quietLogger,
  startTestStack,
  type TestStack,
  testOutboundPolicy,
} from '../helpers/context.ts';
import { minioBucketRegistration } from '../helpers/emulator-buckets.ts';

describe('S3 bridge metering', () => {
  let stack: TestStack;
  let keys: StorageKeyResolver;
  let server: Server;
  let usage: UsageRecorder;
  let client: S3Client;
  let ids: { organization: string; repository: string; bucket: string; key: string };
  let bucketName: string;

  beforeAll(async () => {
    stack = await startTestStack();
    const token = await login(stack.baseUrl, stack.admin);
    const call = (method: string, path: string, body?: unknown) =>
      api(stack.baseUrl, method, path, { token, body });
    const bucket = (await call('POST', '/bucket', await minioBucketRegistration())).body;
    const repository = (await call('POST', '/repo', { name: 'metered', bucketIds: [bucket.id] })).body;
    const key = (await call('POST', `/repo/${repository.id}/apikey`, { name: 'app', scope: 'READ_WRITE' }))
      .body;
    bucketName = bucket.name;

    keys = new StorageKeyResolver({ em: stack.orm.em, keyring: stack.keyring });
    const resolved = await keys.resolve(key.accessKeyId);
    ids = {
      organization: resolved!.organizationId,
      repository: repository.id,
      bucket: bucket.id,
      key: resolved!.keyId,
    };
    // The timer never fires during the test: the test flushes when it wants to look.
    usage = new UsageRecorder({ em: stack.orm.em, log: quietLogger(), flushIntervalMs: 3_600_000 });
    usage.start();
    server = createS3Server({
      authenticate: createS3Authenticator(keys),
      buckets: new RepositoryBuckets({
        em: stack.orm.em,
        keyring: stack.keyring,
        clientOptions: createGuardedAgents(testOutboundPolicy),
        ttlMs: 0,
      }),
      uploads: new MultipartUploads(stack.orm.em),
      log: quietLogger(),
      metrics: createMetricsRegistry('bridge'),
      usage,
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    client = new S3Client({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    });
  });
  afterAll(async () => {
    client?.destroy();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await usage?.stop();
    await keys?.close();
    await stack?.close();
  });

  let seen = 0;
  /** The next `count` events of this repository, oldest first, once they are written. */
  async function nextEvents(count: number) {
    // The event is recorded on the response's `close`, which can trail the client's last byte slightly.
    const rows = await vi.waitFor(async () => {
      await usage.flush();
      const written = await stack.orm.em
        .fork()
        .find(UsageEvent, { repositoryId: ids.repository }, { orderBy: { id: 'asc' } });
      expect(written).toHaveLength(seen + count);
      return written;
    });
    seen = rows.length;
    return rows.slice(-count);
  }

  it('records a PUT and a GET with their bytes, status, operation and ids', async () => {
    const body = randomBytes(300_000);
    await client.send(new PutObjectCommand({ Bucket: bucketName, Key: 'metered/object.bin', Body: body }));
    const got = await client.send(new GetObjectCommand({ Bucket: bucketName, Key: 'metered/object.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);

    const recorded = await nextEvents(2);
    const [put, get] = recorded;
    const common = {
      api: 'S3',
      organizationId: ids.organization,
      repositoryId: ids.repository,
      bucketId: ids.bucket,
      keyId: ids.key,
      status: 200,
    };
    expect(put).toMatchObject({ ...common, operation: 'PutObject', bytesIn: body.length, bytesOut: 0 });
    expect(get).toMatchObject({ ...common, operation: 'GetObject', bytesIn: 0, bytesOut: body.length });
    for (const event of recorded) {
      expect(event.latencyMs).toBeGreaterThanOrEqual(0);
      expect(Math.abs(event.occurredAt.getTime() - Date.now())).toBeLessThan(60_000);
    }
  });

  it('counts the payload of an aws-chunked upload, not its framing and chunk checksums', async () => {
    const size = 3 * 1024 * 1024 + 17;
    const source = Readable.from(
      (function* () {
        for (let sent = 0; sent < size; sent += 1024 * 1024)
          yield Buffer.alloc(Math.min(1024 * 1024, size - sent), 1);
      })(),
    );
    const command = new PutObjectCommand({
      Bucket: bucketName,
      Key: 'metered/streamed.bin',
      Body: source,
      ContentLength: size,
    });
    let contentSha256: string | undefined;
    command.middlewareStack.add(
      (next) => async (args) => {
        contentSha256 = (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'];
        return next(args);
      },
      { step: 'deserialize' },
    );
    await client.send(command);
    expect(contentSha256).toMatch(/^STREAMING-/);
    const [put] = await nextEvents(1);
    expect(put).toMatchObject({ operation: 'PutObject', status: 200, bytesIn: size });
  });

  it('records failures and bucket-less operations too, but not requests without a known key', async () => {
    await expect(
      client.send(new GetObjectCommand({ Bucket: bucketName, Key: 'metered/missing' })),
    ).rejects.toMatchObject({ name: 'NoSuchKey' });
    await client.send(new ListBucketsCommand({}));
    const stranger = new S3Client({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'x'.repeat(40) },
    });
    await expect(stranger.send(new ListBucketsCommand({}))).rejects.toBeInstanceOf(S3ServiceException);
    stranger.destroy();

    const recorded = await nextEvents(2);
    expect(recorded.map((event) => [event.operation, event.status, event.bucketId])).toEqual([
      ['GetObject', 404, ids.bucket],
      ['ListBuckets', 200, null],
    ]);
    expect(recorded[0]!.bytesOut).toBeGreaterThan(0); // the NoSuchKey XML
  });
});
