/**
 * README's first command, run as a user runs it: `npm start` comes up with
 * every component ready, runs a job end to end, stops on Ctrl-C (SIGINT to
 * the whole process group, as a terminal sends it) without leaving a process
 * behind, and a second start finds the same data.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import {
  isolatedPlatformEnv,
  type PlatformProcess,
  READY_LINE,
  spawnPlatform,
} from '../../scripts/services/platform-process.ts';
import { makeScratchDir } from '../../scripts/services/scratch-dir.ts';
import { api, login, services } from '../helpers/context.ts';

const projectRoot = path.resolve(import.meta.dirname, '../..');

function processesInGroup(groupId: number): string[] {
  const listing = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' });
  return listing
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => Number(fields[1]) === groupId)
    .map((fields) => fields.slice(2).join(' '));
}

async function pressCtrlC(platform: PlatformProcess): Promise<void> {
  await platform.interrupt();
  const groupId = platform.child.pid!;
  // Give the kernel a moment to reap the last children, then nothing may remain.
  for (let attempt = 0; attempt < 50 && processesInGroup(groupId).length > 0; attempt++) await sleep(200);
  expect(processesInGroup(groupId)).toEqual([]);
}

async function waitForJob(apiUrl: string, id: string, token: string) {
  let job = await api(apiUrl, 'GET', `/jobs/${id}`, { token });
  for (let attempt = 0; attempt < 100 && job.body.status !== 'COMPLETED'; attempt++) {
    await sleep(200);
    job = await api(apiUrl, 'GET', `/jobs/${id}`, { token });
  }
  return job;
}

describe('npm start', () => {
  const runs: PlatformProcess[] = [];
  afterAll(async () => {
    await Promise.allSettled(runs.map((run) => run.interrupt(20_000)));
  });

  it('starts everything, runs a job, stops cleanly on Ctrl-C, and keeps its data for the next start', async () => {
    const { env, ports } = await isolatedPlatformEnv(await makeScratchDir('npm-start-', services().rootDir));
    const apiUrl = `http://127.0.0.1:${ports.API_PORT}`;
    const startPlatform = () => {
      const run = spawnPlatform('npm', ['start'], { cwd: projectRoot, env });
      runs.push(run);
      return run;
    };

    const first = startPlatform();
    await first.waitForOutput(READY_LINE, 240_000);
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
    const finished = await waitForJob(apiUrl, job.body.id, token);
    expect(finished.body).toMatchObject({
      status: 'COMPLETED',
      state: { reply: { echo: 'from npm start' } },
    });

    // Operators see the job in the Temporal UI (read through the UI server's own HTTP API).
    const uiUrl = `http://127.0.0.1:${ports.TEMPORAL_DEV_UI_PORT}`;
    const inUi = await fetch(`${uiUrl}/api/v1/namespaces/default/workflows/${job.body.id}`);
    expect(inUi.status).toBe(200);
    const uiView = (await inUi.json()) as {
      workflowExecutionInfo: { type: { name: string }; status: string };
    };
    expect(uiView.workflowExecutionInfo).toMatchObject({
      type: { name: 'pingWorkflow' },
      status: 'WORKFLOW_EXECUTION_STATUS_COMPLETED',
    });

    await pressCtrlC(first);
    expect(first.output()).toContain('stopped; data kept for the next start');

    const second = startPlatform();
    await second.waitForOutput(READY_LINE, 240_000);
    expect(second.output()).toContain('created on an earlier start');
    expect(second.output()).not.toMatch(/password:\s+\S+/);
    const againToken = await login(apiUrl, credential);
    const remembered = await api(apiUrl, 'GET', `/jobs/${job.body.id}`, { token: againToken });
    expect(remembered.body).toMatchObject({ status: 'COMPLETED', state: { message: 'from npm start' } });
    await pressCtrlC(second);
  }, 600_000);
});
