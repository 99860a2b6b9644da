/** Azure block ids and the cutting of a part's stream into blocks, with a 10-byte block limit. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { blockId, splitIntoBlocks } from '../../providers/storage/azure-blocks.ts';

const bytes = (length: number, from = 0) => Buffer.from(Array.from({ length }, (_, index) => from + index));

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads every block as a stager would, in order. */
async function blocksOf(source: Readable, declared: number): Promise<{ length: number; data: Buffer }[]> {
  const blocks: { length: number; data: Buffer }[] = [];
  for await (const block of splitIntoBlocks(source, declared, 10))
    blocks.push({ length: block.length, data: await readAll(block.body) });
  return blocks;
}

describe('splitIntoBlocks', () => {
  it('cuts 25 bytes into blocks of 10, 10 and 5, whatever the chunks', async () => {
    const data = bytes(25);
    for (const chunks of [[data], [data.subarray(0, 3), data.subarray(3, 17), data.subarray(17)]]) {
      const blocks = await blocksOf(Readable.from(chunks), 25);
      expect(blocks.map((block) => block.length)).toEqual([10, 10, 5]);
      expect(blocks.map((block) => block.data.length)).toEqual([10, 10, 5]);
      expect(Buffer.concat(blocks.map((block) => block.data)).equals(data)).toBe(true);
    }
  });

  it('gives one block for a part within the limit and none for an empty part', async () => {
    expect((await blocksOf(Readable.from([bytes(10)]), 10)).map((block) => block.length)).toEqual([10]);
    expect(await blocksOf(Readable.from([]), 0)).toEqual([]);
  });

  it('fails the block a shorter stream ends in', async () => {
    const lengths: number[] = [];
    const failure = (async () => {
      for await (const block of splitIntoBlocks(Readable.from([bytes(20)]), 25, 10))
        lengths.push((await readAll(block.body)).length);
    })();
    await expect(failure).rejects.toMatchObject({
      code: 'Invalid',
      message: expect.stringContaining('20 of'),
    });
    expect(lengths).toEqual([10, 10]);
  });

  it('fails after the last block when the stream is longer than declared', async () => {
    await expect(blocksOf(Readable.from([bytes(30)]), 25)).rejects.toMatchObject({
      code: 'Invalid',
      message: expect.stringContaining('more than'),
    });
    await expect(blocksOf(Readable.from([bytes(1)]), 0)).rejects.toMatchObject({ code: 'Invalid' });
  });

  it('destroys a source that is still open when the reader gives up', async () => {
    const source = new Readable({ read() {} });
    source.push(bytes(10));
    const blocks = splitIntoBlocks(source, 25, 10);
    const first = await blocks.next();
    expect(first.done).toBe(false);
    await blocks.return(undefined);
    expect(source.destroyed).toBe(true);
  });
});

describe('blockId', () => {
  const uploadId = 'a'.repeat(32);

  it('gives ids of one length that sort in part and block order and differ between uploads', () => {
    const decoded = (id: string) => Buffer.from(id, 'base64').toString();
    const ids = [
      blockId(uploadId, 1, 0),
      blockId(uploadId, 1, 1),
      blockId(uploadId, 2, 0),
      blockId(uploadId, 10_000, 0),
    ];
    expect(new Set(ids.map((id) => id.length)).size).toBe(1);
    expect(ids.map(decoded)).toEqual([...ids.map(decoded)].sort());
    expect(blockId('b'.repeat(32), 1, 0)).not.toBe(ids[0]);
  });

  it('refuses what would change the length', () => {
    expect(() => blockId('short', 1, 0)).toThrow();
    expect(() => blockId(uploadId, 100_000, 0)).toThrow();
  });
});
