/**
 * Checksums as S3 uses them: published check values ("123456789"), the CRC32C of AWS's trailer
 * example, agreement with the AWS SDK's own implementations on random data split at random
 * places, and the strict base64 checks that separate InvalidRequest/InvalidDigest from BadDigest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Crc32, Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';
import { describe, expect, it } from 'vitest';
import {
  checksumAlgorithmOfHeader,
  checksumAlgorithmOfName,
  crc32c,
  crc64Nvme,
  createHasher,
  decodeDigest,
  digestBase64,
} from '../../bridge/s3/auth/checksums.ts';

const CHECK = Buffer.from('123456789');

describe('checksums', () => {
  it('match the published check values of each CRC', () => {
    expect(crc32c(CHECK).toString(16)).toBe('e3069283');
    expect(
      crc64Nvme(CHECK)
        .map((half) => half.toString(16).padStart(8, '0'))
        .join(''),
    ).toBe('ae8b14860a799888');
    expect(digestBase64('CRC32', CHECK)).toBe(Buffer.from('cbf43926', 'hex').toString('base64'));
  });

  it('give the CRC32C of the AWS trailer example (66560 × "a")', () => {
    expect(digestBase64('CRC32C', Buffer.alloc(66_560, 'a'))).toBe('sOO8/Q==');
  });

  it('agree with the AWS SDK on random data fed in random pieces', async () => {
    const sdk = { CRC32: Crc32, CRC32C: Crc32c, CRC64NVME: Crc64Nvme } as const;
    for (const size of [0, 1, 7, 8, 9, 63, 1000, 65_537, 300_001]) {
      const data = randomBytes(size);
      for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
        const reference = new sdk[algorithm]();
        reference.update(data);
        const expected = Buffer.from(await reference.digest()).toString('base64');
        const hasher = createHasher(algorithm);
        for (let offset = 0; offset < size; ) {
          const step = 1 + Math.floor(Math.random() * 50_000);
          hasher.update(data.subarray(offset, offset + step));
          offset += step;
        }
        expect(hasher.digest().toString('base64'), `${algorithm} of ${size} bytes`).toBe(expected);
      }
      for (const [algorithm, node] of [
        ['SHA1', 'sha1'],
        ['SHA256', 'sha256'],
        ['MD5', 'md5'],
      ] as const) {
        expect(digestBase64(algorithm, data)).toBe(createHash(node).update(data).digest('base64'));
      }
    }
  });

  it('accept only well-formed base64 of the right size', () => {
    const crc = digestBase64('CRC32', CHECK);
    expect(decodeDigest('CRC32', crc)?.toString('hex')).toBe('cbf43926');
    expect(decodeDigest('CRC32', 'AAAAAAAA')).toBeUndefined(); // 6 bytes
    expect(decodeDigest('CRC32', 'zz!=')).toBeUndefined();
    expect(decodeDigest('CRC32', crc.replace('=', ''))).toBeUndefined(); // unpadded
    expect(decodeDigest('MD5', createHash('md5').update('x').digest('hex'))).toBeUndefined(); // hex, not base64
  });

  it('name algorithms from headers and from x-amz-sdk-checksum-algorithm', () => {
    expect(checksumAlgorithmOfHeader('X-Amz-Checksum-CRC64NVME')).toBe('CRC64NVME');
    expect(checksumAlgorithmOfHeader('x-amz-checksum-type')).toBeUndefined();
    expect(checksumAlgorithmOfName('crc32c')).toBe('CRC32C');
    expect(checksumAlgorithmOfName('MD5')).toBeUndefined();
  });
});
