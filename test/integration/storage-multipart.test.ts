/**
 * Multipart uploads and server-side copies through the three ObjectStore
 * adapters, against MinIO, fake-gcs-server and Azurite.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  type BucketConnection,
  createObjectStore,
  type MultipartUploadRef,
  multipartLimits,
  type ObjectStore,
  reservedKeyPrefix,
  type UploadedPart,
} from '../../providers/storage/index.ts';
import { S3ObjectStore } from '../../providers/storage/s3.ts';
import { services } from '../helpers/context.ts';
import {
  createAzuriteContainer,
  createGcsBucket,
  createMinioBucket,
  fakeServiceAccountJson,
} from '../helpers/emulator-buckets.ts';

const MiB = 1024 * 1024;

const connections: Record<string, (bucketName: string) => BucketConnection> = {
  minio: (bucketName) => {
    const { endpoint, accessKeyId, secretAccessKey } = services().minio;
    return {
      provider: 'S3_COMPATIBLE',
      bucketName,
      endpoint,
      forcePathStyle: true,
      credentials: { kind: 'S3_ACCESS_KEY', accessKeyId, secretAccessKey },
    };
  },
  gcs: (bucketName) => ({
    provider: 'GCS',
    bucketName,
    endpoint: services().gcs.endpoint,
    credentials: { kind: 'GCS_SERVICE_ACCOUNT', serviceAccountJson: serviceAccountJson },
  }),
  azure: (bucketName) => ({
    provider: 'AZURE',
    bucketName,
    credentials: { kind: 'AZURE_CONNECTION_STRING', connectionString: services().azurite.connectionString },
  }),
};
const serviceAccountJson = fakeServiceAccountJson();
const createBucket: Record<string, () => Promise<string>> = {
  minio: () => createMinioBucket(),
  gcs: () => createGcsBucket(),
  azure: () => createAzuriteContainer(),
};

const newUploadId = () => randomBytes(16).toString('hex');
const md5Etag = (data: Buffer) => `"${createHash('md5').update(data).digest('hex')}"`;

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function allKeys(store: ObjectStore, prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await store.list({ prefix, continuationToken });
    keys.push(...page.objects.map((object) => object.key));
    continuationToken = page.nextContinuationToken;
  } while (continuationToken);
  return keys;
}

async function uploadParts(
  store: ObjectStore,
  upload: MultipartUploadRef,
  parts: Buffer[],
): Promise<UploadedPart[]> {
  return Promise.all(
    parts.map((data, index) => store.uploadPart(upload, index + 1, Readable.from([data]), data.length)),
  );
}

async function startUpload(store: ObjectStore, key: string): Promise<MultipartUploadRef> {
  const upload: MultipartUploadRef = { key, uploadId: newUploadId() };
  const { backendUploadId } = await store.createMultipartUpload(upload, {
    contentType: 'application/x-test',
    metadata: { origin: 'multipart' },
  });
  return { ...upload, backendUploadId };
}

describe.each(Object.keys(connections))('multipart uploads: %s', (backend) => {
  const open = async () => createObjectStore(connections[backend]!(await createBucket[backend]!()));

  it('assembles parts in part-number order with content type and metadata; parts get MD5 ETags', async () => {
    const store = await open();
    const upload = await startUpload(store, 'big/object.bin');
    const parts = [
      randomBytes(multipartLimits.minPartSize),
      randomBytes(multipartLimits.minPartSize),
      randomBytes(1234),
    ];
    // Uploaded out of order: the part numbers decide the order.
    const uploaded = (await uploadParts(store, upload, parts)).sort((a, b) => a.partNumber - b.partNumber);
    expect(uploaded.map((part) => part.etag)).toEqual(parts.map(md5Etag));
    expect(uploaded.map((part) => part.size)).toEqual(parts.map((part) => part.length));
    await expect(store.head('big/object.bin')).rejects.toMatchObject({ code: 'NotFound' });

    const { etag } = await store.completeMultipartUpload(upload, uploaded, {
      contentType: 'application/x-test',
      metadata: { origin: 'multipart' },
    });
    const info = await store.head('big/object.bin');
    expect(info).toMatchObject({
      size: parts.reduce((sum, part) => sum + part.length, 0),
      contentType: 'application/x-test',
      metadata: { origin: 'multipart' },
    });
    expect(etag).toBe(info.etag);
    const { body } = await store.get('big/object.bin');
    expect((await readAll(body)).equals(Buffer.concat(parts))).toBe(true);
    expect(await allKeys(store)).toEqual(['big/object.bin']);
  });

  it('replaces a part uploaded twice and completes with a subset of the parts', async () => {
    const store = await open();
    const upload = await startUpload(store, 'retried');
    const first = randomBytes(multipartLimits.minPartSize);
    const again = randomBytes(multipartLimits.minPartSize);
    await store.uploadPart(upload, 1, Readable.from([first]), first.length);
    const part1 = await store.uploadPart(upload, 1, Readable.from([again]), again.length);
    await store.uploadPart(upload, 2, Readable.from([Buffer.from('unused')]), 6);
    const part3 = await store.uploadPart(upload, 3, Readable.from([Buffer.from('tail')]), 4);
    await store.completeMultipartUpload(upload, [part1, part3], {});
    const { body } = await store.get('retried');
    expect((await readAll(body)).equals(Buffer.concat([again, Buffer.from('tail')]))).toBe(true);
    expect(await allKeys(store)).toEqual(['retried']);
  });

  it('abort leaves no object and nothing of the parts behind', async () => {
    const store = await open();
    const upload = await startUpload(store, 'aborted');
    const parts = await uploadParts(store, upload, [randomBytes(1000), randomBytes(1000)]);
    await store.abortMultipartUpload(upload, parts);
    await expect(store.head('aborted')).rejects.toMatchObject({ code: 'NotFound' });
    expect(await allKeys(store)).toEqual([]);
  });

  it('keeps an existing object under the key until the upload completes', async () => {
    const store = await open();
    await store.put('kept', Buffer.from('original'));
    const upload = await startUpload(store, 'kept');
    const parts = await uploadParts(store, upload, [Buffer.from('replacement')]);
    expect((await readAll((await store.get('kept')).body)).toString()).toBe('original');
    await store.completeMultipartUpload(upload, parts, {});
    expect((await readAll((await store.get('kept')).body)).toString()).toBe('replacement');
  });

  it('streams a part of 24 MiB from a generator without knowing it in advance', async () => {
    const store = await open();
    const upload = await startUpload(store, 'streamed');
    const chunk = randomBytes(MiB);
    const hash = createHash('md5');
    async function* body() {
      for (let index = 0; index < 24; index++) {
        hash.update(chunk);
        yield chunk;
      }
    }
    const part = await store.uploadPart(upload, 1, Readable.from(body()), 24 * MiB);
    expect(part.etag).toBe(`"${hash.digest('hex')}"`);
    await store.completeMultipartUpload(upload, [part], {});
    expect((await store.head('streamed')).size).toBe(24 * MiB);
  });

  it('copies an object server-side within the same account, with new metadata', async () => {
    const source = await open();
    await source.put('from', Buffer.from('copied bytes'), {
      contentType: 'text/plain',
      metadata: { a: '1' },
    });
    const destination = await createObjectStore(connections[backend]!(await createBucket[backend]!()));
    expect(destination.nativeCopyScope).toBeDefined();
    expect(destination.nativeCopyScope).toBe(source.nativeCopyScope);
    const { etag } = await destination.copyFrom(source, 'from', 'to', {
      contentType: 'text/markdown',
      metadata: { b: '2' },
    });
    const info = await destination.head('to');
    expect(info).toMatchObject({ size: 12, contentType: 'text/markdown', metadata: { b: '2' } });
    expect(etag).toBe(info.etag);
    expect((await readAll((await destination.get('to')).body)).toString()).toBe('copied bytes');
    // Given neither a content type nor metadata, the copy keeps the source's.
    const kept = await destination.copyFrom(source, 'from', 'kept', { contentLength: 12 });
    const keptInfo = await destination.head('kept');
    expect(keptInfo).toMatchObject({ size: 12, contentType: 'text/plain', metadata: { a: '1' } });
    expect(kept.etag).toBe(keptInfo.etag);
  });
});

describe('GCS: more parts than one compose request takes', () => {
  it('composes 70 parts in stages, in order, and removes every temporary object', async () => {
    const bucketName = await createGcsBucket();
    const store = await createObjectStore(connections.gcs!(bucketName));
    const upload = await startUpload(store, 'many-parts');
    const parts = Array.from({ length: 70 }, (_, index) => Buffer.from(`part ${index + 1};`));
    const uploaded = await uploadParts(store, upload, parts);
    expect(await allKeys(store)).toEqual([]); // parts are hidden from listings
    await store.completeMultipartUpload(
      upload,
      uploaded.sort((a, b) => a.partNumber - b.partNumber),
      {},
    );
    expect((await readAll((await store.get('many-parts')).body)).toString()).toBe(
      Buffer.concat(parts).toString(),
    );
    expect(await allKeys(store)).toEqual(['many-parts']);
    // Not even hidden leftovers: the emulator itself lists nothing under the reserved prefix.
    const raw = await fetch(
      `${services().gcs.endpoint}/storage/v1/b/${bucketName}/o?prefix=${encodeURIComponent(reservedKeyPrefix)}`,
    );
    expect(((await raw.json()) as { items?: unknown[] }).items ?? []).toEqual([]);
  });
});

describe('S3: server-side copies beyond one CopyObject', () => {
  it('copies in UploadPartCopy ranges, in order, with the new content type and metadata', async () => {
    const { accessKeyId, secretAccessKey } = services().minio;
    const credentials = { accessKeyId, secretAccessKey };
    // The real limits are 5 GiB and 512 MiB; small ones exercise the same path.
    const limits = { singleCopyMaxBytes: 6 * MiB, partBytes: 5 * MiB };
    const storeOn = async () =>
      new S3ObjectStore(connections.minio!(await createMinioBucket()), credentials, {}, limits);
    const source = await storeOn();
    const destination = await storeOn();
    const data = randomBytes(12 * MiB + 123);
    await source.put('big.bin', data, { contentType: 'application/x-old' });
    const copied = await destination.copyFrom(source, 'big.bin', 'copied/big.bin', {
      contentType: 'application/x-new',
      metadata: { origin: 'part-copy' },
    });
    expect(copied.etag).toMatch(/-3"$/);
    const { info, body } = await destination.get('copied/big.bin');
    expect(info).toMatchObject({ size: data.length, contentType: 'application/x-new', etag: copied.etag });
    expect(info.metadata).toMatchObject({ origin: 'part-copy' });
    expect((await readAll(body)).equals(data)).toBe(true);
    const kept = await destination.copyFrom(source, 'big.bin', 'copied/again.bin', {
      contentLength: data.length,
    });
    expect(kept.etag).toMatch(/-3"$/);
    expect(await destination.head('copied/again.bin')).toMatchObject({ contentType: 'application/x-old' });
    await expect(destination.copyFrom(source, 'missing.bin', 'x.bin', {})).rejects.toMatchObject({
      code: 'NotFound',
    });
    expect(await allKeys(destination)).toEqual(['copied/again.bin', 'copied/big.bin']);
  });
});
