/**
 * The demo's services (scripts/demo.ts: MinIO, and the demo model when no
 * real AI provider is given) outlive the demo command; `npm start` stops them
 * when it stops.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const demoDir = (dataDir: string) => path.join(dataDir, 'demo');
export const demoMinioPidFile = (dataDir: string) => path.join(demoDir(dataDir), 'minio.pid');
export const demoModelPidFile = (dataDir: string) => path.join(demoDir(dataDir), 'model.pid');

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function stopDemoServices(dataDir: string): Promise<void> {
  await Promise.all([stopByPidFile(demoMinioPidFile(dataDir)), stopByPidFile(demoModelPidFile(dataDir))]);
}

async function stopByPidFile(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    process.kill(pid, 'SIGTERM');
    for (let attempt = 0; attempt < 100 && isAlive(pid); attempt++) await sleep(100);
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  await rm(pidFile, { force: true });
}
