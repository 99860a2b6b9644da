/**
 * `npm run bench`: starts the platform with `npm start`'s own supervisor on a
 * scratch data folder and free ports, measures it over HTTP from this process,
 * and writes the figures to bench/results/latest.json (summarised in README).
 * Every loop is bounded in time and count, and only talks to 127.0.0.1.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isolatedPlatformEnv, READY_LINE, spawnPlatform } from '../scripts/services/platform-process.ts';
import { makeScratchDir } from '../scripts/services/scratch-dir.ts';

const projectRoot = path.resolve(import.meta.dirname, '..');
const DURATION_MS = 5_000;
const CONCURRENCY = 16;
const MAX_REQUESTS = 200_000;

interface Result {
  name: string;
  requests: number;
  errors: number;
  perSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

function summarise(name: string, latencies: number[], errors: number, elapsedMs: number): Result {
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 100) / 100;
  return {
    name,
    requests: latencies.length,
    errors,
    perSecond: Math.round((latencies.length / elapsedMs) * 1000),
    p50Ms: round(percentile(sorted, 0.5)),
    p95Ms: round(percentile(sorted, 0.95)),
    p99Ms: round(percentile(sorted, 0.99)),
  };
}

/** `concurrency` loops issuing `request` until the time or count budget is spent. */
async function load(name: string, concurrency: number, request: () => Promise<boolean>): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + DURATION_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && latencies.length + errors < MAX_REQUESTS) {
        const t0 = performance.now();
        const ok = await request().catch(() => false);
        if (ok) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  return summarise(name, latencies, errors, performance.now() - started);
}

async function json(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const { env, ports } = await isolatedPlatformEnv(await makeScratchDir('skybridge-bench-'), 'warn');

const startedAt = performance.now();
const platform = spawnPlatform(process.execPath, [path.join(projectRoot, 'scripts/start.ts')], {
  cwd: projectRoot,
  env,
});
await platform.waitForOutput(READY_LINE, 300_000);
const startSeconds = (performance.now() - startedAt) / 1000;
const api = `http://127.0.0.1:${ports.API_PORT}`;
try {
  const email = /email:\s+(\S+)/.exec(platform.output())?.[1];
  const password = /password:\s+(\S+)/.exec(platform.output())?.[1];
  const login = () =>
    json(`${api}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
  const token = (await login()).body.token as string;
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const startPing = async () =>
    (await json(`${api}/jobs/ping`, { method: 'POST', headers: auth, body: '{"message":"bench"}' })).body
      .id as string;
  const jobId = await startPing();

  const results: Result[] = [];
  results.push(
    await load('api GET /healthz', CONCURRENCY, async () => {
      const response = await fetch(`${api}/healthz`);
      await response.arrayBuffer();
      return response.ok;
    }),
  );
  results.push(
    await load(
      'api GET /jobs/{id} of a finished job (JWT, tenancy check, Temporal describe; its state queried once, then kept)',
      CONCURRENCY,
      async () => {
        const response = await fetch(`${api}/jobs/${jobId}`, { headers: auth });
        await response.arrayBuffer();
        return response.ok;
      },
    ),
  );
  results.push(
    await load('ping job round trip (start → worker → COMPLETED, polled every 10 ms)', 4, async () => {
      const id = await startPing();
      for (let attempt = 0; attempt < 1_000; attempt++) {
        const job = await json(`${api}/jobs/${id}`, { headers: auth });
        if (job.body.status === 'COMPLETED') return true;
        await sleep(10);
      }
      return false;
    }),
  );
  results.push(
    await load(
      'api POST /auth/login (scrypt N=2^15, deliberately slow)',
      2,
      async () => (await login()).status === 200,
    ),
  );

  const report = {
    recordedAt: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    settings: { durationMsPerScenario: DURATION_MS, concurrency: CONCURRENCY },
    npmStartReadySeconds: Math.round(startSeconds * 10) / 10,
    results,
  };
  await writeFile(
    path.join(projectRoot, 'bench/results/latest.json'),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  console.log(`npm start ready in ${report.npmStartReadySeconds} s (fresh data folder, tools installed)`);
  console.log(
    '| scenario | requests | errors | req/s | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|---|',
  );
  for (const r of results)
    console.log(
      `| ${r.name} | ${r.requests} | ${r.errors} | ${r.perSecond} | ${r.p50Ms} | ${r.p95Ms} | ${r.p99Ms} |`,
    );
} finally {
  await platform.interrupt();
}
