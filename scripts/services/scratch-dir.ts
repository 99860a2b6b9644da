import { chmod, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * A new temporary folder that other local users may enter: the embedded
 * PostgreSQL runs as its own unprivileged user and must reach its data.
 */
export async function makeScratchDir(prefix: string, parent = os.tmpdir()): Promise<string> {
  const dir = await mkdtemp(path.join(parent, prefix));
  await chmod(dir, 0o755);
  return dir;
}
