/**
 * Multipart parts as Azure blocks: the ids that name them and the cutting of
 * a part's stream into blocks Azure accepts, streamed, never held in memory.
 */
import { Readable } from 'node:stream';
import { StorageError } from './object-store.ts';

const MiB = 1024 * 1024;
/** The largest block Azure stages (an S3 part can reach 5 GiB, so a part takes one or two blocks). */
export const MAX_BLOCK_SIZE = 4000 * MiB;
/** Blocks one blob can be committed from. */
export const MAX_BLOCKS_PER_BLOB = 50_000;
/**
 * Azure refuses a block whose id differs in length from the blob's other
 * uncommitted blocks. 48 characters, as the SDK's uploadStream (put) names
 * its blocks, so blocks a failed put leaves behind do not get in the way.
 */
const BLOCK_ID_LENGTH = 48;

/** Base64 of `<uploadId>-<part number>-<block index>`, zero-padded: one length, part order, one upload's own. */
export function blockId(uploadId: string, partNumber: number, blockIndex: number): string {
  const id = `${uploadId}-${String(partNumber).padStart(5, '0')}-${String(blockIndex).padStart(9, '0')}`;
  if (Buffer.byteLength(id) !== BLOCK_ID_LENGTH)
    throw new StorageError(
      'Invalid',
      `cannot name block ${blockIndex} of part ${partNumber} of upload ${uploadId}`,
    );
  return Buffer.from(id).toString('base64');
}

export interface Block {
  index: number;
  /** Exactly this many bytes come out of `body`, or it fails. */
  length: number;
  body: Readable;
}

/**
 * Cuts `source`, which must hold exactly `totalLength` bytes, into
 * consecutive blocks of at most `blockSize` bytes. Each block's body must be
 * read to its end before the next block is asked for; a source shorter than
 * declared fails the block it ends in, a longer one fails after the last block.
 */
export async function* splitIntoBlocks(
  source: Readable,
  totalLength: number,
  blockSize: number,
): AsyncGenerator<Block> {
  const reader = new ChunkReader(source, totalLength);
  try {
    if (!Number.isSafeInteger(totalLength) || totalLength < 0)
      throw new StorageError('Invalid', `a part cannot be ${totalLength} bytes long`);
    for (let index = 0, offset = 0; offset < totalLength; index++) {
      const length = Math.min(blockSize, totalLength - offset);
      yield { index, length, body: Readable.from(reader.take(length), { objectMode: false }) };
      offset += length;
      if (reader.consumed !== offset)
        throw new StorageError(
          'Invalid',
          `block ${index} was not read to its end before the next was asked for`,
        );
    }
    if (await reader.read(1))
      throw new StorageError('Invalid', `the part holds more than its declared ${totalLength} bytes`);
  } finally {
    // Given up early (a failed block, a longer source): a source still waiting for data must not hold anything.
    if (!reader.ended) source.destroy();
  }
}

/** Hands out a source's bytes a bounded number at a time, keeping what is left of a chunk for the next call. */
class ChunkReader {
  consumed = 0;
  ended = false;
  private readonly chunks: AsyncIterator<Buffer>;
  private readonly totalLength: number;
  private leftover: Buffer | undefined;

  constructor(source: Readable, totalLength: number) {
    this.chunks = source[Symbol.asyncIterator]();
    this.totalLength = totalLength;
  }

  /** The next bytes of the source, at most `max` of them; undefined at its end. */
  async read(max: number): Promise<Buffer | undefined> {
    let chunk = this.leftover;
    this.leftover = undefined;
    while (!chunk?.length) {
      const next = await this.chunks.next();
      if (next.done) {
        this.ended = true;
        return undefined;
      }
      chunk = next.value;
    }
    if (chunk.length > max) {
      this.leftover = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    }
    this.consumed += chunk.length;
    return chunk;
  }

  async *take(length: number): AsyncGenerator<Buffer> {
    for (let remaining = length; remaining > 0; ) {
      const chunk = await this.read(remaining);
      if (!chunk)
        throw new StorageError(
          'Invalid',
          `the part ended after ${this.consumed} of its declared ${this.totalLength} bytes`,
        );
      remaining -= chunk.length;
      yield chunk;
    }
  }
}
