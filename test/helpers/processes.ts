/**
 * Skybridge's own entry points (`workers/main.ts`, `api/main.ts`,
 * `bridge/main.ts`) as child processes on a test stack's database and task
 * queue, for tests that kill them or look at what they emit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../scripts/services/free-port.ts';
import { projectRoot } from '../../scripts/tools.ts';
import { services, type TestStack } from './context.ts';

export interface ProjectProcess {
  readonly pid: number;
  /** SIGKILL: no shutdown, no last heartbeat, in-flight work simply vanishes. */
  kill9(): Promise<void>;
  /** SIGTERM: a clean stop (buffers flushed). */
  stop(): Promise<void>;
}

/** The worker on the stack's task queue; `env` adds or overrides variables. */
export async function startWorkerProcess(
  stack: TestStack,
  env: NodeJS.ProcessEnv = {},
): Promise<ProjectProcess> {
  const metricsPort = await freePort();
  return startProjectProcess(
    'workers/main.ts',
    { ...stackEnv(stack), WORKER_METRICS_PORT: String(metricsPort), ...env },
    `http://127.0.0.1:${metricsPort}/readyz`,
  );
}

/** An API process on the stack's database and task queue; its base URL. */
export async function startApiProcess(
  stack: TestStack,
  env: NodeJS.ProcessEnv = {},
): Promise<ProjectProcess & { baseUrl: string }> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const started = await startProjectProcess(
    'api/main.ts',
    { ...stackEnv(stack), API_PORT: String(port), JWT_SECRET: randomBytes(32).toString('hex'), ...env },
    `${baseUrl}/readyz`,
  );
  return { ...started, baseUrl };
}

/** A bridge process on the stack's database; the base URLs of its S3 and OpenAI listeners. */
export async function startBridgeProcess(
  stack: TestStack,
  env: NodeJS.ProcessEnv = {},
): Promise<ProjectProcess & { s3Url: string; openaiUrl: string }> {
  const [s3Port, openaiPort] = [await freePort(), await freePort()];
  const openaiUrl = `http://127.0.0.1:${openaiPort}`;
  const started = await startProjectProcess(
    'bridge/main.ts',
    { ...stackEnv(stack), BRIDGE_S3_PORT: String(s3Port), BRIDGE_OPENAI_PORT: String(openaiPort), ...env },
    `${openaiUrl}/readyz`,
  );
  return { ...started, s3Url: `http://127.0.0.1:${s3Port}`, openaiUrl };
}

function stackEnv(stack: TestStack): NodeJS.ProcessEnv {
  const { address, namespace } = services().temporal;
  return {
    PATH: process.env.PATH,
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    SKYBRIDGE_MASTER_KEYS: stack.masterKeys,
    OUTBOUND_ALLOW_LOOPBACK: 'true',
    LOG_LEVEL: 'warn',
  };
}

async function startProjectProcess(
  script: string,
  env: NodeJS.ProcessEnv,
  readyUrl: string,
): Promise<ProjectProcess> {
  const child = spawn(process.execPath, [path.join(projectRoot, script)], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitUntilReady(child, script, readyUrl);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { pid: child.pid ?? 0, kill9: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

async function waitUntilReady(child: ChildProcess, script: string, readyUrl: string): Promise<void> {
  for (let tries = 0; tries < 1200; tries++) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    const ready = await fetch(readyUrl).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`${script} did not become ready in 2 minutes`);
}
