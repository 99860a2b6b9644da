/**
 * The signed HTTP path (providers/storage/s3-http.ts) of S3-compatible stores
 * against MinIO, side by side with the SDK path (an `S3` store on the same
 * MinIO, which keeps every call on the SDK): same headers, same errors. Then
 * canned answers from a local server for what MinIO will not produce.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type BucketConnection,
  createObjectStore,
  type ObjectStore,
  StorageError,
  type StorageErrorCode,
} from '../../providers/storage/index.ts';
import { createMinioBucket, uniqueBucketName } from '../helpers/emulator-buckets.ts';

const minio = () => inject('services').minio;

function connection(provider: 'S3' | 'S3_COMPATIBLE', bucketName: string, secret?: string): BucketConnection {
  const { endpoint, accessKeyId, secretAccessKey } = minio();
  return {
    provider,
    bucketName,
    endpoint,
    forcePathStyle: true,
    credentials: { kind: 'S3_ACCESS_KEY', accessKeyId, secretAccessKey: secret ?? secretAccessKey },
  };
}

async function failureOf(action: () => Promise<unknown>): Promise<StorageError> {
  const error = await action().then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(StorageError);
  return error as StorageError;
}

const readAll = async (body: Readable) => Buffer.concat(await body.toArray());
const described = ({ code, vendorCode, httpStatus }: StorageError) => ({ code, vendorCode, httpStatus });

describe('signed S3 requests against MinIO, compared with the SDK', () => {
  const bucketName = uniqueBucketName('sb-http');
  let direct: ObjectStore;
  let sdk: ObjectStore;
  const oddKey = "odd keys/a b+c%d!(e)*~'é&=?#.txt";
  const body = Buffer.from('0123456789abcdefghij');

  beforeAll(async () => {
    await createMinioBucket(bucketName);
    direct = await createObjectStore(connection('S3_COMPATIBLE', bucketName));
    sdk = await createObjectStore(connection('S3', bucketName));
  });

  it('stores under the exact key, and HEAD and GET describe the object as the SDK does', async () => {
    const { etag } = await direct.put(oddKey, Readable.from([body]), {
      contentLength: body.length,
      contentType: 'text/plain; charset=utf-8',
      metadata: { 'origin-app': 'skybridge', author: 'tests' },
    });
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const listed = await sdk.list({ prefix: 'odd keys/' });
    expect(listed.objects.map((object) => object.key)).toEqual([oddKey]);

    const [head, sdkHead] = [await direct.head(oddKey), await sdk.head(oddKey)];
    expect(head).toEqual(sdkHead);
    expect(head).toMatchObject({ size: body.length, etag, metadata: { 'origin-app': 'skybridge' } });
    expect(head.lastModified).toBeInstanceOf(Date);

    const [got, sdkGot] = [await direct.get(oddKey), await sdk.get(oddKey)];
    expect(got.info).toEqual(sdkGot.info);
    expect(await readAll(got.body)).toEqual(body);
    await readAll(sdkGot.body);
  });

  it('gets ranges with the whole object size, as the SDK does', async () => {
    await direct.put('ranged.bin', body, { contentType: 'application/octet-stream' });
    for (const range of [{ start: 2, end: 5 }, { start: 15 }, { start: 0, end: 0 }]) {
      const [got, sdkGot] = [await direct.get('ranged.bin', range), await sdk.get('ranged.bin', range)];
      expect(got.info).toEqual(sdkGot.info);
      expect(got.info.size).toBe(body.length);
      expect(await readAll(got.body)).toEqual(await readAll(sdkGot.body));
    }
  });

  it('maps the same failures to the same codes as the SDK', async () => {
    const pairs: [string, (store: ObjectStore) => Promise<unknown>][] = [
      ['GET of a missing key', (store) => store.get('missing')],
      ['HEAD of a missing key', (store) => store.head('missing')],
      ['range past the end', (store) => store.get('ranged.bin', { start: 1000 })],
    ];
    for (const [, call] of pairs) {
      const [error, sdkError] = [await failureOf(() => call(direct)), await failureOf(() => call(sdk))];
      expect(described(error)).toEqual(described(sdkError));
    }
    expect((await failureOf(() => direct.get('missing'))).code).toBe('NotFound');
    expect((await failureOf(() => direct.get('ranged.bin', { start: 1000 }))).code).toBe('Invalid');
  });

  it('maps a wrong secret and a missing bucket as the SDK does, on every hot call', async () => {
    const stores = (provider: 'S3' | 'S3_COMPATIBLE', bucket: string, secret?: string) =>
      createObjectStore(connection(provider, bucket, secret));
    const cases: [string, string | undefined, StorageErrorCode][] = [
      [bucketName, 'not-the-secret', 'InvalidCredentials'],
      [uniqueBucketName('sb-missing'), undefined, 'NotFound'],
    ];
    for (const [bucket, secret, code] of cases) {
      const [store, sdkStore] = [
        await stores('S3_COMPATIBLE', bucket, secret),
        await stores('S3', bucket, secret),
      ];
      const calls: ((s: ObjectStore) => Promise<unknown>)[] = [
        (s) => s.head('ranged.bin'),
        (s) => s.get('ranged.bin'),
        (s) => s.put('new.bin', Readable.from([body]), { contentLength: body.length }),
      ];
      for (const call of calls) {
        const [error, sdkError] = [await failureOf(() => call(store)), await failureOf(() => call(sdkStore))];
        expect(error.code).toBe(code);
        expect(described(error)).toEqual(described(sdkError));
      }
    }
  });

  it('copies inside the bucket as the SDK does: properties kept or replaced, the same ETag', async () => {
    const replaced = { contentType: 'application/json', metadata: { colour: 'green' } };
    for (const [suffix, options] of [
      ['kept', {}],
      ['replaced', replaced],
    ] as const) {
      const copy = await direct.copyFrom(direct, oddKey, `copies/${suffix}`, options);
      const sdkCopy = await sdk.copyFrom(sdk, oddKey, `sdk-copies/${suffix}`, options);
      expect(copy.etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(copy).toEqual(sdkCopy);
      const [head, sdkHead] = [await direct.head(`copies/${suffix}`), await sdk.head(`sdk-copies/${suffix}`)];
      expect({ ...head, key: '', lastModified: undefined }).toEqual({
        ...sdkHead,
        key: '',
        lastModified: undefined,
      });
      expect(head.etag).toBe(copy.etag);
    }
    expect(await direct.head('copies/kept')).toMatchObject({
      contentType: 'text/plain; charset=utf-8',
      metadata: { 'origin-app': 'skybridge', author: 'tests' },
    });
    expect(await direct.head('copies/replaced')).toMatchObject({ ...replaced, size: body.length });
    expect(await readAll((await direct.get('copies/replaced')).body)).toEqual(body);

    const [error, sdkError] = [
      await failureOf(() => direct.copyFrom(direct, 'missing', 'copies/none', {})),
      await failureOf(() => sdk.copyFrom(sdk, 'missing', 'copies/none', {})),
    ];
    expect(error.code).toBe('NotFound');
    expect(described(error)).toEqual(described(sdkError));
  });

  it('leaves no object when the body fails mid-upload', async () => {
    async function* failing() {
      yield Buffer.alloc(64 * 1024, 1);
      throw new Error('client went away');
    }
    const upload = Readable.from(failing(), { objectMode: false });
    await failureOf(() => direct.put('cut-off.bin', upload, { contentLength: 1024 * 1024 }));
    expect((await failureOf(() => direct.head('cut-off.bin'))).code).toBe('NotFound');
  });

  it('opens its connections through the agents it is given', async () => {
    let connections = 0;
    const httpAgent = new (class extends http.Agent {
      override createConnection(...args: Parameters<http.Agent['createConnection']>) {
        connections++;
        return super.createConnection(...args);
      }
    })({ keepAlive: true });
    const store = await createObjectStore(connection('S3_COMPATIBLE', bucketName), { httpAgent });
    await readAll((await store.get('ranged.bin')).body);
    await store.head('ranged.bin');
    expect(connections).toBe(1);
  });
});

/** A local server answering every request with `answer`. */
async function cannedServer(
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = http.createServer(answer);
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const errorXml = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;

describe('signed S3 requests: answers MinIO does not give', () => {
  let server: Awaited<ReturnType<typeof cannedServer>>;
  let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  const store = () =>
    createObjectStore({
      provider: 'S3_COMPATIBLE',
      bucketName: 'canned',
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: { kind: 'S3_ACCESS_KEY', accessKeyId: 'id', secretAccessKey: 'secret' },
    });

  beforeAll(async () => {
    server = await cannedServer((req, res) => answer(req, res));
  });
  afterAll(() => server.close());

  it('signs with SigV4 for the bucket path, the payload unsigned for a PUT stream', async () => {
    let seen: http.IncomingHttpHeaders = {};
    let url = '';
    answer = (req, res) => {
      [seen, url] = [req.headers, req.url ?? ''];
      req.resume().once('end', () => res.writeHead(200, { etag: '"abc"' }).end());
    };
    const { etag } = await (await store()).put('a b/c.txt', Readable.from([Buffer.from('hi')]), {
      contentLength: 2,
      contentType: 'text/plain',
      metadata: { colour: 'blue' },
    });
    expect(etag).toBe('"abc"');
    expect(url).toBe('/canned/a%20b/c.txt');
    expect(seen).toMatchObject({
      'content-length': '2',
      'content-type': 'text/plain',
      'x-amz-meta-colour': 'blue',
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    });
    expect(seen.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=id\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=\S*host\S*, Signature=[0-9a-f]{64}$/,
    );
  });

  it('maps error bodies, bare statuses and MinIO error headers through the one table', async () => {
    const cases: [number, string, Record<string, string>, StorageErrorCode, string | undefined][] = [
      [503, errorXml('SlowDown', 'Please reduce your request rate.'), {}, 'Throttled', 'SlowDown'],
      [403, errorXml('AccessDenied', 'Access Denied.'), {}, 'AccessDenied', 'AccessDenied'],
      [500, '', {}, 'Transient', undefined],
      [400, 'not xml at all', {}, 'Invalid', undefined],
      [
        403,
        '',
        { 'x-minio-error-code': 'SignatureDoesNotMatch' },
        'InvalidCredentials',
        'SignatureDoesNotMatch',
      ],
      [404, '', {}, 'NotFound', 'NotFound'],
    ];
    for (const [status, body, headers, code, vendorCode] of cases) {
      answer = (_req, res) => res.writeHead(status, headers).end(body);
      const error = await failureOf(async () => (await store()).get('any'));
      expect({ status, ...described(error) }).toEqual({ status, code, vendorCode, httpStatus: status });
    }
  });

  it('sends CopyObject signed, and takes an error in the body of a 200 for a 503, as the SDK does', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const copyResult =
      '<CopyObjectResult><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;0123&quot;</ETag></CopyObjectResult>';
    answer = (req, res) => {
      seen = req.headers;
      res.writeHead(200).end(copyResult);
    };
    const canned = await store();
    expect(await canned.copyFrom(canned, 'a b.txt', 'to.txt', { contentLength: 2 })).toEqual({
      etag: '"0123"',
    });
    expect(seen).toMatchObject({
      'x-amz-copy-source': 'canned/a%20b.txt',
      'x-amz-metadata-directive': 'COPY',
    });
    expect(seen.authorization).toMatch(/SignedHeaders=\S*x-amz-copy-source\S*x-amz-metadata-directive/);

    await canned.copyFrom(canned, 'a', 'b', {
      contentLength: 2,
      contentType: 'text/csv',
      metadata: { k: 'v' },
    });
    expect(seen).toMatchObject({
      'x-amz-metadata-directive': 'REPLACE',
      'content-type': 'text/csv',
      'x-amz-meta-k': 'v',
    });

    for (const failedBody of [errorXml('InternalError', 'copy failed midway'), '']) {
      answer = (_req, res) => res.writeHead(200).end(failedBody);
      const error = await failureOf(() => canned.copyFrom(canned, 'a', 'b', { contentLength: 2 }));
      expect(described(error)).toEqual({ code: 'Transient', vendorCode: 'InternalError', httpStatus: 503 });
    }
  });

  it('answers an early refusal of a PUT without waiting for the rest of the body', async () => {
    answer = (_req, res) => res.writeHead(403).end(errorXml('AccessDenied', 'no'));
    async function* endless() {
      for (let i = 0; i < 10_000; i++) yield Buffer.alloc(64 * 1024);
    }
    const upload = Readable.from(endless(), { objectMode: false });
    const error = await failureOf(async () =>
      (await store()).put('big', upload, { contentLength: 10_000 * 64 * 1024 }),
    );
    expect(error.code).toBe('AccessDenied');
  });

  it('turns a body cut off mid-stream into a Transient StorageError', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(100));
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const { body } = await (await store()).get('any');
    const error = await failureOf(() => readAll(body));
    expect(error.code).toBe('Transient');
  });

  it('says Transient, refused connection, when nothing listens', async () => {
    const closed = await cannedServer(() => {});
    const endpoint = closed.endpoint;
    await closed.close();
    const unreachable = await createObjectStore({
      provider: 'S3_COMPATIBLE',
      bucketName: 'canned',
      endpoint,
      forcePathStyle: true,
      credentials: { kind: 'S3_ACCESS_KEY', accessKeyId: 'id', secretAccessKey: 'secret' },
    });
    const error = await failureOf(() => unreachable.head('any'));
    expect(described(error)).toEqual({
      code: 'Transient',
      vendorCode: 'ECONNREFUSED',
      httpStatus: undefined,
    });
  });
});
