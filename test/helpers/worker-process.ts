/**
 * The production worker (`workers/main.ts`) as a child process on a test
 * stack's database and task queue, for tests that kill it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../scripts/services/free-port.ts';
import { projectRoot } from '../../scripts/tools.ts';
import { services, type TestStack } from './context.ts';

export interface WorkerProcess {
  readonly pid: number;
  /** SIGKILL: no shutdown, no last heartbeat, in-flight activities simply vanish. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWorkerProcess(stack: TestStack): Promise<WorkerProcess> {
  const metricsPort = await freePort();
  const { address, namespace } = services().temporal;
  const child = spawn(process.execPath, [path.join(projectRoot, 'workers', 'main.ts')], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: stack.taskQueue,
      SKYBRIDGE_MASTER_KEYS: stack.masterKeys,
      WORKER_METRICS_PORT: String(metricsPort),
      OUTBOUND_ALLOW_LOOPBACK: 'true',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitUntilReady(child, `http://127.0.0.1:${metricsPort}/readyz`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { pid: child.pid ?? 0, kill9: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

async function waitUntilReady(child: ChildProcess, readyUrl: string): Promise<void> {
  for (let tries = 0; tries < 1200; tries++) {
    if (child.exitCode !== null) throw new Error(`the worker exited with ${child.exitCode}`);
    const ready = await fetch(readyUrl).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error('the worker did not become ready in 2 minutes');
}
