/**
 * Multipart uploads through the S3 bridge with the real clients
 * (`@aws-sdk/lib-storage` Upload, the low-level `@aws-sdk/client-s3`
 * commands, hand-signed requests for what an SDK will not send) on MinIO,
 * fake-gcs-server and Azurite.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBridge, type TestBridge } from '../helpers/bridge.ts';
import { adminApi, startTestStack, type TestStack } from '../helpers/context.ts';
import { type Backend, backends, createThreeBackendRepository } from '../helpers/emulator-buckets.ts';
import { s3ErrorCode, signedFetch, signHeaders } from '../helpers/signed-request.ts';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

async function bodyOf(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

describe('S3 bridge multipart uploads', () => {
  let stack: TestStack;
  let bridge: TestBridge;
  let names: Record<Backend, string>;
  const keys: Record<string, { accessKeyId: string; secretAccessKey: string }> = {};
  const clients: Record<string, S3Client> = {};

  beforeAll(async () => {
    stack = await startTestStack();
    bridge = await startTestBridge(stack);
    const call = await adminApi(stack);
    const repository = await createThreeBackendRepository(call, 'multipart');
    names = repository.names;
    for (const scope of ['READ', 'WRITE', 'READ_WRITE', 'ADMIN']) {
      keys[scope] = (await call('POST', `/repo/${repository.repoId}/apikey`, { name: scope, scope })).body;
      clients[scope] = bridge.client(keys[scope]!);
    }
  });
  afterAll(async () => {
    await bridge?.close();
    await stack?.close();
  });

  const writer = () => clients.READ_WRITE!;
  const admin = () => clients.ADMIN!;

  describe.each(backends)('on %s', (backend) => {
    const bucket = () => names[backend];

    it('lib-storage Upload sends 17 MiB in four parts; HEAD, GET and LIST agree with what it returned', async () => {
      const data = randomBytes(17 * MiB);
      const upload = new Upload({
        client: writer(),
        params: {
          Bucket: bucket(),
          Key: 'lib-storage/object.bin',
          Body: Readable.from([data.subarray(0, 9 * MiB), data.subarray(9 * MiB)]),
          ContentType: 'application/x-multipart',
          Metadata: { origin: 'lib-storage' },
        },
        partSize: PART,
        queueSize: 2,
      });
      const parts: number[] = [];
      upload.on('httpUploadProgress', (progress) => progress.part && parts.push(progress.part));
      const done = await upload.done();
      expect(new Set(parts).size).toBe(4);
      const head = await writer().send(
        new HeadObjectCommand({ Bucket: bucket(), Key: 'lib-storage/object.bin' }),
      );
      expect(head).toMatchObject({
        ContentLength: data.length,
        ContentType: 'application/x-multipart',
        Metadata: { origin: 'lib-storage' },
        ETag: done.ETag,
      });
      const listed = await writer().send(
        new ListObjectsV2Command({ Bucket: bucket(), Prefix: 'lib-storage/' }),
      );
      expect(listed.Contents?.map((object) => [object.Key, object.ETag, object.Size])).toEqual([
        ['lib-storage/object.bin', done.ETag, data.length],
      ]);
      expect(md5(await bodyOf(writer(), bucket(), 'lib-storage/object.bin'))).toBe(md5(data));
    });

    it('low-level calls: parts (one copied from another backend), ListParts and ListMultipartUploads paging, complete', async () => {
      const key = 'low-level/assembled.bin';
      const created = await writer().send(
        new CreateMultipartUploadCommand({ Bucket: bucket(), Key: key, ContentType: 'text/x-parts' }),
      );
      const UploadId = created.UploadId!;
      const first = randomBytes(PART);
      const last = randomBytes(1000);
      const source = randomBytes(PART + 4321);
      const sourceBucket = names[backend === 'minio' ? 'azure' : 'minio'];
      await writer().send(
        new PutObjectCommand({ Bucket: sourceBucket, Key: 'copy-source.bin', Body: source }),
      );

      const part1 = await writer().send(
        new UploadPartCommand({ Bucket: bucket(), Key: key, UploadId, PartNumber: 1, Body: first }),
      );
      expect(part1.ETag).toBe(`"${md5(first)}"`);
      const part2 = await writer().send(
        new UploadPartCopyCommand({
          Bucket: bucket(),
          Key: key,
          UploadId,
          PartNumber: 2,
          CopySource: `${sourceBucket}/copy-source.bin`,
          CopySourceRange: `bytes=100-${100 + PART - 1}`,
        }),
      );
      expect(part2.CopyPartResult?.ETag).toBe(`"${md5(source.subarray(100, 100 + PART))}"`);
      const part3 = await writer().send(
        new UploadPartCommand({ Bucket: bucket(), Key: key, UploadId, PartNumber: 3, Body: last }),
      );

      const page1 = await admin().send(
        new ListPartsCommand({ Bucket: bucket(), Key: key, UploadId, MaxParts: 2 }),
      );
      expect(page1.Parts?.map((part) => [part.PartNumber, part.Size])).toEqual([
        [1, PART],
        [2, PART],
      ]);
      expect(page1).toMatchObject({ IsTruncated: true, NextPartNumberMarker: '2' });
      const page2 = await admin().send(
        new ListPartsCommand({ Bucket: bucket(), Key: key, UploadId, PartNumberMarker: '2' }),
      );
      expect(page2.Parts?.map((part) => [part.PartNumber, part.ETag])).toEqual([[3, part3.ETag]]);
      expect(page2.IsTruncated).toBe(false);

      const other = await writer().send(
        new CreateMultipartUploadCommand({ Bucket: bucket(), Key: 'low-level/other' }),
      );
      const uploads1 = await admin().send(
        new ListMultipartUploadsCommand({ Bucket: bucket(), Prefix: 'low-level/', MaxUploads: 1 }),
      );
      expect(uploads1.Uploads?.map((upload) => [upload.Key, upload.UploadId])).toEqual([[key, UploadId]]);
      expect(uploads1.IsTruncated).toBe(true);
      const uploads2 = await admin().send(
        new ListMultipartUploadsCommand({
          Bucket: bucket(),
          Prefix: 'low-level/',
          KeyMarker: uploads1.NextKeyMarker,
          UploadIdMarker: uploads1.NextUploadIdMarker,
        }),
      );
      expect(uploads2.Uploads?.map((upload) => upload.UploadId)).toEqual([other.UploadId]);
      expect(uploads2.IsTruncated).toBe(false);
      const grouped = await admin().send(
        new ListMultipartUploadsCommand({ Bucket: bucket(), Delimiter: '/' }),
      );
      expect(grouped.CommonPrefixes?.map((prefix) => prefix.Prefix)).toEqual(['low-level/']);
      expect(grouped.Uploads ?? []).toEqual([]);

      const completed = await writer().send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket(),
          Key: key,
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: part1.ETag },
              { PartNumber: 2, ETag: part2.CopyPartResult?.ETag },
              { PartNumber: 3, ETag: part3.ETag },
            ],
          },
        }),
      );
      const head = await writer().send(new HeadObjectCommand({ Bucket: bucket(), Key: key }));
      expect(head).toMatchObject({ ETag: completed.ETag, ContentType: 'text/x-parts' });
      const expected = Buffer.concat([first, source.subarray(100, 100 + PART), last]);
      expect(md5(await bodyOf(writer(), bucket(), key))).toBe(md5(expected));

      await writer().send(
        new AbortMultipartUploadCommand({
          Bucket: bucket(),
          Key: 'low-level/other',
          UploadId: other.UploadId,
        }),
      );
      const remaining = await admin().send(new ListMultipartUploadsCommand({ Bucket: bucket() }));
      expect(remaining.Uploads ?? []).toEqual([]);
    });

    it('refuses bad part lists with the S3 error and keeps the upload completable', async () => {
      const key = 'bad-lists.bin';
      const { UploadId } = await writer().send(
        new CreateMultipartUploadCommand({ Bucket: bucket(), Key: key }),
      );
      const small = Buffer.from('too small to be anything but the last part');
      const big = randomBytes(PART);
      const p1 = await writer().send(
        new UploadPartCommand({ Bucket: bucket(), Key: key, UploadId, PartNumber: 1, Body: small }),
      );
      const p2 = await writer().send(
        new UploadPartCommand({ Bucket: bucket(), Key: key, UploadId, PartNumber: 2, Body: big }),
      );
      const complete = (Parts: { PartNumber: number; ETag?: string }[]) =>
        writer().send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket(),
            Key: key,
            UploadId,
            MultipartUpload: { Parts },
          }),
        );
      await expect(
        complete([
          { PartNumber: 2, ETag: p2.ETag },
          { PartNumber: 1, ETag: p1.ETag },
        ]),
      ).rejects.toMatchObject({
        name: 'InvalidPartOrder',
      });
      await expect(
        complete([
          { PartNumber: 1, ETag: p1.ETag },
          { PartNumber: 2, ETag: p2.ETag },
        ]),
      ).rejects.toMatchObject({
        name: 'EntityTooSmall',
      });
      await expect(
        complete([{ PartNumber: 2, ETag: '"0123456789abcdef0123456789abcdef"' }]),
      ).rejects.toMatchObject({
        name: 'InvalidPart',
      });
      await expect(complete([{ PartNumber: 3, ETag: p2.ETag }])).rejects.toMatchObject({
        name: 'InvalidPart',
      });
      const malformed = await signedFetch(bridge.endpoint, keys.READ_WRITE!, {
        method: 'POST',
        path: `/${bucket()}/${key}`,
        query: { uploadId: UploadId! },
        body: '<CompleteMultipartUpload><Part><PartNumber>1</Part>',
      });
      expect([malformed.status, s3ErrorCode(malformed)]).toEqual([400, 'MalformedXML']);
      await expect(
        writer().send(new HeadObjectCommand({ Bucket: bucket(), Key: key })),
      ).rejects.toMatchObject({
        name: 'NotFound',
      });
      await complete([{ PartNumber: 2, ETag: p2.ETag }]);
      expect(md5(await bodyOf(writer(), bucket(), key))).toBe(md5(big));
      // Completed: the upload is gone.
      await expect(complete([{ PartNumber: 2, ETag: p2.ETag }])).rejects.toMatchObject({
        name: 'NoSuchUpload',
      });
    });

    it('abort removes the upload; its parts and id are no longer usable and no object appears', async () => {
      const key = 'aborted.bin';
      const { UploadId } = await writer().send(
        new CreateMultipartUploadCommand({ Bucket: bucket(), Key: key }),
      );
      await writer().send(
        new UploadPartCommand({
          Bucket: bucket(),
          Key: key,
          UploadId,
          PartNumber: 1,
          Body: randomBytes(1000),
        }),
      );
      await writer().send(new AbortMultipartUploadCommand({ Bucket: bucket(), Key: key, UploadId }));
      await expect(
        writer().send(
          new UploadPartCommand({ Bucket: bucket(), Key: key, UploadId, PartNumber: 2, Body: 'x' }),
        ),
      ).rejects.toMatchObject({ name: 'NoSuchUpload' });
      await expect(
        writer().send(new AbortMultipartUploadCommand({ Bucket: bucket(), Key: key, UploadId })),
      ).rejects.toMatchObject({
        name: 'NoSuchUpload',
      });
      await expect(
        writer().send(new HeadObjectCommand({ Bucket: bucket(), Key: key })),
      ).rejects.toMatchObject({
        name: 'NotFound',
      });
      const listed = await writer().send(new ListObjectsV2Command({ Bucket: bucket(), Prefix: 'aborted' }));
      expect(listed.KeyCount).toBe(0);
    });
  });

  it('a part cut off mid-stream is not recorded, and the upload can still be aborted cleanly', async () => {
    const bucket = names.azure;
    const key = 'cut-off-part.bin';
    const { UploadId } = await writer().send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const path = `/${bucket}/${key}`;
    const query = { partNumber: '1', uploadId: UploadId! };
    const headers = await signHeaders(bridge.endpoint, keys.READ_WRITE!, {
      method: 'PUT',
      path,
      query,
      payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-length': String(PART) },
    });
    const url = new URL(bridge.endpoint);
    await new Promise<void>((resolve) => {
      const upload = httpRequest({
        host: url.hostname,
        port: url.port,
        method: 'PUT',
        path: `${path}?partNumber=1&uploadId=${UploadId}`,
        headers,
      });
      upload.on('error', () => resolve());
      upload.on('close', () => resolve());
      upload.write(Buffer.alloc(MiB, 1), () => setTimeout(() => upload.destroy(), 100));
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const parts = await admin().send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }));
    expect(parts.Parts ?? []).toEqual([]);
    await writer().send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
    await expect(writer().send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).rejects.toMatchObject({
      name: 'NotFound',
    });
  });

  it('GCS: an upload of 34 parts is composed in stages (a compose request takes 32)', async () => {
    const part = randomBytes(PART);
    const upload = new Upload({
      client: writer(),
      params: {
        Bucket: names.gcs,
        Key: 'many-parts.bin',
        Body: Readable.from(Array.from({ length: 34 }, () => part)),
      },
      partSize: PART,
      queueSize: 4,
    });
    await upload.done();
    const head = await writer().send(new HeadObjectCommand({ Bucket: names.gcs, Key: 'many-parts.bin' }));
    expect(head.ContentLength).toBe(34 * PART);
    const hash = createHash('md5');
    for (let index = 0; index < 34; index++) hash.update(part);
    expect(md5(await bodyOf(writer(), names.gcs, 'many-parts.bin'))).toBe(hash.digest('hex'));
  }, 180_000);

  it('enforces scopes: READ cannot start or send parts, only ADMIN lists uploads and parts', async () => {
    const bucket = names.minio;
    await expect(
      clients.READ!.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'scoped' })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    const { UploadId } = await clients.WRITE!.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'scoped' }),
    );
    await expect(
      clients.READ!.send(
        new UploadPartCommand({ Bucket: bucket, Key: 'scoped', UploadId, PartNumber: 1, Body: 'x' }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    for (const scope of ['READ', 'WRITE', 'READ_WRITE']) {
      await expect(
        clients[scope]!.send(new ListMultipartUploadsCommand({ Bucket: bucket })),
      ).rejects.toMatchObject({
        name: 'AccessDenied',
      });
      await expect(
        clients[scope]!.send(new ListPartsCommand({ Bucket: bucket, Key: 'scoped', UploadId })),
      ).rejects.toMatchObject({ name: 'AccessDenied' });
    }
    await expect(
      admin().send(new ListPartsCommand({ Bucket: bucket, Key: 'scoped', UploadId })),
    ).resolves.toBeDefined();
  });

  it('refuses unknown upload ids, another key’s upload id, bad part numbers and oversized parts', async () => {
    const bucket = names.minio;
    const { UploadId } = await writer().send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mine' }),
    );
    const send = (key: string, query: Record<string, string>, headers: Record<string, string> = {}) =>
      signedFetch(bridge.endpoint, keys.READ_WRITE!, {
        method: 'PUT',
        path: `/${bucket}/${key}`,
        query,
        headers,
        body: 'x',
      });
    const outcome = async (response: Promise<{ status: number; body: string }>) => {
      const { status, body } = await response;
      return [status, s3ErrorCode({ body })];
    };
    expect(await outcome(send('mine', { partNumber: '1', uploadId: 'f'.repeat(32) }))).toEqual([
      404,
      'NoSuchUpload',
    ]);
    expect(await outcome(send('mine', { partNumber: '1', uploadId: 'not-even-hex' }))).toEqual([
      404,
      'NoSuchUpload',
    ]);
    expect(await outcome(send('other-key', { partNumber: '1', uploadId: UploadId! }))).toEqual([
      404,
      'NoSuchUpload',
    ]);
    expect(await outcome(send('mine', { partNumber: '0', uploadId: UploadId! }))).toEqual([
      400,
      'InvalidArgument',
    ]);
    expect(await outcome(send('mine', { partNumber: '10001', uploadId: UploadId! }))).toEqual([
      400,
      'InvalidArgument',
    ]);
    const oversized = await signedFetch(bridge.endpoint, keys.READ_WRITE!, {
      method: 'PUT',
      path: `/${bucket}/mine`,
      query: { partNumber: '1', uploadId: UploadId! },
      headers: {
        'x-amz-decoded-content-length': String(5 * 1024 ** 3 + 1),
        'content-encoding': 'aws-chunked',
      },
      body: '',
    });
    expect([oversized.status, s3ErrorCode(oversized)]).toEqual([400, 'EntityTooLarge']);
    expect(
      await outcome(
        signedFetch(bridge.endpoint, keys.READ_WRITE!, {
          method: 'GET',
          path: `/${bucket}/mine`,
          query: { partNumber: '1' },
        }),
      ),
    ).toEqual([501, 'NotImplemented']);
  });
});
