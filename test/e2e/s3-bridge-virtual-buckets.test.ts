/**
 * BR-8 through the real S3 client: a virtual bucket over a MinIO member and
 * an Azurite member serves the S3 operations, places writes by its policy,
 * keeps writes off a member at its storage cap, and moves them away from a
 * member that fails or slows down (behind a TCP proxy the test controls)
 * until that member recovers.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageEvent } from '../../core/db/entities/index.ts';
import type { ObjectStore } from '../../providers/storage/object-store.ts';
import { startTestBridge, type TestBridge } from '../helpers/bridge.ts';
import { type ApiCall, adminApi, services, startTestStack, type TestStack } from '../helpers/context.ts';
import { migrationKit } from '../helpers/migration-kit.ts';
import { s3ErrorCode, signedFetch } from '../helpers/signed-request.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

type Member = { id: string; store: ObjectStore; name?: string };

describe('S3 bridge virtual buckets (BR-8)', () => {
  let stack: TestStack;
  let bridge: TestBridge;
  let call: ApiCall;
  let proxy: TcpProxy;
  let repoId: string;
  let credentials: { accessKeyId: string; secretAccessKey: string };
  let client: S3Client;
  const members: Record<'minio' | 'azure' | 'capped' | 'plain', Member> = {} as never;

  beforeAll(async () => {
    stack = await startTestStack();
    bridge = await startTestBridge(stack);
    call = await adminApi(stack);
    const minioUrl = new URL(services().minio.endpoint);
    proxy = await startTcpProxy({ host: minioUrl.hostname, port: Number(minioUrl.port) });
    const kit = migrationKit(call);
    members.minio = await kit.bucket('minio', { endpoint: proxy.endpoint });
    members.azure = await kit.bucket('azure');
    members.capped = await kit.bucket('minio', { storageCapBytes: 10_000 });
    members.plain = await kit.bucket('minio');
    const ids = Object.values(members).map((member) => member.id);
    const repo = await call('POST', '/repo', { name: 'virtual', bucketIds: ids });
    expect(repo.status, JSON.stringify(repo.body)).toBe(201);
    repoId = repo.body.id;
    for (const member of Object.values(members))
      member.name = (await call('GET', `/bucket/${member.id}`)).body.name;
    credentials = (await call('POST', `/repo/${repoId}/apikey`, { name: 'rw', scope: 'ADMIN' })).body;
    client = bridge.client(credentials);
  });
  afterAll(async () => {
    await bridge?.close();
    await proxy?.close();
    await stack?.close();
  });

  async function createVirtualBucket(name: string, memberIds: string[], policy: Record<string, unknown>) {
    const created = await call('POST', `/repo/${repoId}/virtual-buckets`, {
      name,
      memberBucketIds: memberIds,
      policy,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body;
  }

  const put = (bucket: string, key: string, body: string | Buffer, extra: Record<string, unknown> = {}) =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));

  const textOf = async (bucket: string, key: string) =>
    (
      await client.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then((got) => got.Body!)
    ).transformToString();

  /** Which member stores hold the key (read directly, not through the bridge). */
  async function holders(key: string, candidates: Member[]): Promise<string[]> {
    const found: string[] = [];
    for (const member of candidates) {
      const held = await member.store.head(key).then(
        () => true,
        () => false,
      );
      if (held) found.push(member.id);
    }
    return found;
  }

  it('serves put, get, head, list, copy, delete and multipart over a MinIO and an Azurite member', async () => {
    const name = 'spread';
    await createVirtualBucket(name, [members.azure.id, members.plain.id], { strategy: 'PRIORITY' });
    const listed = await client.send(new ListBucketsCommand({}));
    expect(listed.Buckets?.map((bucket) => bucket.Name)).toContain(name);

    const written = await put(name, 'docs/readme.txt', 'hello virtual', {
      ContentType: 'text/plain',
      Metadata: { origin: 'test' },
    });
    expect(await holders('docs/readme.txt', [members.azure, members.plain])).toEqual([members.azure.id]);
    const head = await client.send(new HeadObjectCommand({ Bucket: name, Key: 'docs/readme.txt' }));
    expect(head.ETag).toBe(written.ETag);
    expect(head.ContentType).toBe('text/plain');
    expect(head.Metadata).toEqual({ origin: 'test' });
    expect(await textOf(name, 'docs/readme.txt')).toBe('hello virtual');
    await expect(textOf(name, 'docs/missing.txt')).rejects.toMatchObject({ name: 'NoSuchKey' });

    for (const key of ['a.txt', 'docs/b.txt', 'docs/sub/c.txt', 'z.txt']) await put(name, key, key);
    const page1 = await client.send(new ListObjectsV2Command({ Bucket: name, Delimiter: '/', MaxKeys: 2 }));
    expect(page1.Contents?.map((object) => object.Key)).toEqual(['a.txt']);
    expect(page1.CommonPrefixes?.map((prefix) => prefix.Prefix)).toEqual(['docs/']);
    expect(page1.IsTruncated).toBe(true);
    const page2 = await client.send(
      new ListObjectsV2Command({
        Bucket: name,
        Delimiter: '/',
        ContinuationToken: page1.NextContinuationToken,
      }),
    );
    expect(page2.Contents?.map((object) => object.Key)).toEqual(['z.txt']);
    expect(page2.IsTruncated).toBe(false);
    const underDocs = await client.send(
      new ListObjectsV2Command({ Bucket: name, Prefix: 'docs/', StartAfter: 'docs/b.txt' }),
    );
    expect(underDocs.Contents?.map((object) => [object.Key, object.Size])).toEqual([
      ['docs/readme.txt', 13],
      ['docs/sub/c.txt', 14],
    ]);
    expect(underDocs.Contents?.[0]?.ETag).toBe(written.ETag);
    const v1 = await client.send(new ListObjectsCommand({ Bucket: name, Marker: 'docs/sub/c.txt' }));
    expect(v1.Contents?.map((object) => object.Key)).toEqual(['z.txt']);

    await client.send(
      new CopyObjectCommand({ Bucket: name, Key: 'copied.txt', CopySource: `${name}/docs/readme.txt` }),
    );
    expect(await textOf(name, 'copied.txt')).toBe('hello virtual');
    await put(members.plain.name!, 'outside.txt', 'from a registered bucket');
    await client.send(
      new CopyObjectCommand({
        Bucket: name,
        Key: 'imported.txt',
        CopySource: `${members.plain.name}/outside.txt`,
      }),
    );
    expect(await textOf(name, 'imported.txt')).toBe('from a registered bucket');

    await client.send(new DeleteObjectCommand({ Bucket: name, Key: 'a.txt' }));
    await expect(textOf(name, 'a.txt')).rejects.toMatchObject({ name: 'NoSuchKey' });
    expect(await holders('a.txt', [members.azure, members.plain])).toEqual([]);
    const deleted = await client.send(
      new DeleteObjectsCommand({
        Bucket: name,
        Delete: { Objects: [{ Key: 'z.txt' }, { Key: 'copied.txt' }] },
      }),
    );
    expect(deleted.Deleted?.map((object) => object.Key).sort()).toEqual(['copied.txt', 'z.txt']);
    const remaining = await client.send(new ListObjectsV2Command({ Bucket: name }));
    expect(remaining.Contents?.map((object) => object.Key)).toEqual([
      'docs/b.txt',
      'docs/readme.txt',
      'docs/sub/c.txt',
      'imported.txt',
    ]);
  });

  it('lists from the index exactly as a registered bucket lists the same keys', async () => {
    const name = 'listing';
    await createVirtualBucket(name, [members.azure.id, members.plain.id], {});
    // No key is also a folder of another: MinIO, the registered bucket here, stores keys as files.
    const keys = [
      'a/b/c',
      'a/bc',
      'a-b',
      'a0',
      'b.dot',
      'b/x',
      'c~tilde',
      'photos/2024/01/x.jpg',
      'photos/2024/02/y.jpg',
      'photos/2025/z.jpg',
      'photos/readme',
      'zz',
      'é-accent',
      '日本',
    ];
    const real = members.plain.name!;
    for (const key of keys) {
      await put(name, key, key);
      await put(real, `list-compare/${key}`, key);
    }
    const requests = [
      {},
      { Delimiter: '/' },
      { Prefix: 'photos/', Delimiter: '/' },
      { Prefix: 'photos/2024/' },
      { Prefix: 'a', Delimiter: '/' },
      { Delimiter: 'b' },
      { StartAfter: 'a/bc' },
      { StartAfter: 'photos/2024/01/x.jpg', Delimiter: '/' },
      { MaxKeys: 3, Delimiter: '/' },
      { MaxKeys: 2, Prefix: 'photos/' },
    ];
    const pagesOf = async (bucket: string, prefix: string, request: Record<string, unknown>) => {
      const pages: unknown[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            ...request,
            Prefix: `${prefix}${(request.Prefix as string | undefined) ?? ''}`,
            StartAfter: request.StartAfter ? `${prefix}${request.StartAfter}` : undefined,
            ContinuationToken: token,
          }),
        );
        const strip = (key = '') => key.slice(prefix.length);
        pages.push({
          keys: page.Contents?.map((object) => [strip(object.Key), object.Size]) ?? [],
          prefixes: page.CommonPrefixes?.map((common) => strip(common.Prefix)) ?? [],
          truncated: page.IsTruncated,
        });
        token = page.NextContinuationToken;
      } while (token);
      return pages;
    };
    for (const request of requests)
      expect(await pagesOf(name, '', request), JSON.stringify(request)).toEqual(
        await pagesOf(real, 'list-compare/', request),
      );
  });

  it('keeps a multipart upload on the member it started on, and indexes the assembled object', async () => {
    const name = 'multi';
    await createVirtualBucket(name, [members.plain.id, members.azure.id], { strategy: 'PRIORITY' });
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1234)];
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: name, Key: 'big.bin' }),
    );
    const etags: string[] = [];
    for (const [index, body] of parts.entries()) {
      const part = await client.send(
        new UploadPartCommand({ Bucket: name, Key: 'big.bin', UploadId, PartNumber: index + 1, Body: body }),
      );
      etags.push(part.ETag!);
    }
    const completed = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: name,
        Key: 'big.bin',
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) },
      }),
    );
    expect(await holders('big.bin', [members.plain, members.azure])).toEqual([members.plain.id]);
    const head = await client.send(new HeadObjectCommand({ Bucket: name, Key: 'big.bin' }));
    expect([head.ContentLength, head.ETag]).toEqual([parts[0]!.length + parts[1]!.length, completed.ETag]);
    const got = await client.send(new GetObjectCommand({ Bucket: name, Key: 'big.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(parts))).toBe(true);

    const aborted = await client.send(new CreateMultipartUploadCommand({ Bucket: name, Key: 'gone.bin' }));
    await client.send(
      new AbortMultipartUploadCommand({ Bucket: name, Key: 'gone.bin', UploadId: aborted.UploadId }),
    );
    await expect(
      client.send(
        new UploadPartCommand({
          Bucket: name,
          Key: 'gone.bin',
          UploadId: aborted.UploadId,
          PartNumber: 1,
          Body: 'x',
        }),
      ),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });
  });

  it('sends no write to a member at its storage cap, and meters each write under the member that took it', async () => {
    const name = 'capped';
    await createVirtualBucket(name, [members.capped.id, members.azure.id], { strategy: 'PRIORITY' });
    await put(name, 'first', 'a'.repeat(6_000));
    await put(name, 'second', 'b'.repeat(6_000));
    await put(name, 'third', 'c'.repeat(3_000));
    expect(await holders('first', [members.capped, members.azure])).toEqual([members.capped.id]);
    expect(await holders('second', [members.capped, members.azure])).toEqual([members.azure.id]);
    expect(await holders('third', [members.capped, members.azure])).toEqual([members.capped.id]);
    expect(await textOf(name, 'second')).toBe('b'.repeat(6_000));
    await bridge.usage.flush();
    const puts = await stack.orm.em
      .fork()
      .find(UsageEvent, { repositoryId: repoId, operation: 'PutObject', bytesIn: { $in: [6_000, 3_000] } });
    expect(puts.map((event) => event.bucketId).sort()).toEqual(
      [members.capped.id, members.capped.id, members.azure.id].sort(),
    );
  });

  it('moves writes off a failing member, answers 503 for objects living there, and writes to it again once it recovers', async () => {
    const name = 'failover';
    const policy = { strategy: 'PRIORITY', failureThreshold: 2, coolDownSeconds: 1 };
    await createVirtualBucket(name, [members.minio.id, members.azure.id], policy);
    const both = [members.minio, members.azure];
    await put(name, 'before', 'stored on minio');
    expect(await holders('before', both)).toEqual([members.minio.id]);

    await proxy.refuse();
    for (const key of ['down-1', 'down-2', 'down-3']) {
      await put(name, key, key);
      expect(await holders(key, both), key).toEqual([members.azure.id]);
    }
    const unreachable = await signedFetch(bridge.endpoint, credentials, {
      method: 'GET',
      path: `/${name}/before`,
    });
    expect([unreachable.status, s3ErrorCode(unreachable)]).toEqual([503, 'ServiceUnavailable']);
    expect(await textOf(name, 'down-1')).toBe('down-1');

    await proxy.pass();
    await sleep(1_100);
    await put(name, 'recovered', 'back on minio');
    expect(await holders('recovered', both)).toEqual([members.minio.id]);
    expect(await textOf(name, 'before')).toBe('stored on minio');
  });

  it('moves writes off a slow member and back once it is fast again', async () => {
    const name = 'slowdown';
    const policy = { strategy: 'PRIORITY', failureThreshold: 2, coolDownSeconds: 1, slowCallMs: 400 };
    await createVirtualBucket(name, [members.minio.id, members.azure.id], policy);
    const both = [members.minio, members.azure];
    await proxy.delay(700);
    // Slow answers still succeed, but each counts against the member's circuit.
    for (const key of ['slow-1', 'slow-2']) {
      await put(name, key, key);
      expect(await holders(key, both), key).toEqual([members.minio.id]);
    }
    await put(name, 'avoided', 'avoided');
    expect(await holders('avoided', both)).toEqual([members.azure.id]);

    await proxy.pass();
    await sleep(1_100);
    for (const key of ['fast-1', 'fast-2']) {
      await put(name, key, key);
      expect(await holders(key, both), key).toEqual([members.minio.id]);
    }
  });

  it('prefers the faster member under the WEIGHTED policy', async () => {
    const name = 'weighted';
    const policy = { strategy: 'WEIGHTED', weights: { reputation: 0, latency: 1, price: 0 } };
    await createVirtualBucket(name, [members.minio.id, members.azure.id], policy);
    // Latency is a moving average per member (each call counts 30 %), which earlier tests left
    // fast for MinIO: one slow write must lift it above Azurite's on a busy machine, where 800 ms
    // once did not (about 250 ms after one write).
    await proxy.delay(2_000);
    const placements: string[] = [];
    for (let index = 0; index < 6; index++) {
      await put(name, `w-${index}`, 'x');
      placements.push(...(await holders(`w-${index}`, [members.minio, members.azure])));
    }
    await proxy.pass();
    // Each member is measured at least once; from then on the faster one takes the writes.
    expect(placements.slice(-3)).toEqual([members.azure.id, members.azure.id, members.azure.id]);
  });
});
