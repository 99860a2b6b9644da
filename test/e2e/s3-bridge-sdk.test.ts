/**
 * The S3 bridge with the real `@aws-sdk/client-s3` (default checksums on):
 * one repository whose buckets live on MinIO, fake-gcs-server and Azurite.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestBridge, type TestBridge } from '../helpers/bridge.ts';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';
import { type Backend, backends, createThreeBackendRepository } from '../helpers/emulator-buckets.ts';

describe('S3 bridge with @aws-sdk/client-s3', () => {
  let stack: TestStack;
  let bridge: TestBridge;
  let token: string;
  let repoId: string;
  let client: S3Client;
  let readOnly: S3Client;
  let names: Record<Backend, string>;
  const call = (method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });

  beforeAll(async () => {
    stack = await startTestStack();
    bridge = await startTestBridge(stack);
    token = await login(stack.baseUrl, stack.admin);
    ({ repoId, names } = await createThreeBackendRepository(call, 'e2e'));
    const key = (await call('POST', `/repo/${repoId}/apikey`, { name: 'sdk', scope: 'READ_WRITE' })).body;
    client = bridge.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
    const reader = (await call('POST', `/repo/${repoId}/apikey`, { name: 'reader', scope: 'READ' })).body;
    readOnly = bridge.client({ accessKeyId: reader.accessKeyId, secretAccessKey: reader.secretAccessKey });
  });
  afterAll(async () => {
    await bridge?.close();
    await stack?.close();
  });

  it("lists the repository's buckets under their registered names", async () => {
    const listed = await client.send(new ListBucketsCommand({}));
    expect(listed.Buckets?.map((bucket) => bucket.Name).sort()).toEqual(Object.values(names).sort());
    for (const backend of backends) {
      await expect(client.send(new HeadBucketCommand({ Bucket: names[backend] }))).resolves.toBeDefined();
      const location = await client.send(new GetBucketLocationCommand({ Bucket: names[backend] }));
      expect(location.LocationConstraint ?? '').toBe('');
    }
  });

  describe.each(backends)('on %s', (backend) => {
    const bucket = () => names[backend];

    it('puts, heads, gets (whole, ranged, conditional) and deletes objects, with metadata', async () => {
      const body = randomBytes(300_000);
      const put = await client.send(
        new PutObjectCommand({
          Bucket: bucket(),
          Key: 'dir/hello world+ü.bin',
          Body: body,
          ContentType: 'application/x-test',
          Metadata: { origin: 'e2e' },
        }),
      );
      expect(put.ETag).toMatch(/^".+"$/);
      const head = await client.send(
        new HeadObjectCommand({ Bucket: bucket(), Key: 'dir/hello world+ü.bin' }),
      );
      expect(head).toMatchObject({
        ContentLength: body.length,
        ContentType: 'application/x-test',
        ETag: put.ETag,
      });
      expect(head.Metadata).toMatchObject({ origin: 'e2e' });
      const got = await client.send(new GetObjectCommand({ Bucket: bucket(), Key: 'dir/hello world+ü.bin' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      expect(got.ETag).toBe(put.ETag);
      const ranged = await client.send(
        new GetObjectCommand({ Bucket: bucket(), Key: 'dir/hello world+ü.bin', Range: 'bytes=100-199' }),
      );
      expect(ranged.ContentRange).toBe(`bytes 100-199/${body.length}`);
      expect(Buffer.from(await ranged.Body!.transformToByteArray()).equals(body.subarray(100, 200))).toBe(
        true,
      );
      await expect(
        client.send(
          new GetObjectCommand({ Bucket: bucket(), Key: 'dir/hello world+ü.bin', IfMatch: '"nope"' }),
        ),
      ).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
      await expect(
        client.send(
          new GetObjectCommand({ Bucket: bucket(), Key: 'dir/hello world+ü.bin', IfNoneMatch: put.ETag }),
        ),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 304 } });
      await client.send(new DeleteObjectCommand({ Bucket: bucket(), Key: 'dir/hello world+ü.bin' }));
      await expect(
        client.send(new HeadObjectCommand({ Bucket: bucket(), Key: 'dir/hello world+ü.bin' })),
      ).rejects.toMatchObject({
        $metadata: { httpStatusCode: 404 },
      });
      await expect(
        client.send(new GetObjectCommand({ Bucket: bucket(), Key: 'dir/hello world+ü.bin' })),
      ).rejects.toMatchObject({
        name: 'NoSuchKey',
      });
    });

    it('streams a 24 MiB upload of unknown length (aws-chunked with a trailing checksum) and reads it back', async () => {
      const size = 24 * 1024 * 1024;
      let sent = 0;
      const source = new Readable({
        read() {
          if (sent >= size) return this.push(null);
          const chunk = Buffer.alloc(Math.min(1024 * 1024, size - sent), sent % 251);
          sent += chunk.length;
          this.push(chunk);
        },
      });
      await client.send(
        new PutObjectCommand({ Bucket: bucket(), Key: 'big.bin', Body: source, ContentLength: size }),
      );
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket(), Key: 'big.bin' }));
      expect(head.ContentLength).toBe(size);
      const got = await client.send(new GetObjectCommand({ Bucket: bucket(), Key: 'big.bin' }));
      let received = 0;
      for await (const chunk of got.Body as Readable) received += (chunk as Buffer).length;
      expect(received).toBe(size);
    }, 120_000);

    it('lists with prefix, delimiter, pagination, start-after and V1 markers; deletes in bulk', async () => {
      const keys = ['a/1.txt', 'a/2.txt', 'a/b/3.txt', 'c.txt', 'd.txt'];
      for (const key of keys)
        await client.send(new PutObjectCommand({ Bucket: bucket(), Key: `list/${key}`, Body: key }));
      const delimited = await client.send(
        new ListObjectsV2Command({ Bucket: bucket(), Prefix: 'list/', Delimiter: '/' }),
      );
      expect(delimited.Contents?.map((object) => object.Key)).toEqual(['list/c.txt', 'list/d.txt']);
      expect(delimited.CommonPrefixes?.map((prefix) => prefix.Prefix)).toEqual(['list/a/']);
      const seen: string[] = [];
      let continuationToken: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket(),
            Prefix: 'list/',
            MaxKeys: 2,
            ContinuationToken: continuationToken,
          }),
        );
        expect(page.KeyCount).toBeLessThanOrEqual(2);
        seen.push(...(page.Contents ?? []).map((object) => object.Key!));
        continuationToken = page.NextContinuationToken;
      } while (continuationToken);
      expect(seen).toEqual(keys.map((key) => `list/${key}`));
      const after = await client.send(
        new ListObjectsV2Command({ Bucket: bucket(), Prefix: 'list/', StartAfter: 'list/a/b/3.txt' }),
      );
      expect(after.Contents?.map((object) => object.Key)).toEqual(['list/c.txt', 'list/d.txt']);
      const v1 = await client.send(
        new ListObjectsCommand({ Bucket: bucket(), Prefix: 'list/', Marker: 'list/c.txt' }),
      );
      expect(v1.Contents?.map((object) => object.Key)).toEqual(['list/d.txt']);
      const deleted = await client.send(
        new DeleteObjectsCommand({
          Bucket: bucket(),
          Delete: { Objects: keys.map((key) => ({ Key: `list/${key}` })) },
        }),
      );
      expect(deleted.Deleted?.map((object) => object.Key).sort()).toEqual(
        keys.map((key) => `list/${key}`).sort(),
      );
      const empty = await client.send(new ListObjectsV2Command({ Bucket: bucket(), Prefix: 'list/' }));
      expect(empty.KeyCount).toBe(0);
    });
  });

  it('copies objects between any two backends, keeping or replacing metadata', async () => {
    const body = randomBytes(100_000);
    await client.send(
      new PutObjectCommand({
        Bucket: names.minio,
        Key: 'copy/source.bin',
        Body: body,
        ContentType: 'image/x-test',
        Metadata: { from: 'minio' },
      }),
    );
    let previous = { bucket: names.minio, key: 'copy/source.bin' };
    for (const backend of ['gcs', 'azure', 'minio'] as const) {
      const target = { bucket: names[backend], key: `copy/from-${previous.bucket}.bin` };
      const copied = await client.send(
        new CopyObjectCommand({
          Bucket: target.bucket,
          Key: target.key,
          CopySource: `${previous.bucket}/${encodeURIComponent(previous.key)}`,
        }),
      );
      expect(copied.CopyObjectResult?.ETag).toMatch(/^".+"$/);
      const got = await client.send(new GetObjectCommand({ Bucket: target.bucket, Key: target.key }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      expect(got).toMatchObject({ ContentType: 'image/x-test', Metadata: { from: 'minio' } });
      previous = target;
    }
    await client.send(
      new CopyObjectCommand({
        Bucket: names.azure,
        Key: 'copy/replaced.bin',
        CopySource: `${names.minio}/copy/source.bin`,
        MetadataDirective: 'REPLACE',
        ContentType: 'text/plain',
        Metadata: { replaced: 'yes' },
      }),
    );
    const replaced = await client.send(
      new HeadObjectCommand({ Bucket: names.azure, Key: 'copy/replaced.bin' }),
    );
    expect(replaced).toMatchObject({ ContentType: 'text/plain', Metadata: { replaced: 'yes' } });
    await expect(
      client.send(
        new CopyObjectCommand({
          Bucket: names.minio,
          Key: 'copy/source.bin',
          CopySource: `${names.minio}/copy/source.bin`,
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidRequest' });
    await expect(
      client.send(
        new CopyObjectCommand({
          Bucket: names.minio,
          Key: 'x',
          CopySource: 'not-in-this-repo/copy/source.bin',
        }),
      ),
    ).rejects.toMatchObject({ name: 'NoSuchBucket' });
    await expect(
      readOnly.send(
        new CopyObjectCommand({
          Bucket: names.minio,
          Key: 'x',
          CopySource: `${names.minio}/copy/source.bin`,
        }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it.each(backends)(
    'copies within one %s account on the backend: no byte passes through the bridge',
    async (backend) => {
      const bucket = names[backend];
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'native/source',
          Body: 'native bytes',
          Metadata: { a: '1' },
        }),
      );
      const { store } = (await bridge.buckets.find(repoId, bucket))!;
      const streamed = vi.spyOn(store, 'get');
      const native = vi.spyOn(store, 'copyFrom');
      try {
        const copied = await client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: 'native/copy',
            CopySource: `${bucket}/native/source`,
          }),
        );
        await client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: 'native/source',
            CopySource: `${bucket}/native/source`,
            MetadataDirective: 'REPLACE',
            ContentType: 'text/x-replaced',
            Metadata: { b: '2' },
          }),
        );
        expect(streamed).not.toHaveBeenCalled();
        expect(native).toHaveBeenCalledTimes(2);
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'native/copy' }));
        expect(head).toMatchObject({ ETag: copied.CopyObjectResult?.ETag, Metadata: { a: '1' } });
        const replaced = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'native/source' }));
        expect(replaced).toMatchObject({ ContentType: 'text/x-replaced', Metadata: { b: '2' } });
        expect(await replaced.Body!.transformToString()).toBe('native bytes');
      } finally {
        streamed.mockRestore();
        native.mockRestore();
      }
    },
  );

  it('enforces scopes and repository membership', async () => {
    await client.send(new PutObjectCommand({ Bucket: names.minio, Key: 'scoped.txt', Body: 'x' }));
    await expect(
      readOnly.send(new GetObjectCommand({ Bucket: names.minio, Key: 'scoped.txt' })),
    ).resolves.toBeDefined();
    await expect(
      readOnly.send(new PutObjectCommand({ Bucket: names.minio, Key: 'scoped.txt', Body: 'y' })),
    ).rejects.toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    await expect(client.send(new ListObjectsV2Command({ Bucket: 'not-in-this-repo' }))).rejects.toMatchObject(
      { name: 'NoSuchBucket' },
    );
  });

  it('refuses a wrong secret, an unknown key and a revoked key with S3 errors', async () => {
    const key = (await call('POST', `/repo/${repoId}/apikey`, { name: 'doomed', scope: 'READ' })).body;
    const wrongSecret = bridge.client({ accessKeyId: key.accessKeyId, secretAccessKey: 'x'.repeat(40) });
    await expect(wrongSecret.send(new ListBucketsCommand({}))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
    });
    const unknown = bridge.client({ accessKeyId: 'SKBAAAAAAAAAAAAAAAAA', secretAccessKey: 'x'.repeat(40) });
    await expect(unknown.send(new ListBucketsCommand({}))).rejects.toMatchObject({
      name: 'InvalidAccessKeyId',
    });
    const valid = bridge.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
    await expect(valid.send(new ListBucketsCommand({}))).resolves.toBeDefined();
    await call('DELETE', `/repo/${repoId}/apikey/${key.id}`);
    // Revocation reaches the bridge's cache through PostgreSQL NOTIFY.
    let refused = false;
    for (let attempt = 0; attempt < 50 && !refused; attempt++) {
      refused = await valid.send(new ListBucketsCommand({})).then(
        () => false,
        (error: { name?: string }) => error.name === 'InvalidAccessKeyId',
      );
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refused).toBe(true);
  });
});
