/**
 * The whole platform as a child process group, the way a user runs it from a
 * terminal: isolated data folder and free ports, ready when it says so, and
 * stopped with Ctrl-C (SIGINT to the whole group). Used by the end-to-end
 * tests and the benchmarks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.ts';

export const READY_LINE = 'Press Ctrl-C to stop.';

export interface PlatformPorts {
  API_PORT: number;
  BRIDGE_S3_PORT: number;
  BRIDGE_OPENAI_PORT: number;
  WORKER_METRICS_PORT: number;
  EMBEDDED_POSTGRES_PORT: number;
  TEMPORAL_DEV_SERVER_PORT: number;
  TEMPORAL_DEV_UI_PORT: number;
}

/** Environment for a platform with embedded services on free ports and its own data folder. */
export async function isolatedPlatformEnv(
  dataDir: string,
  logLevel = 'info',
): Promise<{ env: NodeJS.ProcessEnv; ports: PlatformPorts }> {
  const ports: PlatformPorts = {
    API_PORT: await freePort(),
    BRIDGE_S3_PORT: await freePort(),
    BRIDGE_OPENAI_PORT: await freePort(),
    WORKER_METRICS_PORT: await freePort(),
    EMBEDDED_POSTGRES_PORT: await freePort(),
    TEMPORAL_DEV_SERVER_PORT: await freePort(),
    TEMPORAL_DEV_UI_PORT: await freePort(),
  };
  const env: NodeJS.ProcessEnv = { ...process.env, SKYBRIDGE_DATA_DIR: dataDir, LOG_LEVEL: logLevel };
  for (const [name, value] of Object.entries(ports)) env[name] = String(value);
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'JWT_SECRET', 'NODE_OPTIONS']) delete env[name];
  return { env, ports };
}

export interface PlatformProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<void>;
  waitForOutput(text: string, timeoutMs: number): Promise<void>;
  /** Ctrl-C: SIGINT to every process of the group; resolves when the leader has exited. */
  interrupt(timeoutMs?: number): Promise<void>;
}

export function spawnPlatform(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): PlatformProcess {
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (chunk: Buffer) => {
    output += String(chunk);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    output: () => output,
    exited,
    async waitForOutput(text, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (!running()) throw new Error(`the platform exited before printing "${text}":\n${output}`);
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for "${text}"; output so far:\n${output}`);
        await sleep(200);
      }
    },
    async interrupt(timeoutMs = 60_000) {
      if (running()) process.kill(-child.pid!, 'SIGINT');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the platform did not stop after SIGINT')), timeoutMs);
      });
      try {
        await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
