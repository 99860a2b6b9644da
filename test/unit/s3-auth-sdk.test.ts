/**
 * The real client against the auth layer: @aws-sdk/client-s3 (and @smithy/signature-v4 for
 * presigned URLs, since @aws-sdk/s3-request-presigner is not installed) sign requests that a
 * loopback HTTP server authenticates and decodes in the order the bridge will:
 * parseSignedRequest → key lookup → verifySignature → createPayloadDecoder, body piped through.
 * Covers the SDK's current defaults (CRC32 checksums; STREAMING-UNSIGNED-PAYLOAD-TRAILER for
 * streams), awkward keys, query parameters, virtual-hosted addressing and the error codes the
 * SDK surfaces.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { digestBase64 } from '../../bridge/s3/auth/checksums.ts';
import { S3AuthError } from '../../bridge/s3/auth/errors.ts';
import {
  createPayloadDecoder,
  type PayloadDecoder,
  type PayloadResult,
} from '../../bridge/s3/auth/payload.ts';
import {
  awsUriEncode,
  canonicalRequestCandidates,
  type ParsedSignature,
  parseSignedRequest,
  type SignedRequestInput,
  verifySignature,
} from '../../bridge/s3/auth/sigv4.ts';
import { EMPTY_SHA256, signRequestHeaders } from '../../core/aws/sigv4.ts';

const KEY_ID = 'SKYBRIDGETESTKEY0001';
const SECRET = 'vQ8+/secret/with+slashes/and+plus=';
const keys = new Map([[KEY_ID, SECRET]]);

interface Seen {
  method: string;
  rawPath: string;
  rawQuery: string;
  headers: IncomingMessage['headers'];
  parsed: ParsedSignature;
  body: Buffer;
  result: PayloadResult;
  /** 1 when the bytes as sent are already in AWS's canonical encoding. */
  canonicalForms: number;
}

let server: Server;
let endpoint: string;
let seen: Seen[] = [];
let refused: S3AuthError[] = [];

/** Pipe the request through the decoder; on failure stop reading and keep the socket to answer. */
function readThrough(req: IncomingMessage, decoder: PayloadDecoder): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    decoder.on('data', (chunk: Buffer) => chunks.push(chunk));
    decoder.on('end', () => resolve(Buffer.concat(chunks)));
    decoder.on('error', (error) => {
      req.unpipe(decoder);
      req.resume();
      reject(error);
    });
    req.pipe(decoder);
  });
}

const xmlEscape = (text: string) => text.replace(/[<>&]/g, (c) => `&#${c.charCodeAt(0)};`);

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const request: SignedRequestInput = {
    method: req.method ?? 'GET',
    rawPath: q < 0 ? url : url.slice(0, q),
    rawQuery: q < 0 ? '' : url.slice(q + 1),
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    now: new Date(),
  };
  try {
    const parsed = parseSignedRequest(request);
    const secret = keys.get(parsed.accessKeyId);
    if (secret === undefined) throw new S3AuthError('InvalidAccessKeyId');
    const signing = verifySignature(parsed, secret, request);
    const decoder = createPayloadDecoder({
      payloadHash: parsed.payloadHash,
      signing,
      headers: req.headers,
      alsoCompute: ['MD5'],
    });
    const body = await readThrough(req, decoder);
    const result = await decoder.result;
    seen.push({
      ...request,
      parsed,
      body,
      result,
      canonicalForms: canonicalRequestCandidates(parsed, request).length,
    });
    if (request.rawQuery.includes('list-type=2')) {
      const xml =
        '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<Name>media</Name><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>';
      res.writeHead(200, { 'content-type': 'application/xml' }).end(xml);
      return;
    }
    const md5 = Buffer.from(result.checksums.MD5 ?? '', 'base64').toString('hex');
    res.writeHead(200, { etag: `"${md5}"`, 'content-length': request.method === 'GET' ? '5' : '0' });
    res.end(request.method === 'GET' ? 'hello' : undefined);
  } catch (error) {
    if (!(error instanceof S3AuthError)) throw error;
    refused.push(error);
    req.resume();
    const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${error.code}</Code><Message>${xmlEscape(error.message)}</Message></Error>`;
    res.writeHead(error.httpStatus, { 'content-type': 'application/xml', connection: 'close' }).end(xml);
  }
}

function client(overrides: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
    maxAttempts: 1,
    ...overrides,
  });
}

/** Sends to the loopback server whatever host the client addressed; the Host header stays as signed. */
class LoopbackHandler extends NodeHttpHandler {
  override handle(request: HttpRequest, options?: Parameters<NodeHttpHandler['handle']>[1]) {
    request.hostname = '127.0.0.1';
    return super.handle(request, options);
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
  refused = [];
});

const KEYS = [
  'plain.txt',
  'dir/with space.txt',
  'ünïcödé/日本語.txt',
  'a+b=c&d.txt',
  'tilde~x',
  '100% sure',
  "it's (really) *fine*!",
  'emoji 🎉.bin',
  'semi;colon,comma@at$dollar#hash',
];

describe('@aws-sdk/client-s3 against the auth layer', () => {
  it('PutObject with a buffer: signed payload and the default CRC32 checksum header', async () => {
    const body = Buffer.alloc(100_000, 'x');
    const output = await client().send(
      new PutObjectCommand({ Bucket: 'media', Key: 'buffer.bin', Body: body }),
    );
    expect(output.ETag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
    const request = seen[0]!;
    expect(request.headers['x-amz-checksum-crc32']).toBe(digestBase64('CRC32', body));
    expect(request.body.equals(body)).toBe(true);
    expect(request.result.clientChecksum).toEqual({ algorithm: 'CRC32', value: digestBase64('CRC32', body) });
  });

  it('PutObject with a stream: aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER, CRC32 in the trailer', async () => {
    const parts = [Buffer.alloc(65_536, 1), Buffer.alloc(65_536, 2), Buffer.alloc(1_000, 3)];
    const body = Buffer.concat(parts);
    await client().send(
      new PutObjectCommand({
        Bucket: 'media',
        Key: 'stream.bin',
        Body: Readable.from(parts),
        ContentLength: body.length,
      }),
    );
    const request = seen[0]!;
    expect(request.parsed.payloadHash).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    expect(request.headers['content-encoding']).toBe('aws-chunked');
    expect(request.headers['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    expect(request.headers['x-amz-decoded-content-length']).toBe(String(body.length));
    expect(request.body.equals(body)).toBe(true);
    expect(request.result.trailers).toEqual({ 'x-amz-checksum-crc32': digestBase64('CRC32', body) });
    expect(request.result.clientChecksum?.algorithm).toBe('CRC32');
  });

  it('a stream in chunks under 8 KiB is refused as S3 refuses it: InvalidChunkSizeError', async () => {
    const parts = [Buffer.alloc(100, 1), Buffer.alloc(100, 2)];
    const failure = client().send(
      new PutObjectCommand({
        Bucket: 'media',
        Key: 'small.bin',
        Body: Readable.from(parts),
        ContentLength: 200,
      }),
    );
    await expect(failure).rejects.toMatchObject({
      name: 'InvalidChunkSizeError',
      $metadata: { httpStatusCode: 403 },
    });
  });

  it('keys with spaces, unicode, +, ~, %, reserved characters: PUT then GET with query parameters', async () => {
    const s3 = client();
    for (const key of KEYS) {
      await s3.send(new PutObjectCommand({ Bucket: 'media', Key: key, Body: `content of ${key}` }));
      const get = await s3.send(
        new GetObjectCommand({
          Bucket: 'media',
          Key: key,
          VersionId: 'v 1+2/3',
          ResponseContentType: 'text/plain; charset=utf-8',
          ResponseContentDisposition: `attachment; filename="${key}"`,
          Range: 'bytes=0-4',
        }),
      );
      expect(await get.Body?.transformToString()).toBe('hello');
    }
    expect(refused).toEqual([]);
    const paths = seen.map((request) => decodeURIComponent(request.rawPath));
    expect(paths).toEqual(KEYS.flatMap((key) => [`/media/${key}`, `/media/${key}`]));
    // The SDK encodes exactly as AWS canonicalizes: no request needed the as-sent fallback.
    expect(seen.map((request) => request.canonicalForms)).toEqual(seen.map(() => 1));
    const getQuery = new URLSearchParams(seen[1]!.rawQuery);
    expect(getQuery.get('versionId')).toBe('v 1+2/3');
  });

  it('ListObjectsV2 with a prefix, delimiter and start-after that need encoding', async () => {
    await client().send(
      new ListObjectsV2Command({
        Bucket: 'media',
        Prefix: 'a b/+~%/日本',
        Delimiter: '/',
        StartAfter: "x y'(z)",
      }),
    );
    expect(refused).toEqual([]);
    const query = new URLSearchParams(seen[0]!.rawQuery);
    expect(query.get('prefix')).toBe('a b/+~%/日本');
  });

  it('virtual-hosted addressing: the bucket is in the Host header, signed as sent', async () => {
    const port = new URL(endpoint).port;
    const s3 = client({
      endpoint: `http://s3.skybridge.test:${port}`,
      forcePathStyle: false,
      requestHandler: new LoopbackHandler(),
    });
    await s3.send(new PutObjectCommand({ Bucket: 'media', Key: 'dir/a b.txt', Body: 'virtual' }));
    expect(refused).toEqual([]);
    expect(seen[0]!.headers.host).toBe(`media.s3.skybridge.test:${port}`);
    expect(seen[0]!.rawPath).toBe('/dir/a%20b.txt');
    expect(seen[0]!.body.toString()).toBe('virtual');
  });

  it('a wrong secret → SignatureDoesNotMatch; an unknown key → InvalidAccessKeyId (both 403)', async () => {
    const wrong = client({ credentials: { accessKeyId: KEY_ID, secretAccessKey: 'not-the-secret' } });
    await expect(wrong.send(new GetObjectCommand({ Bucket: 'media', Key: 'k' }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });
    const unknown = client({ credentials: { accessKeyId: 'UNKNOWNKEY', secretAccessKey: SECRET } });
    await expect(unknown.send(new GetObjectCommand({ Bucket: 'media', Key: 'k' }))).rejects.toMatchObject({
      name: 'InvalidAccessKeyId',
      $metadata: { httpStatusCode: 403 },
    });
  });

  it('a wrong x-amz-checksum-crc32 → BadDigest; a wrong Content-MD5 → BadDigest', async () => {
    const s3 = client();
    await expect(
      s3.send(
        new PutObjectCommand({
          Bucket: 'media',
          Key: 'k',
          Body: 'abc',
          ChecksumCRC32: digestBase64('CRC32', Buffer.from('abd')),
        }),
      ),
    ).rejects.toMatchObject({ name: 'BadDigest', $metadata: { httpStatusCode: 400 } });
    await expect(
      s3.send(
        new PutObjectCommand({
          Bucket: 'media',
          Key: 'k',
          Body: 'abc',
          ContentMD5: createHash('md5').update('abd').digest('base64'),
        }),
      ),
    ).rejects.toMatchObject({ name: 'BadDigest' });
  });
});

/** The sha256 constructor @smithy/signature-v4 expects, on node:crypto. */
class NodeSha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac(
            'sha256',
            typeof secret === 'string'
              ? secret
              : ArrayBuffer.isView(secret)
                ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
                : Buffer.from(secret),
          );
  }
  update(data: string | Uint8Array): void {
    this.#hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {}
}

describe('presigned URLs from @smithy/signature-v4', () => {
  const signer = new SignatureV4({
    service: 's3',
    region: 'us-east-1',
    credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
    sha256: NodeSha256,
    uriEscapePath: false, // as the S3 client signs: the path is already encoded once
  });

  async function presignedUrl(method: string, key: string, expiresIn: number, signingDate = new Date()) {
    const { hostname, port } = new URL(endpoint);
    const request = new HttpRequest({
      method,
      protocol: 'http:',
      hostname,
      port: Number(port),
      path: `/media/${key.split('/').map(awsUriEncode).join('/')}`,
      query: { 'x-id': method === 'PUT' ? 'PutObject' : 'GetObject' },
      // As @aws-sdk/s3-request-presigner does: the payload is not signed.
      headers: { host: `${hostname}:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    const signed = await signer.presign(request, { expiresIn, signingDate });
    const query = Object.entries(signed.query ?? {})
      .map(([name, value]) => `${awsUriEncode(name)}=${awsUriEncode(String(value))}`)
      .join('&');
    return `${endpoint}${signed.path}?${query}`;
  }

  it('GET and PUT through a presigned URL, with an awkward key', async () => {
    const key = 'shared/ünï + ~%.txt';
    const put = await fetch(await presignedUrl('PUT', key, 300), { method: 'PUT', body: 'presigned body' });
    expect(put.status).toBe(200);
    const get = await fetch(await presignedUrl('GET', key, 300));
    expect(get.status).toBe(200);
    expect(seen.map((request) => request.parsed.kind)).toEqual(['presigned', 'presigned']);
    expect(seen[0]!.body.toString()).toBe('presigned body');
    expect(decodeURIComponent(seen[1]!.rawPath)).toBe(`/media/${key}`);
  });

  it('an expired URL → 403 AccessDenied "Request has expired"; a tampered one → SignatureDoesNotMatch', async () => {
    const expired = await fetch(await presignedUrl('GET', 'k', 60, new Date(Date.now() - 120_000)));
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('<Code>AccessDenied</Code><Message>Request has expired</Message>');
    const tampered = (await presignedUrl('GET', 'k', 60)).replace('/media/k', '/media/other');
    const response = await fetch(tampered);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });
});

describe("the storage adapters' own signer (core/aws/sigv4.ts signRequestHeaders)", () => {
  const signingDate = new Date('2026-12-07T10:20:30Z');

  it('signs exactly as @smithy/signature-v4 does, temporary credentials and spaced values included', async () => {
    const credentials = { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: 'token/with+plus=' };
    const smithy = new SignatureV4({
      service: 's3',
      region: 'eu-west-3',
      credentials,
      sha256: NodeSha256,
      uriEscapePath: false,
    });
    const path = `/media/${'dir/ünï + ~%.txt'.split('/').map(awsUriEncode).join('/')}`;
    const headers = {
      host: 'bucket.example.com:9000',
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'content-length': '12',
      'content-type': 'text/plain',
      'x-amz-meta-note': '  two   spaces  ',
      range: 'bytes=0-9',
    };
    const expected = await smithy.sign(
      new HttpRequest({
        method: 'PUT',
        protocol: 'http:',
        hostname: 'bucket.example.com',
        port: 9000,
        path,
        headers,
      }),
      { signingDate },
    );
    const ours = signRequestHeaders({
      method: 'PUT',
      path,
      headers,
      region: 'eu-west-3',
      credentials,
      now: signingDate,
    });
    expect(ours.authorization).toBe(expected.headers.authorization);
    expect(ours['x-amz-date']).toBe(expected.headers['x-amz-date']);
    expect(ours['x-amz-security-token']).toBe(credentials.sessionToken);
  });

  it('is accepted by the bridge’s verifier; a changed path is not', async () => {
    const { host } = new URL(endpoint);
    const sign = (path: string) =>
      signRequestHeaders({
        method: 'GET',
        path,
        headers: { host, 'x-amz-content-sha256': EMPTY_SHA256 },
        region: 'us-east-1',
        credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
      });
    const accepted = await fetch(`${endpoint}/media/signed%20key`, { headers: sign('/media/signed%20key') });
    expect(accepted.status).toBe(200);
    expect(seen.at(-1)?.rawPath).toBe('/media/signed%20key');
    const refusedAnswer = await fetch(`${endpoint}/media/other`, { headers: sign('/media/signed%20key') });
    expect(refusedAnswer.status).toBe(403);
    expect(await refusedAnswer.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });
});
