/**
 * README's first command, run as a user runs it: `npm start` comes up with
 * every component ready, runs a job end to end, stops on Ctrl-C (SIGINT to
 * the whole process group, as a terminal sends it) without leaving a process
 * behind, and a second start finds the same data.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  isolatedPlatformEnv,
  type PlatformProcess,
  READY_LINE,
  spawnPlatform,
} from '../../scripts/services/platform-process.ts';
import { makeScratchDir } from '../../scripts/services/scratch-dir.ts';
import { awsCliVersion, createAwsCli } from '../helpers/aws-cli.ts';
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

/** Runs `npm run -s demo` against the started platform and reads its `export NAME='value'` lines. */
async function runDemo(env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const { stdout } = await promisify(execFile)('npm', ['run', '-s', 'demo'], {
    cwd: projectRoot,
    env,
    timeout: 120_000,
  });
  return Object.fromEntries(
    [...stdout.matchAll(/^export (\w+)='([^']*)'$/gm)].map((match) => [match[1]!, match[2]!]),
  );
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

    // `npm run demo`: a local MinIO and the local echo model behind a repository, usable at once
    // with the AWS CLI and the seeds' cURL smoke test.
    const demo = await runDemo(env);
    expect(Object.keys(demo).sort()).toEqual(
      [
        'AWS_ACCESS_KEY_ID',
        'AWS_DEFAULT_REGION',
        'AWS_SECRET_ACCESS_KEY',
        'FB_BUCKET',
        'FB_JWT',
        'FB_KEY_ID',
        'FB_KEY_SECRET',
        'FB_MODEL',
        'FB_OPENAI_API_KEY',
        'FB_OPENAI_BASE_URL',
        'FB_REPO_ID',
        'FB_S3_ENDPOINT',
        'OPENAI_API_KEY',
        'OPENAI_BASE_URL',
      ].sort(),
    );
    expect(demo.FB_OPENAI_BASE_URL).toBe(`http://127.0.0.1:${ports.BRIDGE_OPENAI_PORT}/v1`);
    const smoke = await promisify(execFile)('curl', [
      '-sS',
      '-w',
      '\n%{http_code}',
      `${demo.FB_OPENAI_BASE_URL}/chat/completions`,
      '-H',
      `Authorization: Bearer ${demo.FB_OPENAI_API_KEY}`,
      '-H',
      'Content-Type: application/json',
      '-d',
      JSON.stringify({ model: demo.FB_MODEL, messages: [{ role: 'user', content: 'ping' }] }),
    ]);
    const [answer, httpCode] = smoke.stdout.trim().split(/\n(?=\d{3}$)/);
    expect(httpCode).toBe('200');
    expect(JSON.parse(answer!).choices[0].message.content).toContain('You said: ping');
    expect(demo.FB_S3_ENDPOINT).toBe(`http://127.0.0.1:${ports.BRIDGE_S3_PORT}`);
    if (await awsCliVersion()) {
      const credentials = { accessKeyId: demo.FB_KEY_ID!, secretAccessKey: demo.FB_KEY_SECRET! };
      const cli = await createAwsCli(demo.FB_S3_ENDPOINT!, credentials);
      const copy = await cli.run(
        ['s3', 'cp', path.join(projectRoot, 'README.md'), `s3://${demo.FB_BUCKET}/README.md`],
        credentials,
      );
      expect(copy.code, copy.stderr).toBe(0);
      const listing = await cli.run(['s3', 'ls', `s3://${demo.FB_BUCKET}/`], credentials);
      expect(listing.stdout).toContain('README.md');
      await cli.close();
    }
    expect((await runDemo(env)).FB_KEY_ID).toBe(demo.FB_KEY_ID); // a second run reuses what it made
    const demoPid = (name: string) =>
      Number(readFileSync(path.join(env.SKYBRIDGE_DATA_DIR!, 'demo', `${name}.pid`), 'utf8'));
    const demoMinioPid = demoPid('minio');
    const demoModelPid = demoPid('model');

    await pressCtrlC(first);
    expect(first.output()).toContain('stopped; data kept for the next start');
    expect(() => process.kill(demoMinioPid, 0)).toThrow(); // the demo's MinIO stopped with the stack
    expect(() => process.kill(demoModelPid, 0)).toThrow(); // and its model

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
