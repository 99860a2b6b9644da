/**
 * README's first command, run as a user runs it: `npm start` comes up with
 * every component ready, runs a job end to end, stops on Ctrl-C (SIGINT to
 * the whole process group, as a terminal sends it) without leaving a process
 * behind, and a second start finds the same data.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/services/free-port.ts';
import { makeScratchDir } from '../../scripts/services/scratch-dir.ts';
import { api, login, services } from '../helpers/context.ts';

const projectRoot = path.resolve(import.meta.dirname, '../..');

interface RunningStart {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startPlatform(env: NodeJS.ProcessEnv): RunningStart {
  const child = spawn('npm', ['start'], {
    cwd: projectRoot,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    output += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForOutput(run: RunningStart, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!run.output().includes(text)) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for "${text}"; output so far:\n${run.output()}`);
    if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.output()}`);
    await sleep(200);
  }
}

function processesInGroup(groupId: number): string[] {
  const listing = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' });
  return listing
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => Number(fields[1]) === groupId)
    .map((fields) => fields.slice(2).join(' '));
}

async function pressCtrlC(run: RunningStart): Promise<void> {
  const groupId = run.child.pid!;
  process.kill(-groupId, 'SIGINT');
  await Promise.race([
    run.exited,
    sleep(60_000).then(() => Promise.reject(new Error('npm start did not stop'))),
  ]);
  // Give the kernel a moment to reap the last children, then nothing may remain.
  for (let attempt = 0; attempt < 50 && processesInGroup(groupId).length > 0; attempt++) await sleep(200);
  expect(processesInGroup(groupId)).toEqual([]);
}

describe('npm start', () => {
  const runs: RunningStart[] = [];
  afterAll(() => {
    for (const run of runs) {
      if (run.child.exitCode !== null || run.child.signalCode !== null) continue;
      try {
        process.kill(-run.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('starts everything, runs a job, stops cleanly on Ctrl-C, and keeps its data for the next start', async () => {
    const dataDir = await makeScratchDir('npm-start-', services().rootDir);
    const ports = {
      API_PORT: await freePort(),
      BRIDGE_S3_PORT: await freePort(),
      BRIDGE_OPENAI_PORT: await freePort(),
      WORKER_METRICS_PORT: await freePort(),
      EMBEDDED_POSTGRES_PORT: await freePort(),
      TEMPORAL_DEV_SERVER_PORT: await freePort(),
      TEMPORAL_DEV_UI_PORT: await freePort(),
    };
    const env: NodeJS.ProcessEnv = { ...process.env, SKYBRIDGE_DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    for (const [name, value] of Object.entries(ports)) env[name] = String(value);
    for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'JWT_SECRET', 'NODE_OPTIONS']) delete env[name];
    const apiUrl = `http://127.0.0.1:${ports.API_PORT}`;

    const first = startPlatform(env);
    runs.push(first);
    await waitForOutput(first, 'Press Ctrl-C to stop.', 240_000);
    const output = first.output();
    for (const url of [
      apiUrl,
      `http://127.0.0.1:${ports.BRIDGE_S3_PORT}`,
      `http://127.0.0.1:${ports.BRIDGE_OPENAI_PORT}/v1`,
      `http://127.0.0.1:${ports.TEMPORAL_DEV_UI_PORT}`,
    ]) {
      expect(output).toContain(url);
    }
    const email = /email:\s+(\S+)/.exec(output)?.[1];
    const password = /password:\s+(\S+)/.exec(output)?.[1];
    expect(email && password).toBeTruthy();

    for (const readyz of [
      `${apiUrl}/readyz`,
      `http://127.0.0.1:${ports.BRIDGE_OPENAI_PORT}/readyz`,
      `http://127.0.0.1:${ports.WORKER_METRICS_PORT}/readyz`,
    ]) {
      const response = await fetch(readyz);
      expect(response.status, readyz).toBe(200);
      expect(((await response.json()) as { status: string }).status).toBe('ready');
    }
    expect((await fetch(`http://127.0.0.1:${ports.WORKER_METRICS_PORT}/metrics`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.TEMPORAL_DEV_UI_PORT}/`)).status).toBe(200);

    const credential = { email: email!, password: password! };
    const token = await login(apiUrl, credential);
    const job = await api(apiUrl, 'POST', '/jobs/ping', { token, body: { message: 'from npm start' } });
    expect(job.status).toBe(202);
    let state = await api(apiUrl, 'GET', `/jobs/${job.body.id}`, { token });
    for (let attempt = 0; attempt < 100 && state.body.status !== 'COMPLETED'; attempt++) {
      await sleep(200);
      state = await api(apiUrl, 'GET', `/jobs/${job.body.id}`, { token });
    }
    expect(state.body).toMatchObject({ status: 'COMPLETED', state: { reply: { echo: 'from npm start' } } });

    await pressCtrlC(first);
    expect(first.output()).toContain('stopped; data kept for the next start');

    const second = startPlatform(env);
    runs.push(second);
    await waitForOutput(second, 'Press Ctrl-C to stop.', 240_000);
    expect(second.output()).toContain('created on an earlier start');
    expect(second.output()).not.toMatch(/password:\s+\S+/);
    const againToken = await login(apiUrl, credential);
    const remembered = await api(apiUrl, 'GET', `/jobs/${job.body.id}`, { token: againToken });
    expect(remembered.body).toMatchObject({ status: 'COMPLETED', state: { message: 'from npm start' } });
    await pressCtrlC(second);
  }, 600_000);
});
