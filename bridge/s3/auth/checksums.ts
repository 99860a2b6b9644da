/**
 * Streaming hashers for the checksums S3 accepts (`x-amz-checksum-*`) and for `Content-MD5`.
 *
 * S3 sends and expects each checksum as base64 of its big-endian bytes. CRC32 comes from zlib;
 * SHA-1, SHA-256 and MD5 from node:crypto; CRC32C (Castagnoli) and CRC64NVME (the NVMe
 * polynomial S3 uses for its default full-object checksum) are table-driven here, slicing by 8
 * bytes. CRC64 is held as two 32-bit halves to avoid BigInt on the hot path.
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';

export const checksumAlgorithms = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
export type ChecksumAlgorithm = (typeof checksumAlgorithms)[number];
/** Everything a payload can be hashed with: the S3 checksums plus MD5 (Content-MD5, ETag). */
export type DigestAlgorithm = ChecksumAlgorithm | 'MD5';

const digestLengths: Record<DigestAlgorithm, number> = {
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
  MD5: 16,
};

export interface StreamingHasher {
  update(data: Uint8Array): void;
  /** The digest as big-endian bytes; call once, after the last update. */
  digest(): Buffer;
}

/** `x-amz-checksum-crc32` for `CRC32`, and so on. */
export const checksumHeaderName = (algorithm: ChecksumAlgorithm): string =>
  `x-amz-checksum-${algorithm.toLowerCase()}`;

/** The algorithm a `x-amz-checksum-*` header (or trailer) name stands for; case-insensitive. */
export function checksumAlgorithmOfHeader(name: string): ChecksumAlgorithm | undefined {
  const lower = name.trim().toLowerCase();
  return checksumAlgorithms.find((algorithm) => checksumHeaderName(algorithm) === lower);
}

/** The algorithm a `x-amz-sdk-checksum-algorithm` value names (`CRC32`, `crc64nvme`, ...). */
export function checksumAlgorithmOfName(name: string): ChecksumAlgorithm | undefined {
  const upper = name.trim().toUpperCase();
  return checksumAlgorithms.find((algorithm) => algorithm === upper);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The bytes of a base64 digest if it is well-formed and the algorithm's size, else undefined.
 * Strict on purpose: a malformed value must be refused before any comparison.
 */
export function decodeDigest(algorithm: DigestAlgorithm, value: string): Buffer | undefined {
  const text = value.trim();
  if (text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== digestLengths[algorithm] || bytes.toString('base64') !== text) return undefined;
  return bytes;
}

export function createHasher(algorithm: DigestAlgorithm): StreamingHasher {
  switch (algorithm) {
    case 'CRC32':
      return new Crc32FamilyHasher(zlibCrc32);
    case 'CRC32C':
      return new Crc32FamilyHasher(crc32c);
    case 'CRC64NVME':
      return new Crc64NvmeHasher();
    case 'SHA1':
      return new NodeHasher(createHash('sha1'));
    case 'SHA256':
      return new NodeHasher(createHash('sha256'));
    case 'MD5':
      return new NodeHasher(createHash('md5'));
  }
}

/** One-shot digest of a whole buffer, base64 as S3 prints it. */
export function digestBase64(algorithm: DigestAlgorithm, data: Uint8Array): string {
  const hasher = createHasher(algorithm);
  hasher.update(data);
  return hasher.digest().toString('base64');
}

class NodeHasher implements StreamingHasher {
  readonly #hash: Hash;
  constructor(hash: Hash) {
    this.#hash = hash;
  }
  update(data: Uint8Array): void {
    this.#hash.update(data);
  }
  digest(): Buffer {
    return this.#hash.digest();
  }
}

/** A 32-bit CRC (CRC32 or CRC32C) over a stream, printed big-endian as S3 does. */
class Crc32FamilyHasher implements StreamingHasher {
  #crc = 0;
  readonly #step: (data: Uint8Array, previous: number) => number;
  constructor(step: (data: Uint8Array, previous: number) => number) {
    this.#step = step;
  }
  update(data: Uint8Array): void {
    this.#crc = this.#step(data, this.#crc);
  }
  digest(): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.#crc >>> 0);
    return out;
  }
}

// ---- CRC32C: reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF.

const crc32cTables = buildCrc32Tables(0x82f63b78);

function buildCrc32Tables(reflectedPolynomial: number): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const first = tables[0]!;
  for (let i = 0; i < 256; i++) {
    let crc = i;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ reflectedPolynomial : crc >>> 1;
    first[i] = crc >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    const previous = tables[k - 1]!;
    const table = tables[k]!;
    for (let i = 0; i < 256; i++) {
      const value = previous[i]!;
      table[i] = ((value >>> 8) ^ first[value & 0xff]!) >>> 0;
    }
  }
  return tables;
}

/** Continue a CRC32C over `data`; pass the previous result (0 to start). */
export function crc32c(data: Uint8Array, previous = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = crc32cTables as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let crc = ~previous >>> 0;
  let i = 0;
  const length = data.length;
  const end8 = length - (length % 8);
  while (i < end8) {
    const low = (crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    crc =
      t7[low & 0xff]! ^
      t6[(low >>> 8) & 0xff]! ^
      t5[(low >>> 16) & 0xff]! ^
      t4[low >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
    i += 8;
  }
  while (i < length) {
    crc = (crc >>> 8) ^ t0[(crc ^ data[i]!) & 0xff]!;
    i++;
  }
  return ~crc >>> 0;
}

// ---- CRC64NVME: reflected polynomial 0x9A6C9329AC4BC9B5, init and final xor all ones.
// Each 64-bit table entry is split into a high and a low 32-bit table.

interface Crc64Tables {
  high: Uint32Array[];
  low: Uint32Array[];
}

const crc64NvmeTables = buildCrc64Tables(0x9a6c9329, 0xac4bc9b5);

function buildCrc64Tables(polynomialHigh: number, polynomialLow: number): Crc64Tables {
  const high = Array.from({ length: 8 }, () => new Uint32Array(256));
  const low = Array.from({ length: 8 }, () => new Uint32Array(256));
  const high0 = high[0]!;
  const low0 = low[0]!;
  for (let i = 0; i < 256; i++) {
    let hi = 0;
    let lo = i;
    for (let bit = 0; bit < 8; bit++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (carry) {
        hi = (hi ^ polynomialHigh) >>> 0;
        lo = (lo ^ polynomialLow) >>> 0;
      }
    }
    high0[i] = hi;
    low0[i] = lo;
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const hi = high[k - 1]![i]!;
      const lo = low[k - 1]![i]!;
      const index = lo & 0xff;
      low[k]![i] = (((lo >>> 8) | (hi << 24)) ^ low0[index]!) >>> 0;
      high[k]![i] = ((hi >>> 8) ^ high0[index]!) >>> 0;
    }
  }
  return { high, low };
}

/** Continue a CRC64NVME over `data`; the state is [high, low] 32-bit halves ([0, 0] to start). */
export function crc64Nvme(data: Uint8Array, previous: readonly [number, number] = [0, 0]): [number, number] {
  const h = crc64NvmeTables.high as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  const l = crc64NvmeTables.low as typeof h;
  let hi = ~previous[0] >>> 0;
  let lo = ~previous[1] >>> 0;
  let i = 0;
  const length = data.length;
  const end8 = length - (length % 8);
  while (i < end8) {
    const xl = (lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    const xh =
      (hi ^ (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24))) >>> 0;
    const b0 = xl & 0xff;
    const b1 = (xl >>> 8) & 0xff;
    const b2 = (xl >>> 16) & 0xff;
    const b3 = xl >>> 24;
    const b4 = xh & 0xff;
    const b5 = (xh >>> 8) & 0xff;
    const b6 = (xh >>> 16) & 0xff;
    const b7 = xh >>> 24;
    lo =
      (l[7][b0]! ^ l[6][b1]! ^ l[5][b2]! ^ l[4][b3]! ^ l[3][b4]! ^ l[2][b5]! ^ l[1][b6]! ^ l[0][b7]!) >>> 0;
    hi =
      (h[7][b0]! ^ h[6][b1]! ^ h[5][b2]! ^ h[4][b3]! ^ h[3][b4]! ^ h[2][b5]! ^ h[1][b6]! ^ h[0][b7]!) >>> 0;
    i += 8;
  }
  while (i < length) {
    const index = (lo ^ data[i]!) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ l[0][index]!) >>> 0;
    hi = ((hi >>> 8) ^ h[0][index]!) >>> 0;
    i++;
  }
  return [~hi >>> 0, ~lo >>> 0];
}

class Crc64NvmeHasher implements StreamingHasher {
  #crc: [number, number] = [0, 0];
  update(data: Uint8Array): void {
    this.#crc = crc64Nvme(data, this.#crc);
  }
  digest(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE(this.#crc[0], 0);
    out.writeUInt32BE(this.#crc[1], 4);
    return out;
  }
}
