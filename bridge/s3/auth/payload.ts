/**
 * The request body, decoded and verified as it streams: a Transform that takes the bytes as
 * received and yields the object's bytes.
 *
 * - plain bodies: hashed against a hex `x-amz-content-sha256` (XAmzContentSHA256Mismatch), or
 *   passed through for `UNSIGNED-PAYLOAD`;
 * - `aws-chunked` bodies (`STREAMING-*` content hashes, or `Content-Encoding: aws-chunked`):
 *   `hex-size[;chunk-signature=sig]\r\n<data>\r\n` frames, each signature chained from the
 *   previous one (seeded by the request's signature), a final 0-size chunk, then for the
 *   `-TRAILER` variants trailing headers (`x-amz-checksum-*`, and `x-amz-trailer-signature`
 *   for the signed one);
 * - checksums: `Content-MD5`, one `x-amz-checksum-*` header or one announced by `x-amz-trailer`.
 *
 * Memory stays bounded: data is pushed as slices of the incoming buffers, only a frame's
 * header line or the trailer block (a few KiB at most) is ever held, and the Transform's
 * back-pressure holds the writer while the reader is behind.
 *
 * The stream never ends cleanly unless everything verified: consumers that store what it
 * yields (a backend upload) must abort on its error, which stream.pipeline does. Data of a
 * signed chunk is passed on before that chunk's signature (at its end) is checked, but the last
 * piece of data is held back until every check has passed, so a backend that commits on
 * receiving the declared length never sees a complete body that fails verification.
 */
import { createHash, type Hash, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  type ChecksumAlgorithm,
  checksumAlgorithmOfHeader,
  checksumAlgorithmOfName,
  checksumAlgorithms,
  checksumHeaderName,
  createHasher,
  type DigestAlgorithm,
  decodeDigest,
  type StreamingHasher,
} from './checksums.ts';
import { S3AuthError } from './errors.ts';
import {
  EMPTY_SHA256,
  headerValue,
  type RequestHeaders,
  type SigningContext,
  STREAMING_SIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD_TRAILER,
  STREAMING_UNSIGNED_PAYLOAD_TRAILER,
  sha256Hex,
  signHex,
} from './sigv4.ts';

/** S3 refuses chunks under 8 KiB except the last one (InvalidChunkSizeError). */
export const MIN_CHUNK_SIZE = 8192;
/** Longest chunk-header or trailer line accepted; real ones are about 100 bytes. */
const MAX_LINE_BYTES = 4096;
/** Largest trailer block accepted. */
const MAX_TRAILER_BYTES = 16 * 1024;
/**
 * Node's 16 KiB default is below the 64 KiB a socket read hands over, which paused and resumed
 * the request for every read: the writable side takes two reads, the readable side one.
 */
const WRITABLE_HIGH_WATER_MARK = 128 * 1024;
const READABLE_HIGH_WATER_MARK = 64 * 1024;

export interface PayloadDecoderOptions {
  /** `ParsedSignature.payloadHash`: a hex digest, `UNSIGNED-PAYLOAD` or a `STREAMING-*` value. */
  payloadHash: string;
  /** From verifySignature; required for `STREAMING-AWS4-HMAC-SHA256-*` payloads. */
  signing?: SigningContext;
  headers: RequestHeaders;
  /** Digests to compute whatever the request carries: e.g. `MD5` for the ETag, `CRC64NVME`. */
  alsoCompute?: readonly DigestAlgorithm[];
  /** Smallest size of any chunk but the last; S3's is 8192. */
  minChunkSize?: number;
}

/** How the body is framed and what must be checked, decided from the headers before reading. */
export interface PayloadPlan {
  framing: 'plain' | 'aws-chunked';
  chunkSignatures: boolean;
  trailer: 'none' | 'unsigned' | 'signed';
  /** The object's size when the request tells it (x-amz-decoded-content-length, or Content-Length). */
  decodedContentLength?: number;
  /** Hex SHA-256 the bytes as received must have. */
  contentSha256?: string;
  contentMd5?: Buffer;
  headerChecksum?: { algorithm: ChecksumAlgorithm; value: string };
  /** Trailing checksum announced by x-amz-trailer. */
  trailerChecksum?: ChecksumAlgorithm;
  /** Every digest computed over the object's bytes. */
  digests: DigestAlgorithm[];
}

export interface PayloadResult {
  /** Bytes of object data yielded. */
  decodedLength: number;
  /** Base64 of every digest computed (MD5 included when asked), as S3 prints them. */
  checksums: Partial<Record<DigestAlgorithm, string>>;
  /** The checksum the client sent (header or trailer), verified: what S3 stores and returns. */
  clientChecksum?: { algorithm: ChecksumAlgorithm; value: string };
  /** Trailing headers as received, lower-cased names, without x-amz-trailer-signature. */
  trailers: Record<string, string>;
}

export interface PayloadStats {
  /** Largest number of bytes held at once: partial line/trailer plus the readable buffer. */
  maxBufferedBytes: number;
  chunks: number;
}

/** `Content-Encoding` to store with the object: the request's, without `aws-chunked`. */
export function storedContentEncoding(headers: RequestHeaders): string | undefined {
  const codings = contentCodings(headers).filter((coding) => coding.toLowerCase() !== 'aws-chunked');
  return codings.length > 0 ? codings.join(',') : undefined;
}

const contentCodings = (headers: RequestHeaders) =>
  (headerValue(headers, 'content-encoding') ?? '')
    .split(',')
    .map((coding) => coding.trim())
    .filter((coding) => coding !== '');

/** Decide framing and checks; throws the S3 errors S3 gives before reading a body. */
export function planPayload(options: PayloadDecoderOptions): PayloadPlan {
  const { headers, payloadHash } = options;
  const streaming = payloadHash.startsWith('STREAMING-');
  const chunked =
    streaming || contentCodings(headers).some((coding) => coding.toLowerCase() === 'aws-chunked');
  const chunkSignatures =
    payloadHash === STREAMING_SIGNED_PAYLOAD || payloadHash === STREAMING_SIGNED_PAYLOAD_TRAILER;
  if (chunkSignatures && !options.signing) {
    throw new Error('planPayload: signed aws-chunked payloads need the signing context from verifySignature');
  }
  const declaredTrailers = parseTrailerDeclaration(headers);
  const trailer =
    payloadHash === STREAMING_SIGNED_PAYLOAD_TRAILER
      ? 'signed'
      : payloadHash === STREAMING_UNSIGNED_PAYLOAD_TRAILER ||
          (chunked && !chunkSignatures && declaredTrailers.length > 0)
        ? 'unsigned'
        : 'none';
  if (declaredTrailers.length > 0 && trailer === 'none') {
    throw new S3AuthError(
      'InvalidRequest',
      'The x-amz-trailer header is only allowed with an aws-chunked body sent as STREAMING-UNSIGNED-PAYLOAD-TRAILER or STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.',
    );
  }

  const decodedContentLength = chunked ? decodedLength(headers, streaming) : contentLength(headers);
  const contentMd5 = parseContentMd5(headers);
  const headerChecksum = parseChecksumHeader(headers);
  const trailerChecksum = declaredTrailers[0];
  if (headerChecksum && trailerChecksum) throw multipleChecksums();

  const digests = new Set<DigestAlgorithm>(options.alsoCompute ?? []);
  if (contentMd5) digests.add('MD5');
  if (headerChecksum) digests.add(headerChecksum.algorithm);
  if (trailerChecksum) digests.add(trailerChecksum);
  const sdkAlgorithm = checksumAlgorithmOfName(headerValue(headers, 'x-amz-sdk-checksum-algorithm') ?? '');
  if (sdkAlgorithm) digests.add(sdkAlgorithm);

  return {
    framing: chunked ? 'aws-chunked' : 'plain',
    chunkSignatures,
    trailer,
    ...(decodedContentLength !== undefined && { decodedContentLength }),
    ...(/^[0-9a-fA-F]{64}$/.test(payloadHash) && { contentSha256: payloadHash.toLowerCase() }),
    ...(contentMd5 && { contentMd5 }),
    ...(headerChecksum && { headerChecksum }),
    ...(trailerChecksum && { trailerChecksum }),
    digests: [...digests],
  };
}

const multipleChecksums = () =>
  new S3AuthError(
    'InvalidRequest',
    'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
  );

function decodedLength(headers: RequestHeaders, required: boolean): number | undefined {
  const value = headerValue(headers, 'x-amz-decoded-content-length');
  if (value === undefined && !required) return undefined;
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) throw new S3AuthError('MissingContentLength');
  return Number(value.trim());
}

function contentLength(headers: RequestHeaders): number | undefined {
  const value = headerValue(headers, 'content-length');
  return value !== undefined && /^\d{1,15}$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

function parseContentMd5(headers: RequestHeaders): Buffer | undefined {
  const value = headerValue(headers, 'content-md5');
  if (value === undefined) return undefined;
  const digest = decodeDigest('MD5', value);
  if (!digest) throw new S3AuthError('InvalidDigest');
  return digest;
}

/** Headers named `x-amz-checksum-<algorithm>` (not -type, -mode, -algorithm). At most one. */
function parseChecksumHeader(
  headers: RequestHeaders,
): { algorithm: ChecksumAlgorithm; value: string } | undefined {
  const found = checksumAlgorithms.filter(
    (algorithm) => headers[checksumHeaderName(algorithm)] !== undefined,
  );
  if (found.length > 1) throw multipleChecksums();
  const algorithm = found[0];
  if (!algorithm) return undefined;
  const name = checksumHeaderName(algorithm);
  const value = headerValue(headers, name) ?? '';
  if (!decodeDigest(algorithm, value)) {
    throw new S3AuthError('InvalidRequest', `Value for ${name} header is invalid.`);
  }
  return { algorithm, value: value.trim() };
}

function parseTrailerDeclaration(headers: RequestHeaders): ChecksumAlgorithm[] {
  const value = headerValue(headers, 'x-amz-trailer');
  if (value === undefined || value.trim() === '') return [];
  const algorithms = value.split(',').map((name) => {
    const algorithm = checksumAlgorithmOfHeader(name);
    if (!algorithm) {
      throw new S3AuthError(
        'InvalidRequest',
        'The value specified in the x-amz-trailer header is not supported',
      );
    }
    return algorithm;
  });
  if (algorithms.length > 1) throw multipleChecksums();
  return algorithms;
}

export function createPayloadDecoder(options: PayloadDecoderOptions): PayloadDecoder {
  return new PayloadDecoder(options);
}

type State = 'size-line' | 'data' | 'data-crlf' | 'trailer' | 'done';

const CR = 0x0d;
const LF = 0x0a;

/**
 * The decoding Transform. `result` settles when the stream finishes: resolved with the
 * computed checksums once everything verified, rejected with the S3AuthError otherwise.
 */
export class PayloadDecoder extends Transform {
  readonly plan: PayloadPlan;
  readonly result: Promise<PayloadResult>;
  readonly stats: PayloadStats = { maxBufferedBytes: 0, chunks: 0 };

  readonly #signing: SigningContext | undefined;
  readonly #minChunkSize: number;
  readonly #hashers: Array<[DigestAlgorithm, StreamingHasher]>;
  readonly #contentSha256: Hash | undefined;
  #resolve!: (result: PayloadResult) => void;
  #reject!: (error: Error) => void;
  #settled = false;
  /** The latest piece of data, passed on with the next one or, once everything verified, at the end. */
  #held: Buffer | undefined;

  #receivedBytes = 0;
  #decodedBytes = 0;
  #state: State = 'size-line';
  #line: Buffer[] = [];
  #lineBytes = 0;
  #chunkRemaining = 0;
  #chunkSize = 0;
  #chunkSignature = '';
  #chunkHash: Hash | undefined;
  #crlfSeen = 0;
  #previousSignature: string;
  #previousChunk: { index: number; size: number } | undefined;
  #trailers: Array<[string, string]> = [];
  #trailerBytes = 0;
  #leadingBlankSkipped = false;

  constructor(options: PayloadDecoderOptions) {
    super({
      readableHighWaterMark: READABLE_HIGH_WATER_MARK,
      writableHighWaterMark: WRITABLE_HIGH_WATER_MARK,
    });
    this.plan = planPayload(options);
    this.#signing = options.signing;
    this.#minChunkSize = options.minChunkSize ?? MIN_CHUNK_SIZE;
    this.#previousSignature = options.signing?.seedSignature ?? '';
    this.#hashers = this.plan.digests.map((algorithm) => [algorithm, createHasher(algorithm)]);
    this.#contentSha256 = this.plan.contentSha256 ? createHash('sha256') : undefined;
    this.result = new Promise<PayloadResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Consumers may only listen to the stream's 'error'; never leave the promise unhandled.
    this.result.catch(() => {});
    this.on('error', (error) => this.#fail(error));
    this.on('close', () => {
      if (!this.#settled) this.#fail(malformedBody());
    });
  }

  #fail(error: Error): void {
    this.#settled = true;
    this.#reject(error);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#receivedBytes += chunk.length;
      this.#contentSha256?.update(chunk);
      if (this.plan.framing === 'plain') this.#emitData(chunk);
      else this.#decodeChunked(chunk);
      this.#noteBuffered();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      const result = this.plan.framing === 'plain' ? this.#finishPlain() : this.#finishChunked();
      if (this.#held) this.push(this.#held);
      this.#held = undefined;
      callback();
      this.#settled = true;
      this.#resolve(result);
    } catch (error) {
      callback(error as Error);
    }
  }

  #noteBuffered(): void {
    const buffered = this.#lineBytes + (this.#held?.length ?? 0) + this.readableLength;
    if (buffered > this.stats.maxBufferedBytes) this.stats.maxBufferedBytes = buffered;
  }

  #emitData(data: Buffer): void {
    if (data.length === 0) return;
    this.#decodedBytes += data.length;
    for (const [, hasher] of this.#hashers) hasher.update(data);
    const previous = this.#held;
    this.#held = data;
    if (previous) this.push(previous);
  }

  // ---- aws-chunked

  #decodeChunked(input: Buffer): void {
    let offset = 0;
    while (offset < input.length) {
      switch (this.#state) {
        case 'size-line': {
          const line = this.#readLine(input, offset);
          offset = line.next;
          if (line.text !== undefined) this.#startChunk(line.text);
          break;
        }
        case 'data': {
          const take = Math.min(this.#chunkRemaining, input.length - offset);
          const data = input.subarray(offset, offset + take);
          offset += take;
          this.#chunkRemaining -= take;
          this.#chunkHash?.update(data);
          this.#emitData(data);
          if (this.#chunkRemaining === 0) {
            this.#verifyChunkSignature();
            this.#state = 'data-crlf';
            this.#crlfSeen = 0;
          }
          break;
        }
        case 'data-crlf': {
          const expected = this.#crlfSeen === 0 ? CR : LF;
          if (input[offset] !== expected) throw malformedBody();
          offset++;
          this.#crlfSeen++;
          if (this.#crlfSeen === 2) this.#state = 'size-line';
          break;
        }
        case 'trailer': {
          const line = this.#readLine(input, offset);
          offset = line.next;
          if (line.text !== undefined) this.#trailerLine(line.text);
          break;
        }
        case 'done':
          throw new S3AuthError('IncompleteBody', 'The request body contains data after the final chunk', {
            NumberBytesExpected: String(this.#decodedBytes),
          });
      }
    }
  }

  /** Collect bytes up to LF; returns the line (CR stripped) once complete. */
  #readLine(input: Buffer, offset: number): { text?: string; next: number } {
    const lf = input.indexOf(LF, offset);
    const end = lf < 0 ? input.length : lf;
    if (this.#lineBytes + (end - offset) > MAX_LINE_BYTES) {
      throw this.#state === 'trailer' ? new S3AuthError('MalformedTrailerError') : malformedBody();
    }
    if (lf < 0) {
      // Copy: the input buffer may be reused by its producer once we return.
      this.#line.push(Buffer.from(input.subarray(offset)));
      this.#lineBytes += input.length - offset;
      return { next: input.length };
    }
    const parts = [...this.#line, input.subarray(offset, lf)];
    this.#line = [];
    this.#lineBytes = 0;
    let text = Buffer.concat(parts).toString('latin1');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    // Chunk headers must end in CRLF; a bare LF is tolerated in the trailer block only.
    else if (this.#state === 'size-line') throw malformedBody();
    return { text, next: lf + 1 };
  }

  #startChunk(line: string): void {
    const [sizeText = '', ...extensions] = line.split(';');
    if (!/^[0-9a-fA-F]{1,15}$/.test(sizeText.trim())) throw malformedBody();
    const size = Number.parseInt(sizeText.trim(), 16);
    this.#chunkSignature = '';
    for (const extension of extensions) {
      const eq = extension.indexOf('=');
      if (eq > 0 && extension.slice(0, eq).trim() === 'chunk-signature') {
        this.#chunkSignature = extension.slice(eq + 1).trim();
      }
    }
    if (this.plan.chunkSignatures && !/^[0-9a-f]{64}$/.test(this.#chunkSignature)) throw malformedBody();

    const index = this.stats.chunks + 1;
    this.stats.chunks = index;
    const previous = this.#previousChunk;
    if (size > 0 && previous && previous.size < this.#minChunkSize) {
      throw new S3AuthError('InvalidChunkSizeError', undefined, {
        Chunk: String(previous.index),
        BadChunkSize: String(previous.size),
      });
    }
    const expected = this.plan.decodedContentLength;
    if (expected !== undefined && this.#decodedBytes + size > expected) {
      throw new S3AuthError('IncompleteBody', undefined, {
        NumberBytesExpected: String(expected),
        NumberBytesProvided: String(this.#decodedBytes + size),
      });
    }
    this.#chunkSize = size;
    this.#chunkRemaining = size;
    this.#chunkHash = this.plan.chunkSignatures ? createHash('sha256') : undefined;
    if (size > 0) {
      this.#previousChunk = { index, size };
      this.#state = 'data';
      return;
    }
    this.#verifyChunkSignature();
    if (expected !== undefined && this.#decodedBytes !== expected) {
      throw new S3AuthError('IncompleteBody', undefined, {
        NumberBytesExpected: String(expected),
        NumberBytesProvided: String(this.#decodedBytes),
      });
    }
    this.#state = 'trailer';
  }

  #verifyChunkSignature(): void {
    if (!this.plan.chunkSignatures || !this.#signing) return;
    const dataHash = this.#chunkHash ? this.#chunkHash.digest('hex') : EMPTY_SHA256;
    const { timestamp, scope, signingKey } = this.#signing;
    const stringToSign = [
      'AWS4-HMAC-SHA256-PAYLOAD',
      timestamp,
      scope,
      this.#previousSignature,
      EMPTY_SHA256,
      dataHash,
    ].join('\n');
    const expected = signHex(signingKey, stringToSign);
    if (!sameHex(expected, this.#chunkSignature)) {
      throw new S3AuthError('SignatureDoesNotMatch', undefined, {
        AWSAccessKeyId: this.#signing.accessKeyId,
        SignatureProvided: this.#chunkSignature,
        StringToSign: stringToSign,
        Chunk: String(this.stats.chunks),
        ChunkSize: String(this.#chunkSize),
      });
    }
    this.#previousSignature = this.#chunkSignature;
  }

  #trailerLine(line: string): void {
    if (line === '') {
      // One blank line right after the final chunk is tolerated before the trailers: some
      // signers write the final chunk's CRLF before the trailer block.
      if (this.#trailers.length === 0 && this.plan.trailer !== 'none' && !this.#leadingBlankSkipped) {
        this.#leadingBlankSkipped = true;
        return;
      }
      this.#state = 'done';
      this.#verifyTrailerBlock();
      return;
    }
    if (this.plan.trailer === 'none') throw new S3AuthError('MalformedTrailerError');
    this.#trailerBytes += line.length + 2;
    const colon = line.indexOf(':');
    if (colon <= 0 || this.#trailerBytes > MAX_TRAILER_BYTES) throw new S3AuthError('MalformedTrailerError');
    this.#trailers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }

  #verifyTrailerBlock(): void {
    const signatureEntry = this.#trailers.find(([name]) => name === 'x-amz-trailer-signature');
    const trailers = this.#trailers.filter(([name]) => name !== 'x-amz-trailer-signature');
    if (trailers.length === 0 && this.plan.trailerChecksum) {
      throw this.plan.trailer === 'signed'
        ? new S3AuthError('IncompleteBody', 'The request body terminated unexpectedly')
        : new S3AuthError('MalformedTrailerError');
    }
    for (const [name] of trailers) {
      const algorithm = checksumAlgorithmOfHeader(name);
      if (!algorithm || algorithm !== this.plan.trailerChecksum)
        throw new S3AuthError('MalformedTrailerError');
    }
    if (this.plan.trailer === 'signed' && (trailers.length > 0 || signatureEntry)) {
      this.#verifyTrailerSignature(trailers, signatureEntry?.[1] ?? '');
    }
  }

  #verifyTrailerSignature(trailers: Array<[string, string]>, provided: string): void {
    if (!this.#signing) return;
    const canonical = trailers.map(([name, value]) => `${name}:${value}\n`).join('');
    const { timestamp, scope, signingKey } = this.#signing;
    const stringToSign = [
      'AWS4-HMAC-SHA256-TRAILER',
      timestamp,
      scope,
      this.#previousSignature,
      sha256Hex(canonical),
    ].join('\n');
    if (!sameHex(signHex(signingKey, stringToSign), provided)) {
      throw new S3AuthError('SignatureDoesNotMatch', undefined, {
        AWSAccessKeyId: this.#signing.accessKeyId,
        SignatureProvided: provided,
        StringToSign: stringToSign,
      });
    }
  }

  #finishChunked(): PayloadResult {
    if (this.#state === 'trailer' && this.#trailers.length === 0 && this.#leadingBlankSkipped) {
      // "0\r\n\r\n" and nothing after it: no trailer block at all.
      this.#state = 'done';
      this.#verifyTrailerBlock();
    }
    if (this.#state !== 'done')
      throw new S3AuthError('IncompleteBody', 'The request body terminated unexpectedly');
    this.#checkContentSha256();
    const trailerValue = this.#trailers.find(([name]) => name !== 'x-amz-trailer-signature')?.[1];
    const trailerChecksum = this.plan.trailerChecksum;
    let clientChecksum = this.plan.headerChecksum;
    if (trailerChecksum && trailerValue !== undefined) {
      if (!decodeDigest(trailerChecksum, trailerValue)) {
        throw new S3AuthError(
          'InvalidRequest',
          `Value for ${checksumHeaderName(trailerChecksum)} trailing header is invalid.`,
        );
      }
      clientChecksum = { algorithm: trailerChecksum, value: trailerValue };
    }
    return this.#finish(clientChecksum);
  }

  #finishPlain(): PayloadResult {
    const expected = this.plan.decodedContentLength;
    if (expected !== undefined && this.#receivedBytes !== expected) {
      throw new S3AuthError('IncompleteBody', undefined, {
        NumberBytesExpected: String(expected),
        NumberBytesProvided: String(this.#receivedBytes),
      });
    }
    this.#checkContentSha256();
    return this.#finish(this.plan.headerChecksum);
  }

  #checkContentSha256(): void {
    if (!this.#contentSha256 || !this.plan.contentSha256) return;
    const computed = this.#contentSha256.digest('hex');
    if (computed !== this.plan.contentSha256) {
      throw new S3AuthError('XAmzContentSHA256Mismatch', undefined, {
        ClientComputedContentSHA256: this.plan.contentSha256,
        S3ComputedContentSHA256: computed,
      });
    }
  }

  #finish(clientChecksum: { algorithm: ChecksumAlgorithm; value: string } | undefined): PayloadResult {
    const checksums: Partial<Record<DigestAlgorithm, string>> = {};
    for (const [algorithm, hasher] of this.#hashers)
      checksums[algorithm] = hasher.digest().toString('base64');
    if (this.plan.contentMd5) {
      const computed = checksums.MD5 ?? '';
      const expected = this.plan.contentMd5.toString('base64');
      if (computed !== expected) {
        throw new S3AuthError('BadDigest', undefined, {
          ExpectedDigest: expected,
          CalculatedDigest: computed,
        });
      }
    }
    if (clientChecksum && checksums[clientChecksum.algorithm] !== clientChecksum.value) {
      throw new S3AuthError(
        'BadDigest',
        `The ${clientChecksum.algorithm} you specified did not match the calculated checksum.`,
      );
    }
    return {
      decodedLength: this.#decodedBytes,
      checksums,
      ...(clientChecksum && { clientChecksum }),
      trailers: Object.fromEntries(this.#trailers.filter(([name]) => name !== 'x-amz-trailer-signature')),
    };
  }
}

const malformedBody = () => new S3AuthError('IncompleteBody', 'The request body terminated unexpectedly');

function sameHex(expected: string, provided: string): boolean {
  if (!/^[0-9a-fA-F]{64}$/.test(provided)) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(provided, 'hex'));
}
