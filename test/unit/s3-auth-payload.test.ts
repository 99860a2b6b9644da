/**
 * Request bodies: AWS's published aws-chunked examples (66560 bytes of "a" in 64 KiB chunks,
 * with and without a signed CRC32C trailer) decoded and verified link by link, the framing the
 * JS SDK sends (STREAMING-UNSIGNED-PAYLOAD-TRAILER), plain bodies with their hashes and
 * checksums, every refusal with S3's code, and bounded memory on a 64 MiB stream.
 * Examples: docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
 * sigv4-streaming-trailers.html.
 */
import { createHash, createHmac } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { digestBase64 } from '../../bridge/s3/auth/checksums.ts';
import { S3AuthError } from '../../bridge/s3/auth/errors.ts';
import {
  createPayloadDecoder,
  type PayloadDecoderOptions,
  type PayloadResult,
  planPayload,
  storedContentEncoding,
} from '../../bridge/s3/auth/payload.ts';
import {
  deriveSigningKey,
  parseSignedRequest,
  type RequestHeaders,
  type SignedRequestInput,
  type SigningContext,
  verifySignature,
} from '../../bridge/s3/auth/sigv4.ts';

const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DOC_TIME = new Date('2013-05-24T00:00:00Z');
const DOC_DATA = Buffer.alloc(66_560, 'a');
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const docAuthorization = (signedHeaders: string, signature: string) =>
  `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;

function docRequest(headers: RequestHeaders): SignedRequestInput {
  return { method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '', headers, now: DOC_TIME };
}

const DOC_STREAMING_HEADERS = {
  host: 's3.amazonaws.com',
  'x-amz-date': '20130524T000000Z',
  'x-amz-storage-class': 'REDUCED_REDUNDANCY',
  'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'content-encoding': 'aws-chunked',
  'x-amz-decoded-content-length': '66560',
  'content-length': '66824',
  authorization: docAuthorization(
    'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
    '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  ),
};

const DOC_STREAMING_BODY = Buffer.concat([
  Buffer.from('10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n'),
  DOC_DATA.subarray(0, 65_536),
  Buffer.from('\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n'),
  DOC_DATA.subarray(65_536),
  Buffer.from(
    '\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n',
  ),
]);

const DOC_TRAILER_HEADERS = {
  host: 's3.amazonaws.com',
  'x-amz-date': '20130524T000000Z',
  'x-amz-storage-class': 'REDUCED_REDUNDANCY',
  'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'content-encoding': 'aws-chunked',
  'x-amz-decoded-content-length': '66560',
  'x-amz-trailer': 'x-amz-checksum-crc32c',
  authorization: docAuthorization(
    'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer',
    '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
  ),
};

const DOC_TRAILER_BODY = Buffer.concat([
  Buffer.from('10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n'),
  DOC_DATA.subarray(0, 65_536),
  Buffer.from('\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n'),
  DOC_DATA.subarray(65_536),
  Buffer.from(
    '\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n' +
      'x-amz-checksum-crc32c:sOO8/Q==\r\n' +
      'x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n',
  ),
]);

function authenticateDoc(headers: RequestHeaders): SigningContext {
  const request = docRequest(headers);
  return verifySignature(parseSignedRequest(request), SECRET, request);
}

/** Run `pieces` through a decoder; the decoded bytes and result, or the S3AuthError. */
async function decode(
  pieces: Buffer[],
  options: PayloadDecoderOptions,
): Promise<{ data: Buffer; result: PayloadResult; chunks: number }> {
  const decoder = createPayloadDecoder(options);
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(pieces),
    decoder,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out.push(chunk);
        callback();
      },
    }),
  );
  return { data: Buffer.concat(out), result: await decoder.result, chunks: decoder.stats.chunks };
}

async function refusal(pieces: Buffer[], options: PayloadDecoderOptions): Promise<S3AuthError> {
  const decoder = createPayloadDecoder(options);
  const failure = await pipeline(
    Readable.from(pieces),
    decoder,
    new Writable({ write: (_c, _e, cb) => cb() }),
  ).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(S3AuthError);
  // The promise the server reads checksums from fails the same way.
  await expect(decoder.result).rejects.toBe(failure);
  return failure as S3AuthError;
}

function syncRefusal(fn: () => unknown): S3AuthError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(S3AuthError);
    return error as S3AuthError;
  }
  throw new Error('expected an S3AuthError');
}

/** Split a body at the given offsets, to feed the decoder arbitrary network boundaries. */
function splitAt(body: Buffer, size: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) pieces.push(body.subarray(i, i + size));
  return pieces;
}

// ---- An independent aws-chunked encoder (the documented algorithm, not the module's code).

const hmacHex = (key: Buffer, data: string) => createHmac('sha256', key).update(data).digest('hex');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

function chunkSignature(signing: SigningContext, previous: string, data: Uint8Array): string {
  return hmacHex(
    signing.signingKey,
    ['AWS4-HMAC-SHA256-PAYLOAD', signing.timestamp, signing.scope, previous, EMPTY, sha256(data)].join('\n'),
  );
}

function encodeSigned(
  chunks: Buffer[],
  signing: SigningContext,
  trailer?: { name: string; value: string },
): { body: Buffer; signatures: string[] } {
  const parts: Buffer[] = [];
  const signatures: string[] = [];
  let previous = signing.seedSignature;
  for (const data of [...chunks, Buffer.alloc(0)]) {
    previous = chunkSignature(signing, previous, data);
    signatures.push(previous);
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${previous}\r\n`), data);
    if (data.length > 0) parts.push(Buffer.from('\r\n'));
  }
  if (trailer) {
    const canonical = `${trailer.name}:${trailer.value}\n`;
    const signature = hmacHex(
      signing.signingKey,
      ['AWS4-HMAC-SHA256-TRAILER', signing.timestamp, signing.scope, previous, sha256(canonical)].join('\n'),
    );
    parts.push(Buffer.from(`${trailer.name}:${trailer.value}\r\nx-amz-trailer-signature:${signature}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return { body: Buffer.concat(parts), signatures };
}

/** What the AWS SDK for JavaScript sends for a stream: unsigned chunks, a checksum trailer. */
function encodeUnsignedTrailer(chunks: Buffer[], trailerLine?: string): Buffer {
  const parts: Buffer[] = [];
  for (const data of chunks)
    parts.push(Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\n'));
  if (trailerLine !== undefined) parts.push(Buffer.from(`${trailerLine}\r\n`));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

const testSigning = (): SigningContext => ({
  accessKeyId: AKID,
  signingKey: deriveSigningKey(SECRET, AKID, '20260301', 'us-east-1'),
  scope: '20260301/us-east-1/s3/aws4_request',
  timestamp: '20260301T120000Z',
  seedSignature: sha256('seed'),
});

const signedHeaders = (decodedLength: number, extra: RequestHeaders = {}): RequestHeaders => ({
  'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'content-encoding': 'aws-chunked',
  'x-amz-decoded-content-length': String(decodedLength),
  ...extra,
});

describe('AWS published aws-chunked examples', () => {
  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: seed, two chunks and the final chunk', async () => {
    const signing = authenticateDoc(DOC_STREAMING_HEADERS);
    expect(signing.seedSignature).toBe('4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
    const options = {
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      signing,
      headers: DOC_STREAMING_HEADERS,
    };
    const { data, result, chunks } = await decode([DOC_STREAMING_BODY], options);
    expect(data.equals(DOC_DATA)).toBe(true);
    expect(chunks).toBe(3);
    expect(result.decodedLength).toBe(66_560);
    // The independent encoder reproduces the documented chunk signatures.
    const { body, signatures } = encodeSigned(
      [DOC_DATA.subarray(0, 65_536), DOC_DATA.subarray(65_536)],
      signing,
    );
    expect(signatures).toEqual([
      'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
      '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
      'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
    ]);
    expect(body.equals(DOC_STREAMING_BODY)).toBe(true);
    expect(body.length).toBe(66_824); // the documented Content-Length
  });

  it('decodes whatever the network boundaries: 1 byte, 7 bytes, 100 bytes, 4 KiB at a time', async () => {
    const signing = authenticateDoc(DOC_STREAMING_HEADERS);
    const options = {
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      signing,
      headers: DOC_STREAMING_HEADERS,
    };
    for (const size of [1, 7, 100, 4096]) {
      const { data } = await decode(splitAt(DOC_STREAMING_BODY, size), options);
      expect(data.equals(DOC_DATA)).toBe(true);
    }
  });

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: chunks, then a signed CRC32C trailer', async () => {
    const signing = authenticateDoc(DOC_TRAILER_HEADERS);
    expect(signing.seedSignature).toBe('106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e');
    const options = {
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      signing,
      headers: DOC_TRAILER_HEADERS,
    };
    for (const pieces of [[DOC_TRAILER_BODY], splitAt(DOC_TRAILER_BODY, 13)]) {
      const { data, result } = await decode(pieces, options);
      expect(data.equals(DOC_DATA)).toBe(true);
      expect(result.clientChecksum).toEqual({ algorithm: 'CRC32C', value: 'sOO8/Q==' });
      expect(result.checksums.CRC32C).toBe('sOO8/Q==');
      expect(result.trailers).toEqual({ 'x-amz-checksum-crc32c': 'sOO8/Q==' });
    }
  });

  it('a flipped data byte or chunk signature → SignatureDoesNotMatch (403)', async () => {
    const signing = authenticateDoc(DOC_STREAMING_HEADERS);
    const options = {
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      signing,
      headers: DOC_STREAMING_HEADERS,
    };
    const flippedData = Buffer.from(DOC_STREAMING_BODY);
    flippedData[40_000] = 0x62;
    expect(await refusal([flippedData], options)).toMatchObject({
      code: 'SignatureDoesNotMatch',
      httpStatus: 403,
      details: { Chunk: '1' },
    });
    const flippedSecondData = Buffer.from(DOC_STREAMING_BODY);
    flippedSecondData[DOC_STREAMING_BODY.length - 200] = 0x62;
    expect((await refusal([flippedSecondData], options)).details.Chunk).toBe('2');
    const flippedSignature = Buffer.from(
      DOC_STREAMING_BODY.toString('latin1').replace('ad80c7', 'ad80c8'),
      'latin1',
    );
    expect((await refusal([flippedSignature], options)).code).toBe('SignatureDoesNotMatch');
    // Chunks swapped: each signature still valid alone, but the chain is broken.
    const finalSig = 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9';
    const wrongFinal = Buffer.from(
      DOC_STREAMING_BODY.toString('latin1').replace(finalSig, 'f'.repeat(64)),
      'latin1',
    );
    expect((await refusal([wrongFinal], options)).details.Chunk).toBe('3');
  });

  it('a tampered trailer value or trailer signature → SignatureDoesNotMatch', async () => {
    const signing = authenticateDoc(DOC_TRAILER_HEADERS);
    const options = {
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      signing,
      headers: DOC_TRAILER_HEADERS,
    };
    const text = DOC_TRAILER_BODY.toString('latin1');
    const otherValue = Buffer.from(text.replace('sOO8/Q==', 'AAAAAA=='), 'latin1');
    expect((await refusal([otherValue], options)).code).toBe('SignatureDoesNotMatch');
    const otherSignature = Buffer.from(text.replace('d81f82fc', 'd81f82fd'), 'latin1');
    expect((await refusal([otherSignature], options)).code).toBe('SignatureDoesNotMatch');
  });
});

describe('aws-chunked framing refusals', () => {
  const signing = testSigning();
  const data = [Buffer.alloc(10_000, 1), Buffer.alloc(9_000, 2), Buffer.alloc(100, 3)];
  const total = 19_100;
  const { body } = encodeSigned(data, signing);
  const options = {
    payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    signing,
    headers: signedHeaders(total),
  };

  it('decodes a valid stream', async () => {
    const { data: decoded } = await decode([body], options);
    expect(decoded.equals(Buffer.concat(data))).toBe(true);
  });

  it('a body cut short → IncompleteBody (400)', async () => {
    for (const cut of [10, 5_000, body.length - 1, body.length - 2]) {
      expect(await refusal([body.subarray(0, cut)], options)).toMatchObject({
        code: 'IncompleteBody',
        httpStatus: 400,
      });
    }
  });

  it('bytes after the final chunk → IncompleteBody', async () => {
    expect((await refusal([body, Buffer.from('x')], options)).code).toBe('IncompleteBody');
  });

  it('x-amz-decoded-content-length too small or too large → IncompleteBody, with the byte counts', async () => {
    const small = await refusal([body], { ...options, headers: signedHeaders(total - 1) });
    expect(small).toMatchObject({
      code: 'IncompleteBody',
      details: { NumberBytesExpected: String(total - 1) },
    });
    const large = await refusal([body], { ...options, headers: signedHeaders(total + 1) });
    expect(large).toMatchObject({
      code: 'IncompleteBody',
      details: { NumberBytesExpected: String(total + 1), NumberBytesProvided: String(total) },
    });
  });

  it('x-amz-decoded-content-length missing or not a number → MissingContentLength (411)', () => {
    const { 'x-amz-decoded-content-length': _omitted, ...without } = signedHeaders(total);
    expect(syncRefusal(() => createPayloadDecoder({ ...options, headers: without }))).toMatchObject({
      code: 'MissingContentLength',
      httpStatus: 411,
    });
    const notNumber = signedHeaders(total, { 'x-amz-decoded-content-length': 'abc' });
    expect(syncRefusal(() => planPayload({ ...options, headers: notNumber })).code).toBe(
      'MissingContentLength',
    );
  });

  it('a malformed chunk header → IncompleteBody', async () => {
    const text = body.toString('latin1');
    const malformed = [
      text.replace(/^2710;/, 'zz10;'), // size not hex
      text.replace(/^2710;chunk-signature=[0-9a-f]{64}/, '2710'), // no signature on a signed stream
      text.replace(/^2710;chunk-signature=([0-9a-f]{64})\r\n/, '2710;chunk-signature=$1\n'), // LF without CR
      text.replace(/^2710;/, `${'0'.repeat(5000)}2710;`), // absurdly long header line
    ];
    for (const variant of malformed) {
      expect((await refusal([Buffer.from(variant, 'latin1')], options)).code).toBe('IncompleteBody');
    }
    // The data of a chunk not followed by CRLF.
    const afterLastData = body.lastIndexOf(Buffer.from('\r\n0;'));
    const noCrlf = Buffer.from(body);
    noCrlf.write('XX', afterLastData, 'latin1');
    expect((await refusal([noCrlf], options)).code).toBe('IncompleteBody');
  });

  it('a chunk under 8 KiB that is not the last → InvalidChunkSizeError (403)', async () => {
    const small = [Buffer.alloc(10_000, 1), Buffer.alloc(100, 2), Buffer.alloc(9_000, 3)];
    const { body: smallBody } = encodeSigned(small, signing);
    expect(await refusal([smallBody], options)).toMatchObject({
      code: 'InvalidChunkSizeError',
      httpStatus: 403,
      details: { Chunk: '2', BadChunkSize: '100' },
    });
    // The limit is an option, for clients that S3 itself would refuse.
    const relaxed = await decode([smallBody], { ...options, minChunkSize: 1 });
    expect(relaxed.data.equals(Buffer.concat(small))).toBe(true);
  });

  it('a trailer on a stream that announced none → MalformedTrailerError', async () => {
    const withTrailer = Buffer.concat([
      body.subarray(0, body.length - 2),
      Buffer.from('x-amz-checksum-crc32:AAAAAA==\r\n\r\n'),
    ]);
    expect((await refusal([withTrailer], options)).code).toBe('MalformedTrailerError');
  });

  it('an empty object in one final chunk', async () => {
    const { body: empty } = encodeSigned([], signing);
    const { data: decoded, result } = await decode([empty], { ...options, headers: signedHeaders(0) });
    expect(decoded.length).toBe(0);
    expect(result.decodedLength).toBe(0);
  });
});

describe('STREAMING-UNSIGNED-PAYLOAD-TRAILER, as the AWS SDK for JavaScript sends it', () => {
  const data = [Buffer.alloc(65_536, 7), Buffer.alloc(20_000, 8)];
  const all = Buffer.concat(data);
  const crc32 = digestBase64('CRC32', all);
  const headers = {
    'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    'content-encoding': 'aws-chunked',
    'transfer-encoding': 'chunked',
    'x-amz-decoded-content-length': String(all.length),
    'x-amz-trailer': 'x-amz-checksum-crc32',
    'x-amz-sdk-checksum-algorithm': 'CRC32',
  };
  const options = {
    payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    headers,
    alsoCompute: ['MD5' as const],
  };

  it('verifies the CRC32 trailer and reports every checksum', async () => {
    const { data: decoded, result } = await decode(
      [encodeUnsignedTrailer(data, `x-amz-checksum-crc32:${crc32}`)],
      options,
    );
    expect(decoded.equals(all)).toBe(true);
    expect(result.clientChecksum).toEqual({ algorithm: 'CRC32', value: crc32 });
    expect(result.checksums).toEqual({ CRC32: crc32, MD5: digestBase64('MD5', all) });
  });

  it('a wrong CRC32 in the trailer → BadDigest (400)', async () => {
    const wrong = digestBase64('CRC32', Buffer.from('something else'));
    expect(
      await refusal([encodeUnsignedTrailer(data, `x-amz-checksum-crc32:${wrong}`)], options),
    ).toMatchObject({
      code: 'BadDigest',
      httpStatus: 400,
      message: 'The CRC32 you specified did not match the calculated checksum.',
    });
  });

  it('a malformed trailer value → InvalidRequest; another trailer than announced → MalformedTrailerError', async () => {
    expect(
      await refusal([encodeUnsignedTrailer(data, 'x-amz-checksum-crc32:not-base64!')], options),
    ).toMatchObject({
      code: 'InvalidRequest',
      message: 'Value for x-amz-checksum-crc32 trailing header is invalid.',
    });
    const other = `x-amz-checksum-crc32c:${digestBase64('CRC32C', all)}`;
    expect((await refusal([encodeUnsignedTrailer(data, other)], options)).code).toBe('MalformedTrailerError');
    expect((await refusal([encodeUnsignedTrailer(data, 'no colon here')], options)).code).toBe(
      'MalformedTrailerError',
    );
    expect((await refusal([encodeUnsignedTrailer(data)], options)).code).toBe('MalformedTrailerError');
  });

  it('an unsupported x-amz-trailer, or a checksum header as well → InvalidRequest before reading', () => {
    expect(
      syncRefusal(() =>
        planPayload({ ...options, headers: { ...headers, 'x-amz-trailer': 'x-amz-meta-foo' } }),
      ).code,
    ).toBe('InvalidRequest');
    expect(
      syncRefusal(() => planPayload({ ...options, headers: { ...headers, 'x-amz-checksum-crc32': crc32 } }))
        .message,
    ).toMatch(/Expecting a single x-amz-checksum- header/);
  });

  it('the Content-Encoding to store drops aws-chunked', () => {
    expect(storedContentEncoding({ 'content-encoding': 'gzip,aws-chunked' })).toBe('gzip');
    expect(storedContentEncoding({ 'content-encoding': 'aws-chunked' })).toBeUndefined();
  });
});

describe('plain bodies', () => {
  const body = Buffer.from('Welcome to Amazon S3.');
  const hash = '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072';

  it('a signed payload hash is checked at the end → XAmzContentSHA256Mismatch (400)', async () => {
    const headers = { 'content-length': String(body.length) };
    const { data } = await decode(splitAt(body, 5), { payloadHash: hash, headers });
    expect(data.equals(body)).toBe(true);
    const other = Buffer.from('Welcome to Amazon S4.');
    expect(await refusal([other], { payloadHash: hash, headers })).toMatchObject({
      code: 'XAmzContentSHA256Mismatch',
      httpStatus: 400,
      details: { ClientComputedContentSHA256: hash, S3ComputedContentSHA256: sha256(other) },
    });
  });

  it('UNSIGNED-PAYLOAD passes through; a short body → IncompleteBody', async () => {
    const { data } = await decode([body], { payloadHash: 'UNSIGNED-PAYLOAD', headers: {} });
    expect(data.equals(body)).toBe(true);
    const short = await refusal([body.subarray(0, 10)], {
      payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-length': String(body.length) },
    });
    expect(short.code).toBe('IncompleteBody');
  });

  it('Content-MD5: wrong → BadDigest, malformed → InvalidDigest (both 400)', async () => {
    const md5 = createHash('md5').update(body).digest('base64');
    const { result } = await decode([body], {
      payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-md5': md5 },
    });
    expect(result.checksums.MD5).toBe(md5);
    const wrong = createHash('md5').update('other').digest('base64');
    expect(
      await refusal([body], { payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-md5': wrong } }),
    ).toMatchObject({ code: 'BadDigest', httpStatus: 400 });
    for (const malformed of ['not-base64', Buffer.alloc(15).toString('base64'), md5.slice(0, -2)]) {
      expect(
        syncRefusal(() =>
          createPayloadDecoder({ payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-md5': malformed } }),
        ),
      ).toMatchObject({ code: 'InvalidDigest', httpStatus: 400 });
    }
  });

  it('x-amz-checksum-* headers of every algorithm are verified', async () => {
    for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      const name = `x-amz-checksum-${algorithm.toLowerCase()}`;
      const value = digestBase64(algorithm, body);
      const { result } = await decode([body], { payloadHash: hash, headers: { [name]: value } });
      expect(result.clientChecksum).toEqual({ algorithm, value });
      const wrong = digestBase64(algorithm, Buffer.from('other'));
      expect(await refusal([body], { payloadHash: hash, headers: { [name]: wrong } })).toMatchObject({
        code: 'BadDigest',
        message: `The ${algorithm} you specified did not match the calculated checksum.`,
      });
      expect(syncRefusal(() => planPayload({ payloadHash: hash, headers: { [name]: 'AAAA' } })).message).toBe(
        `Value for ${name} header is invalid.`,
      );
    }
  });

  it('two checksum headers → InvalidRequest', () => {
    const headers = {
      'x-amz-checksum-crc32': digestBase64('CRC32', body),
      'x-amz-checksum-sha1': digestBase64('SHA1', body),
    };
    expect(syncRefusal(() => planPayload({ payloadHash: hash, headers })).code).toBe('InvalidRequest');
  });
});

describe('bounded memory', () => {
  it('decodes a 64 MiB signed aws-chunked stream generated on the fly, holding only a few KiB', async () => {
    const signing = testSigning();
    const chunkSize = 1 << 20;
    const chunkCount = 64;
    const total = chunkSize * chunkCount;
    const expected = createHash('sha256');
    // Two buffers, refilled in turn: the generator makes no garbage, so RSS reflects what the
    // decoder holds; and a decoder that kept more than a chunk in flight would see its bytes
    // overwritten, failing the hash check below.
    const buffers = [Buffer.alloc(chunkSize), Buffer.alloc(chunkSize)];
    /** Chunks built one at a time, sent in 64 KiB pieces as a socket would. */
    async function* body() {
      let previous = signing.seedSignature;
      for (let i = 0; i <= chunkCount; i++) {
        const data = i < chunkCount ? buffers[i % 2]!.fill(i % 251) : Buffer.alloc(0);
        expected.update(data);
        previous = chunkSignature(signing, previous, data);
        yield Buffer.from(`${data.length.toString(16)};chunk-signature=${previous}\r\n`);
        for (let offset = 0; offset < data.length; offset += 65_536)
          yield data.subarray(offset, offset + 65_536);
        yield Buffer.from('\r\n');
      }
    }
    const decoder = createPayloadDecoder({
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      signing,
      headers: signedHeaders(total),
      alsoCompute: ['CRC64NVME'],
    });
    const received = createHash('sha256');
    let receivedBytes = 0;
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    await pipeline(
      Readable.from(body(), { objectMode: false }),
      decoder,
      new Writable({
        highWaterMark: 65_536,
        write(chunk: Buffer, _encoding, callback) {
          received.update(chunk);
          receivedBytes += chunk.length;
          rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
          setImmediate(callback); // a consumer slower than the producer
        },
      }),
    );
    const result = await decoder.result;
    expect(receivedBytes).toBe(total);
    expect(received.digest('hex')).toBe(expected.digest('hex'));
    expect(result.decodedLength).toBe(total);
    expect(decoder.stats.chunks).toBe(chunkCount + 1);
    // Held at once: the readable buffer (one 64 KiB input piece plus the high-water mark) and a
    // partial header line — never a chunk, let alone the body.
    expect(decoder.stats.maxBufferedBytes).toBeLessThan(256 * 1024);
    // Process memory does not grow with the body (generous slack for GC timing).
    expect(rssPeak - rssBefore).toBeLessThan(32 * 1024 * 1024);
  }, 60_000);
});
