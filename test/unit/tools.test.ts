import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureGoTool } from '../../scripts/tools.ts';

describe('pinned Go tools', () => {
  const originalPath = process.env.PATH;
  afterEach(() => {
    process.env.PATH = originalPath;
  });

  it('tells how to get the Temporal CLI when neither it nor Go is installed', async () => {
    const emptyBin = await mkdtemp(path.join(os.tmpdir(), 'no-tools-'));
    process.env.PATH = emptyBin;
    const attempt = ensureGoTool('temporal', () => {}, emptyBin);
    await expect(attempt).rejects.toThrow(/neither it nor Go is installed/);
    await expect(attempt).rejects.toThrow(/Install Go 1\.25 or newer/);
    await expect(attempt).rejects.toThrow(/TEMPORAL_ADDRESS/);
  });

  it('finds an installed binary without building anything', async () => {
    // The harness already installed it; a second call must be immediate.
    const started = Date.now();
    const binary = await ensureGoTool('temporal', () => {
      throw new Error('must not build');
    });
    expect(path.basename(binary)).toBe('temporal');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
