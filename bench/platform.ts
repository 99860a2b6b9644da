/**
 * What the benchmarks share: the platform started as `npm start` starts it
 * (scripts/start.ts on a scratch data folder and free ports, its own process
 * group), a signed-up caller of its API, and its component processes found
 * and watched through /proc.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { builtEntry } from '../scripts/build.ts';
import {
  isolatedPlatformEnv,
  type PlatformPorts,
  type PlatformProcess,
  spawnPlatform,
} from '../scripts/services/platform-process.ts';
import { makeScratchDir } from '../scripts/services/scratch-dir.ts';

export const projectRoot = path.resolve(import.meta.dirname, '..');
export const MB = 1e6;
/** `value` to `digits` decimals, for the results files. */
export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
const CLOCK_TICKS_PER_SECOND = 100;
const run = promisify(execFile);

export interface StartedPlatform {
  platform: PlatformProcess;
  ports: PlatformPorts;
  env: NodeJS.ProcessEnv;
  dataDir: string;
}

/** scripts/start.ts spawned on a fresh scratch folder and free ports, LOG_LEVEL=warn; not yet ready. */
export async function spawnBenchPlatform(scratchPrefix: string): Promise<StartedPlatform> {
  const dataDir = await makeScratchDir(scratchPrefix);
  const { env, ports } = await isolatedPlatformEnv(dataDir, 'warn');
  const platform = spawnPlatform(process.execPath, [path.join(projectRoot, 'scripts/start.ts')], {
    cwd: projectRoot,
    env,
  });
  return { platform, ports, env, dataDir };
}

export async function json(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, init);
  return {
    status: response.status,
    body: (await response.json().catch(() => ({}))) as Record<string, unknown>,
  };
}

/** Signs up a fresh organization; the headers that authenticate its owner's API calls. */
export async function signUpBenchUser(
  api: string,
  organizationName: string,
): Promise<{ authorization: string; 'content-type': string }> {
  const signup = await json(`${api}/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: `bench-${randomBytes(4).toString('hex')}@skybridge.local`,
      password: randomBytes(18).toString('base64url'),
      organizationName,
    }),
  });
  if (signup.status !== 201 && signup.status !== 200)
    throw new Error(`signup failed: ${signup.status} ${JSON.stringify(signup.body)}`);
  return { authorization: `Bearer ${String(signup.body.token)}`, 'content-type': 'application/json' };
}

/** The one process of the platform's group that runs `entry` (scripts/start.ts spawns its compiled file). */
export async function componentPid(
  platform: PlatformProcess,
  entry: 'bridge/main.ts' | 'workers/main.ts' | 'api/main.ts',
): Promise<number> {
  const { stdout } = await run('ps', ['-eo', 'pid,pgid,args']);
  const group = platform.child.pid;
  let candidates = stdout
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .filter((match) => Number(match[2]) === group && match[3]!.includes(builtEntry(entry)))
    .map((match) => Number(match[1]));
  // A bridge of several processes: its forks run the same file; the one the supervisor started is their parent.
  const forks = new Set(
    (await Promise.all(candidates.map(withChildren))).flatMap(([, ...children]) => children),
  );
  candidates = candidates.filter((pid) => !forks.has(pid));
  if (candidates.length !== 1)
    throw new Error(
      `expected one ${entry} process in group ${group}, found ${candidates.join(', ') || 'none'}`,
    );
  return candidates[0]!;
}

async function groupAlive(platform: PlatformProcess): Promise<boolean> {
  const { stdout } = await run('ps', ['-eo', 'pgid=']).catch(() => ({ stdout: '' }));
  return stdout.split('\n').some((line) => Number(line.trim()) === platform.child.pid);
}

/** The group leader exits first after Ctrl-C; waits (up to 20 s) for the rest of the group. */
export async function waitForGroupExit(platform: PlatformProcess | undefined): Promise<void> {
  for (let attempt = 0; platform && attempt < 100 && (await groupAlive(platform)); attempt++)
    await sleep(200);
}

export async function removeScratchDirs(dirs: string[], log: (line: string) => void): Promise<void> {
  for (const dir of dirs)
    await rm(dir, { recursive: true, force: true, maxRetries: 5 }).catch((error: unknown) =>
      log(`could not remove ${dir}: ${String(error)}`),
    );
}

async function statusFieldMB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kB = Number(new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? 0);
  return (kB * 1024) / MB;
}

/** `pid` and the processes its main thread forked: the bridge's processes when BRIDGE_PROCESSES > 1. */
async function withChildren(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return [pid, ...children.split(' ').filter(Boolean).map(Number)];
}

/** Summed over `pid` and its children, which may exit meanwhile (they count as 0). */
async function sumOverChildren(pid: number, read: (pid: number) => Promise<number>): Promise<number> {
  const values = await Promise.all(
    (await withChildren(pid)).map((each) => (each === pid ? read(each) : read(each).catch(() => 0))),
  );
  return values.reduce((sum, value) => sum + value, 0);
}

/** Resident memory of `pid` with its children's, in MB. */
export const rssMB = (pid: number) => sumOverChildren(pid, (each) => statusFieldMB(each, 'VmRSS'));
/** The process's peak resident set since it started, as the kernel recorded it. */
export const highWaterMarkMB = (pid: number) => statusFieldMB(pid, 'VmHWM');

/** User plus system CPU time of `pid` and its children, in milliseconds. */
export const cpuMs = (pid: number) => sumOverChildren(pid, ownCpuMs);

async function ownCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** RSS of `pid` sampled every `everyMs` while `work` runs (0 once the process is gone). */
export async function sampleRssDuring<T>(
  pid: number,
  everyMs: number,
  work: () => Promise<T>,
): Promise<{ result: T; samples: { atS: number; rssMB: number }[] }> {
  const samples: { atS: number; rssMB: number }[] = [];
  const started = performance.now();
  const take = async () =>
    samples.push({ atS: (performance.now() - started) / 1000, rssMB: await rssMB(pid).catch(() => 0) });
  await take();
  let done = false;
  const sampler = (async () => {
    while (!done) {
      await sleep(everyMs);
      if (!done) await take();
    }
  })();
  try {
    const result = await work();
    return { result, samples };
  } finally {
    done = true;
    await sampler;
    await take();
  }
}

/** V8's heap as a process reports it on its /metrics, in MB: where RSS steps come from. */
export type HeapSample = { atS: number } & Record<(typeof HEAP_METRICS)[number][0], number>;

const HEAP_METRICS = [
  ['heapUsedMB', 'nodejs_heap_size_used_bytes'],
  ['heapTotalMB', 'nodejs_heap_size_total_bytes'],
  ['externalMB', 'nodejs_external_memory_bytes'],
  ['oldSpaceMB', 'nodejs_heap_space_size_total_bytes{space="old"'],
  ['newSpaceMB', 'nodejs_heap_space_size_total_bytes{space="new"'],
] as const;

/** Runs `work` while reading the heap figures from `metricsUrl` every `everyMs` into `into`. */
export async function sampleHeapDuring<T>(
  metricsUrl: string,
  everyMs: number,
  into: HeapSample[],
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const text = await fetch(metricsUrl)
        .then((response) => response.text())
        .catch(() => '');
      const lines = text.split('\n');
      const sample = { atS: round((performance.now() - started) / 1000, 1) } as HeapSample;
      for (const [name, metric] of HEAP_METRICS) {
        const line = lines.find((candidate) => candidate.startsWith(metric));
        sample[name] = round(Number(line?.slice(line.lastIndexOf(' ') + 1) ?? 0) / MB, 1);
      }
      into.push(sample);
      await sleep(everyMs);
    }
  })();
  try {
    return await work();
  } finally {
    done = true;
    await sampler;
  }
}

/** Least-squares slope of RSS over time, in MB per minute. */
export function slopeMBPerMin(samples: { atS: number; rssMB: number }[]): number {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const meanT = samples.reduce((sum, s) => sum + s.atS, 0) / n;
  const meanR = samples.reduce((sum, s) => sum + s.rssMB, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (const s of samples) {
    numerator += (s.atS - meanT) * (s.rssMB - meanR);
    denominator += (s.atS - meanT) ** 2;
  }
  return denominator === 0 ? 0 : (numerator / denominator) * 60;
}

/**
 * Ctrl-C or SIGTERM, or the watchdog's time running out: `cleanup`, then
 * exit. Returns the watchdog, for the bench to clear once it has cleaned up.
 */
export function stopOnSignalOrTimeout(
  cleanup: () => Promise<void>,
  watchdogMs: number,
  log: (line: string) => void,
): NodeJS.Timeout {
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      log(`${signal}: stopping everything`);
      void cleanup().finally(() => process.exit(130));
    });
  const watchdog = setTimeout(() => {
    log(`still running after ${Math.round(watchdogMs / 60_000)} min: giving up`);
    void cleanup().finally(() => process.exit(1));
  }, watchdogMs);
  watchdog.unref();
  return watchdog;
}

/** The machine a result was measured on. */
export function machineFacts() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  };
}
