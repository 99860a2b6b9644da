/**
 * `npm run bench:migrate`: Skybridge migrations against `rclone copy`, in one
 * run on the same data. Starts the platform (as the other benches do), MinIO
 * and Azurite on free ports, and rclone (pinned, built with `go install` on
 * first use); seeds source buckets in MinIO; then for each case (many small
 * objects, a few large ones; MinIO → Azurite and MinIO → MinIO) copies the
 * same source into a fresh destination with each tool in turn, verifies the
 * destination (object count, bytes, sampled content), and records objects/s,
 * MB/s, the copying process's peak RSS (the worker, or rclone) and CPU time
 * by process. A scale run then plans (dry run) and copies many small objects
 * with Skybridge alone, recording each workflow run's history length (the
 * migration continues as new). Writes bench/results/migrate-<timestamp>.json
 * and migrate-latest.json, and prints markdown tables. Loops are bounded,
 * only 127.0.0.1 is used, and everything started here is stopped at the end.
 *
 *   node bench/migrate.ts [--small-objects 10000] [--small-bytes 4096] [--large-objects 16]
 *     [--large-mib 64] [--scale-objects 200000] [--concurrency 16]
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { Client, Connection } from '@temporalio/client';
import { watchTiming } from '../cli/watch.ts';
import {
  type BucketConnection,
  createObjectStore,
  type ObjectStore,
  reservedKeyPrefix,
} from '../providers/storage/index.ts';
import { builtEntry } from '../scripts/build.ts';
import {
  type AzuriteEmulator,
  type MinioEmulator,
  startAzurite,
  startMinio,
} from '../scripts/services/emulators.ts';
import { freePort } from '../scripts/services/free-port.ts';
import { type PlatformProcess, READY_LINE } from '../scripts/services/platform-process.ts';
import { makeScratchDir } from '../scripts/services/scratch-dir.ts';
import { ensureGoTool, goTools } from '../scripts/tools.ts';
import type { MigrationProgress } from '../workflows/definitions.ts';
import {
  componentPid,
  type HeapSample,
  highWaterMarkMB,
  json,
  MB,
  machineFacts,
  projectRoot,
  removeScratchDirs,
  round,
  rssMB,
  sampleHeapDuring,
  sampleRssDuring,
  signUpBenchUser,
  slopeMBPerMin,
  spawnBenchPlatform,
  stopOnSignalOrTimeout,
  waitForGroupExit,
} from './platform.ts';

/**
 * How often a job's progress is read, as `skybridge migrate --watch` reads it (cli/watch.ts).
 * A job's time comes from Temporal's close time, so polling does not round it; each read costs
 * the API, Temporal and the worker about 20 ms of CPU, which a faster poll would take from the copy.
 */
const POLL_MS = watchTiming.pollMs;
/** Rounds per case, the order of the two tools alternating. */
const CASE_ROUNDS = 2;
const RSS_SAMPLE_MS = 200;
const SAMPLED_OBJECTS = 16;
const SEED_CONCURRENCY = { small: 48, large: 2 };
const JOB_TIMEOUT_MS = 90 * 60_000;
const WATCHDOG_MS = 4 * 60 * 60_000;
const CLOCK_TICKS_PER_SECOND = 100;
/** History length at which Temporal terminates a run. */
const TEMPORAL_HISTORY_LIMIT = 51_200;
/** The worker's heap figures are read this often during a job. */
const HEAP_SAMPLE_MS = 5_000;
/** "Worker RSS flat": the most it may climb per minute over a long job's second half (bench:ai's soak allows the same). */
const RSS_FLAT_MB_PER_MIN = 1;

const { values: options } = parseArgs({
  options: {
    'small-objects': { type: 'string', default: '10000' },
    'small-bytes': { type: 'string', default: '4096' },
    'large-objects': { type: 'string', default: '16' },
    'large-mib': { type: 'string', default: '64' },
    'scale-objects': { type: 'string', default: '200000' },
    concurrency: { type: 'string', default: '16' },
  },
  strict: true,
});
const wholeNumber = (name: keyof typeof options, min: number, max: number) => {
  const value = Number(options[name]);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
  return value;
};
const settings = {
  smallObjects: wholeNumber('small-objects', 1, 1_000_000),
  smallBytes: wholeNumber('small-bytes', 1, 2 ** 20),
  largeObjects: wholeNumber('large-objects', 1, 256),
  largeBytes: wholeNumber('large-mib', 1, 1024) * 2 ** 20,
  scaleObjects: wholeNumber('scale-objects', 0, 2_000_000),
  concurrency: wholeNumber('concurrency', 1, 64),
};

const run = promisify(execFile);
const log = (line: string) => process.stderr.write(`bench:migrate: ${line}\n`);
const errorText = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);
const shortId = () => randomBytes(3).toString('hex');

// ---------------------------------------------------------------------------
// Buckets: created in the emulators as a cloud console would, opened with Skybridge's own adapters.

type Backend = 'minio' | 'azurite';

interface Emulators {
  minio: MinioEmulator;
  azurite: AzuriteEmulator;
  minioAdmin: S3Client;
}

interface BenchBucket {
  backend: Backend;
  name: string;
  store: ObjectStore;
  /** The `POST /bucket` body that registers it. */
  registration: Record<string, unknown>;
}

function connectionOf(emulators: Emulators, backend: Backend, name: string): BucketConnection {
  const { minio, azurite } = emulators;
  if (backend === 'azurite')
    return {
      provider: 'AZURE',
      bucketName: name,
      credentials: { kind: 'AZURE_CONNECTION_STRING', connectionString: azurite.connectionString },
    };
  return {
    provider: 'S3_COMPATIBLE',
    bucketName: name,
    endpoint: minio.endpoint,
    forcePathStyle: true,
    credentials: {
      kind: 'S3_ACCESS_KEY',
      accessKeyId: minio.accessKeyId,
      secretAccessKey: minio.secretAccessKey,
    },
  };
}

function registrationOf(emulators: Emulators, backend: Backend, name: string): Record<string, unknown> {
  const base = { name: `bench-${name}`, bucketName: name };
  if (backend === 'azurite')
    return {
      ...base,
      provider: 'AZURE',
      credentials: { type: 'CONNECTION_STRING', connectionString: emulators.azurite.connectionString },
    };
  const { minio } = emulators;
  return {
    ...base,
    provider: 'S3_COMPATIBLE',
    endpoint: minio.endpoint,
    forcePathStyle: true,
    credentials: {
      type: 'ACCESS_KEY',
      accessKeyId: minio.accessKeyId,
      secretAccessKey: minio.secretAccessKey,
    },
  };
}

async function createBucket(emulators: Emulators, backend: Backend, name: string): Promise<BenchBucket> {
  if (backend === 'azurite')
    await BlobServiceClient.fromConnectionString(emulators.azurite.connectionString)
      .getContainerClient(name)
      .create();
  else await emulators.minioAdmin.send(new CreateBucketCommand({ Bucket: name }));
  return {
    backend,
    name,
    store: await createObjectStore(connectionOf(emulators, backend, name)),
    registration: registrationOf(emulators, backend, name),
  };
}

/** Runs `task(0..count-1)`, `concurrency` at a time. */
async function forEachIndex(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

const objectKey = (index: number) =>
  `d${String(index % 100).padStart(2, '0')}/object-${String(index).padStart(7, '0')}`;

interface Dataset {
  label: 'small' | 'large' | 'scale';
  bucket: BenchBucket;
  objects: number;
  objectBytes: number;
  seedSeconds: number;
}

/** A source bucket in MinIO holding `objects` objects of random content, each `objectBytes` long. */
async function seedDataset(
  emulators: Emulators,
  label: Dataset['label'],
  objects: number,
  objectBytes: number,
): Promise<Dataset> {
  const bucket = await createBucket(emulators, 'minio', `src-${label}-${shortId()}`);
  const concurrency = objectBytes >= 2 ** 20 ? SEED_CONCURRENCY.large : SEED_CONCURRENCY.small;
  log(`seeding ${objects} × ${objectBytes} B into MinIO bucket ${bucket.name}...`);
  const started = performance.now();
  await forEachIndex(objects, concurrency, async (index) => {
    await bucket.store.put(objectKey(index), randomBytes(objectBytes));
  });
  return { label, bucket, objects, objectBytes, seedSeconds: round((performance.now() - started) / 1000, 1) };
}

/** Every object of the bucket (Skybridge's own reserved keys aside), key → size. */
async function listAll(store: ObjectStore): Promise<Map<string, number>> {
  const objects = new Map<string, number>();
  let continuationToken: string | undefined;
  do {
    const page = await store.list({ continuationToken, maxKeys: 1000 });
    for (const object of page.objects)
      if (!object.key.startsWith(reservedKeyPrefix)) objects.set(object.key, object.size);
    continuationToken = page.nextContinuationToken;
  } while (continuationToken);
  return objects;
}

async function sha256Of(store: ObjectStore, key: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of (await store.get(key)).body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The destination holds exactly the source's objects, and sampled ones have the same bytes. */
async function verifyCopy(dataset: Dataset, destination: BenchBucket) {
  const listed = await listAll(destination.store);
  const bytes = [...listed.values()].reduce((sum, size) => sum + size, 0);
  const expectedBytes = dataset.objects * dataset.objectBytes;
  if (listed.size !== dataset.objects || bytes !== expectedBytes)
    throw new Error(
      `${destination.name}: ${listed.size} objects, ${bytes} B; expected ${dataset.objects}, ${expectedBytes} B`,
    );
  const step = Math.max(1, Math.floor(dataset.objects / SAMPLED_OBJECTS));
  const sampled: string[] = [];
  for (let index = 0; index < dataset.objects && sampled.length < SAMPLED_OBJECTS; index += step)
    sampled.push(objectKey(index));
  for (const key of sampled) {
    const [source, copy] = await Promise.all([
      sha256Of(dataset.bucket.store, key),
      sha256Of(destination.store, key),
    ]);
    if (source !== copy) throw new Error(`${destination.name}/${key}: content differs from the source`);
  }
  return { objects: listed.size, bytes, sampledIdentical: sampled.length };
}

// ---------------------------------------------------------------------------
// CPU time by process: where a run's time went, and how busy the machine was meanwhile.

interface WatchedProcesses {
  platform: PlatformProcess;
  emulators: Emulators;
}

async function cpuMsOfPid(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** CPU of this process's exited, reaped children (rclone): cutime + cstime. */
async function reapedChildrenCpuMs(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Busy CPU time of the whole machine (all cores), from /proc/stat. */
async function machineBusyMs(): Promise<number> {
  const [cpu] = (await readFile('/proc/stat', 'utf8')).split('\n');
  const ticks = cpu!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const total = ticks.slice(0, 8).reduce((sum, value) => sum + value, 0);
  return ((total - idle) * 1000) / CLOCK_TICKS_PER_SECOND;
}

const platformRoles = [
  ['worker', builtEntry('workers/main.ts')],
  ['api', builtEntry('api/main.ts')],
  ['bridge', builtEntry('bridge/main.ts')],
  ['temporal', 'temporal'],
  ['postgres', 'postgres'],
] as const;

/** Cumulative CPU ms per role: the platform's processes by what they run, the emulators, rclone, the machine. */
async function cpuSnapshot(watched: WatchedProcesses): Promise<Record<string, number>> {
  const snapshot: Record<string, number> = {
    minio: await cpuMsOfPid(watched.emulators.minio.service.pid),
    azurite: await cpuMsOfPid(watched.emulators.azurite.service.pid),
    bench: process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000,
    machine: await machineBusyMs(),
  };
  for (const { pid, args } of await descendantsOf(watched.platform.child.pid!)) {
    const role = platformRoles.find(([, marker]) => args.includes(marker))?.[0] ?? 'platform-other';
    snapshot[role] = (snapshot[role] ?? 0) + (await cpuMsOfPid(pid));
  }
  return snapshot;
}

/** Every process below `root` in the process tree (PostgreSQL's backends included), with its command line. */
async function descendantsOf(root: number): Promise<{ pid: number; args: string }[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,ppid=,args=']);
  const processes = stdout
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ pid: Number(match[1]), parent: Number(match[2]), args: match[3]! }));
  const inTree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const { pid, parent } of processes)
      if (inTree.has(parent) && !inTree.has(pid)) {
        inTree.add(pid);
        grew = true;
      }
  }
  return processes.filter(({ pid }) => pid !== root && inTree.has(pid));
}

/** CPU seconds each role spent while `work` ran. */
async function cpuSecondsDuring<T>(
  watched: WatchedProcesses,
  work: () => Promise<T>,
): Promise<{ result: T; cpuSeconds: Record<string, number> }> {
  const before = await cpuSnapshot(watched);
  const result = await work();
  const after = await cpuSnapshot(watched);
  const cpuSeconds: Record<string, number> = {};
  for (const [role, ms] of Object.entries(after)) {
    const spent = (ms - (before[role] ?? 0)) / 1000;
    if (spent >= 0.01) cpuSeconds[role] = round(spent, 2);
  }
  return { result, cpuSeconds };
}

// ---------------------------------------------------------------------------
// Skybridge: buckets registered and migrations started through the API; histories read from Temporal.

interface Api {
  call(method: string, route: string, body: unknown, expected: number): Promise<Record<string, unknown>>;
}

function apiClient(base: string, headers: Record<string, string>): Api {
  return {
    async call(method, route, body, expected) {
      const answer = await json(`${base}${route}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (answer.status !== expected)
        throw new Error(`${method} ${route}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body;
    },
  };
}

/** Registers the bucket and waits for its validation job to call it VALID; its id. */
async function registerBucket(api: Api, bucket: BenchBucket): Promise<string> {
  const id = String((await api.call('POST', '/bucket', bucket.registration, 201)).id);
  for (let attempt = 0; attempt < 480; attempt++) {
    const status = (await api.call('GET', `/bucket/${id}`, undefined, 200)).status;
    if (status === 'VALID') return id;
    if (status === 'INVALID') break;
    await sleep(250);
  }
  throw new Error(`bucket ${bucket.name} was not validated`);
}

interface JobRun {
  jobId: string;
  seconds: number;
  /** Seconds from the start until the first poll that saw the job past planning (to within a poll). */
  planningSeconds: number;
  state: MigrationProgress;
}

interface JobView {
  status: string;
  closedAt: string | null;
  state: MigrationProgress | null;
}

/**
 * Starts a migration and polls it until it completes. Its duration runs from
 * just before the POST to the final run's close time as Temporal recorded it
 * (the same clock), so polling adds nothing to it.
 */
async function runMigrationJob(
  api: Api,
  body: { sourceBucketId: string; destinationBucketId: string; dryRun: boolean; concurrency: number },
): Promise<JobRun> {
  const startedAt = Date.now();
  const created = await api.call('POST', '/jobs/migrations', { mode: 'copy', ...body }, 202);
  const jobId = String(created.id);
  let planningSeconds: number | undefined;
  const deadline = startedAt + JOB_TIMEOUT_MS;
  for (let failures = 0; Date.now() < deadline; await sleep(POLL_MS)) {
    const job = (await api.call('GET', `/jobs/${jobId}`, undefined, 200).catch((error: unknown) => {
      if (++failures > 20) throw error;
      return undefined;
    })) as JobView | undefined;
    if (!job) continue;
    failures = 0;
    if (planningSeconds === undefined && job.state && job.state.phase !== 'PLANNING')
      planningSeconds = (Date.now() - startedAt) / 1000;
    if (job.status === 'COMPLETED' && job.closedAt && job.state) {
      const seconds = (Date.parse(job.closedAt) - startedAt) / 1000;
      return { jobId, seconds, planningSeconds: planningSeconds ?? seconds, state: job.state };
    }
    if (job.status !== 'RUNNING')
      throw new Error(`migration ${jobId} ended ${job.status}: ${JSON.stringify(job.state)}`);
  }
  throw new Error(`migration ${jobId} did not finish within ${JOB_TIMEOUT_MS / 60_000} min`);
}

interface RunHistory {
  runId: string;
  status: string;
  events: number;
  bytes: number | undefined;
}

/** Every run of the job (it continues as new), oldest first, with its history length. */
async function runHistories(temporal: Client, jobId: string, expectedRuns: number): Promise<RunHistory[]> {
  let runs: RunHistory[] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    runs = [];
    for await (const info of temporal.workflow.list({ query: `WorkflowId = '${jobId}'` }))
      runs.push({
        runId: info.runId,
        status: info.status.name,
        events: info.historyLength,
        bytes: info.historySize,
      });
    if (runs.length >= expectedRuns && runs.every((run) => run.events > 0 && run.status !== 'RUNNING')) break;
    await sleep(200);
  }
  return runs.reverse();
}

// ---------------------------------------------------------------------------
// rclone: the same copy, with a config file written here.

async function writeRcloneConfig(emulators: Emulators, file: string): Promise<void> {
  const { minio, azurite } = emulators;
  const lines = [
    '[minio]',
    'type = s3',
    'provider = Minio',
    `access_key_id = ${minio.accessKeyId}`,
    `secret_access_key = ${minio.secretAccessKey}`,
    `endpoint = ${minio.endpoint}`,
    'region = us-east-1',
    '',
    '[azurite]',
    'type = azureblob',
    'use_emulator = true',
    `account = ${azurite.accountName}`,
    `key = ${azurite.accountKey}`,
    `endpoint = ${azurite.endpoint}`,
    '',
  ];
  await writeFile(file, lines.join('\n'), { mode: 0o600 });
}

const rcloneRemote = (bucket: BenchBucket) => `${bucket.backend}:${bucket.name}`;

function rcloneArgs(configFile: string, source: BenchBucket, destination: BenchBucket): string[] {
  const parallel = String(settings.concurrency);
  return [
    'copy',
    rcloneRemote(source),
    rcloneRemote(destination),
    '--config',
    configFile,
    '--transfers',
    parallel,
    '--checkers',
    parallel,
    '--log-level',
    'ERROR',
  ];
}

/** Runs rclone to completion; its RSS sampled meanwhile, its CPU time read once it is reaped. */
async function runRclone(
  binary: string,
  args: string[],
): Promise<{ seconds: number; peakRssMB: number; cpuSeconds: number }> {
  const cpuBefore = await reapedChildrenCpuMs();
  const started = performance.now();
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 20_000) stderr += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const { result: code, samples } = await sampleRssDuring(child.pid!, RSS_SAMPLE_MS, () => exited);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`rclone exited with ${code}: ${stderr.slice(-2000)}`);
  return {
    seconds,
    peakRssMB: Math.max(...samples.map((sample) => sample.rssMB)),
    cpuSeconds: round(((await reapedChildrenCpuMs()) - cpuBefore) / 1000, 2),
  };
}

// ---------------------------------------------------------------------------
// The cases.

interface Bench {
  api: Api;
  temporal: Client;
  emulators: Emulators;
  watched: WatchedProcesses;
  workerPid: number;
  /** The worker's Prometheus endpoint (V8 heap figures). */
  workerMetricsUrl: string;
  rclone: string;
  rcloneConfig: string;
  /** Registered source buckets, by dataset label. */
  sourceIds: Map<string, string>;
}

interface CaseResult {
  case: string;
  tool: 'skybridge' | 'rclone';
  objects: number;
  bytes: number;
  /** The fastest round's; every round's are in `roundsSeconds`. */
  seconds: number;
  roundsSeconds?: number[];
  objectsPerSecond: number;
  MBps: number;
  /** The process that moved the data: the worker, or rclone. */
  peakRssMB: number;
  cpuSeconds: Record<string, number>;
  verified: Awaited<ReturnType<typeof verifyCopy>>;
  skybridge?: {
    jobId: string;
    planningSeconds: number;
    methods: MigrationProgress['methods'];
    workerRssBeforeMB: number;
    workerRssAfterMB: number;
    runs: number;
    historyEventsPerRun: number[];
  };
}

const caseName = (dataset: Dataset, backend: Backend) =>
  `${dataset.objects} × ${sizeLabel(dataset.objectBytes)}, MinIO → ${backend === 'minio' ? 'MinIO' : 'Azurite'}`;

function sizeLabel(bytes: number): string {
  if (bytes >= 2 ** 20 && bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

function throughput(dataset: Dataset, seconds: number) {
  const bytes = dataset.objects * dataset.objectBytes;
  return {
    objects: dataset.objects,
    bytes,
    seconds: round(seconds, 2),
    objectsPerSecond: round(dataset.objects / seconds, 1),
    MBps: round(bytes / MB / seconds, 1),
  };
}

async function skybridgeCopy(bench: Bench, dataset: Dataset, backend: Backend): Promise<CaseResult> {
  const destination = await createBucket(bench.emulators, backend, `dst-${dataset.label}-sky-${shortId()}`);
  const destinationBucketId = await registerBucket(bench.api, destination);
  const job = await skybridgeJob(bench, dataset, destinationBucketId, false);
  const verified = await verifyCopy(dataset, destination);
  return { case: caseName(dataset, backend), tool: 'skybridge', ...job, verified };
}

/** One Skybridge migration job, measured: duration, worker RSS and CPU by process, history per run. */
async function skybridgeJob(bench: Bench, dataset: Dataset, destinationBucketId: string, dryRun: boolean) {
  const workerRssBeforeMB = round(await rssMB(bench.workerPid), 1);
  const heap: HeapSample[] = [];
  const measured = await cpuSecondsDuring(bench.watched, () =>
    sampleRssDuring(bench.workerPid, RSS_SAMPLE_MS, () =>
      sampleHeapDuring(bench.workerMetricsUrl, HEAP_SAMPLE_MS, heap, () =>
        runMigrationJob(bench.api, {
          sourceBucketId: bench.sourceIds.get(dataset.label)!,
          destinationBucketId,
          dryRun,
          concurrency: settings.concurrency,
        }),
      ),
    ),
  );
  const { result: job, samples } = measured.result;
  const { state } = job;
  const expected = dryRun ? state.planned : state.done;
  if (expected.objects !== dataset.objects || state.failed.objects > 0)
    throw new Error(`job ${job.jobId}: ${JSON.stringify(state)}`);
  const histories = await runHistories(bench.temporal, job.jobId, state.runs);
  return {
    ...throughput(dataset, job.seconds),
    peakRssMB: round(Math.max(...samples.map((sample) => sample.rssMB)), 1),
    workerRss: { ...rssTrend(samples), heapSamples: heap },
    cpuSeconds: measured.cpuSeconds,
    skybridge: {
      jobId: job.jobId,
      planningSeconds: round(job.planningSeconds, 2),
      methods: state.methods,
      workerRssBeforeMB,
      workerRssAfterMB: round(await rssMB(bench.workerPid), 1),
      runs: histories.length,
      historyEventsPerRun: histories.map((run) => run.events),
    },
  };
}

/**
 * The worker's RSS over a job: one sample a second, and the fitted slope over the job's second
 * half (the first raises the high-water mark of a new kind of work once; a leak keeps climbing).
 */
function rssTrend(samples: { atS: number; rssMB: number }[]) {
  const lastS = samples.at(-1)?.atS ?? 0;
  const perSecond = Math.max(1, Math.round(1000 / RSS_SAMPLE_MS));
  return {
    secondHalfSlopeMBPerMin: round(slopeMBPerMin(samples.filter((sample) => sample.atS >= lastS / 2)), 2),
    samples: samples
      .filter((_, index) => index % perSecond === 0)
      .map((sample) => [round(sample.atS, 1), round(sample.rssMB, 1)]),
  };
}

async function rcloneCopy(bench: Bench, dataset: Dataset, backend: Backend): Promise<CaseResult> {
  const destination = await createBucket(
    bench.emulators,
    backend,
    `dst-${dataset.label}-rclone-${shortId()}`,
  );
  const args = rcloneArgs(bench.rcloneConfig, dataset.bucket, destination);
  const measured = await cpuSecondsDuring(bench.watched, () => runRclone(bench.rclone, args));
  const verified = await verifyCopy(dataset, destination);
  return {
    case: caseName(dataset, backend),
    tool: 'rclone',
    ...throughput(dataset, measured.result.seconds),
    peakRssMB: round(measured.result.peakRssMB, 1),
    cpuSeconds: { rclone: measured.result.cpuSeconds, ...measured.cpuSeconds },
    verified,
  };
}

/**
 * Both tools on one case, in CASE_ROUNDS rounds whose order alternates (the first round's
 * alternates from case to case); each tool's fastest round counts, as whoever goes second finds
 * the emulators busier. Each run starts once the kernel has written back what the previous one
 * wrote (`sync`): otherwise it copies while the other's gigabyte is still being flushed.
 */
async function compareCase(bench: Bench, dataset: Dataset, backend: Backend, skybridgeFirst: boolean) {
  const tools = [
    { name: 'skybridge', run: () => skybridgeCopy(bench, dataset, backend) },
    { name: 'rclone', run: () => rcloneCopy(bench, dataset, backend) },
  ];
  const best = new Map<string, CaseResult>();
  const roundsSeconds = new Map<string, number[]>();
  for (let pass = 0; pass < CASE_ROUNDS; pass++) {
    const inOrder = (pass % 2 === 0) === skybridgeFirst ? tools : [...tools].reverse();
    for (const tool of inOrder) {
      log(`${caseName(dataset, backend)}: ${tool.name}, round ${pass + 1}/${CASE_ROUNDS}...`);
      await run('sync', []);
      const result = await tool.run();
      log(
        `  ${result.seconds} s, ${result.objectsPerSecond} objects/s, ${result.MBps} MB/s, peak RSS ${result.peakRssMB} MB`,
      );
      roundsSeconds.set(tool.name, [...(roundsSeconds.get(tool.name) ?? []), result.seconds]);
      const fastest = best.get(tool.name);
      if (!fastest || result.seconds < fastest.seconds) best.set(tool.name, result);
    }
  }
  return tools.map((tool) => ({ ...best.get(tool.name)!, roundsSeconds: roundsSeconds.get(tool.name)! }));
}

/** Dry run, then copy, of the scale dataset into a fresh MinIO bucket, Skybridge only. */
async function scaleRun(bench: Bench, dataset: Dataset) {
  const destination = await createBucket(bench.emulators, 'minio', `dst-scale-${shortId()}`);
  const destinationBucketId = await registerBucket(bench.api, destination);
  log(`scale: dry run of ${dataset.objects} objects...`);
  const dryRun = await skybridgeJob(bench, dataset, destinationBucketId, true);
  log(`  ${dryRun.seconds} s, ${dryRun.skybridge.runs} runs`);
  log(`scale: copy of ${dataset.objects} objects...`);
  const copy = await skybridgeJob(bench, dataset, destinationBucketId, false);
  log(`  ${copy.seconds} s, ${copy.skybridge.runs} runs`);
  const verified = await verifyCopy(dataset, destination);
  return {
    case: `${dataset.objects} × ${sizeLabel(dataset.objectBytes)}, MinIO → MinIO`,
    dryRun,
    copy: { ...copy, verified },
  };
}

// ---------------------------------------------------------------------------
// Report.

function historySummary(events: number[]): string {
  if (events.length === 0) return '—';
  return `${Math.max(...events).toLocaleString('en-US')} max over ${events.length} run${events.length === 1 ? '' : 's'}`;
}

type Measured = Pick<CaseResult, 'objects' | 'peakRssMB' | 'cpuSeconds' | 'skybridge'>;

/** CPU of the process that moved the data (the worker, or rclone), per object. */
const copierCpuMsPerObject = (r: Measured) =>
  round(((r.skybridge ? r.cpuSeconds.worker : r.cpuSeconds.rclone) ?? 0) * (1000 / r.objects), 2);

const rssText = (r: Measured) =>
  r.skybridge
    ? `${r.peakRssMB} (${r.skybridge.workerRssBeforeMB} → ${r.skybridge.workerRssAfterMB})`
    : String(r.peakRssMB);

function markdown(
  cases: CaseResult[],
  scale: Awaited<ReturnType<typeof scaleRun>> | undefined,
  workerHighWaterMB: number,
) {
  const lines = [
    `Migration: Skybridge vs rclone ${goTools.rclone.version} (${os.cpus().length} cores shared by everything, 127.0.0.1; concurrency / --transfers ${settings.concurrency}; MB = 10^6 bytes)`,
    '',
    '| case | tool | objects/s | MB/s | seconds (rounds) | peak RSS MB (worker / rclone) | copier CPU ms per object | machine CPU s | history events per run |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of cases)
    lines.push(
      `| ${r.case} | ${r.tool} | ${r.objectsPerSecond} | ${r.MBps} | ${r.seconds}${r.roundsSeconds ? ` (${r.roundsSeconds.join(', ')})` : ''} | ${rssText(r)} | ${copierCpuMsPerObject(r)} | ${r.cpuSeconds.machine ?? 0} | ${r.skybridge ? historySummary(r.skybridge.historyEventsPerRun) : '—'} |`,
    );
  if (scale)
    for (const [label, run] of [
      ['dry run', scale.dryRun],
      ['copy', scale.copy],
    ] as const)
      lines.push(
        `| ${scale.case}, ${label} | skybridge | ${run.objectsPerSecond} | ${label === 'copy' ? run.MBps : '—'} | ${run.seconds} | ${rssText(run)} | ${copierCpuMsPerObject(run)} | ${run.cpuSeconds.machine ?? 0} | ${historySummary(run.skybridge.historyEventsPerRun)} |`,
      );
  lines.push(
    '',
    `Worker VmHWM at the end: ${workerHighWaterMB} MB.`,
    '',
    'CPU seconds by process, per run:',
    '',
  );
  for (const r of cases)
    lines.push(
      `- ${r.case}, ${r.tool}: ${Object.entries(r.cpuSeconds)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  return lines.join('\n');
}

function checks(cases: CaseResult[], scale: Awaited<ReturnType<typeof scaleRun>> | undefined) {
  const byCase = Map.groupBy(cases, (r) => r.case);
  const list = [...byCase.entries()].map(([name, results]) => {
    const sky = results.find((r) => r.tool === 'skybridge')!;
    const rclone = results.find((r) => r.tool === 'rclone')!;
    return {
      check: `${name}: Skybridge objects/s ≥ rclone's`,
      // From the seconds: objects/s is rounded to one decimal, too coarse for 16 objects.
      value: `${sky.objectsPerSecond} vs ${rclone.objectsPerSecond} (${sky.seconds} s vs ${rclone.seconds} s, ${round(rclone.seconds / sky.seconds)}×)`,
      pass: sky.seconds <= rclone.seconds,
    };
  });
  if (scale) {
    const maxEvents = Math.max(
      ...scale.dryRun.skybridge.historyEventsPerRun,
      ...scale.copy.skybridge.historyEventsPerRun,
    );
    list.push({
      check: `history per run bounded (well under Temporal's ${TEMPORAL_HISTORY_LIMIT})`,
      value: `${maxEvents} events max`,
      pass: maxEvents < TEMPORAL_HISTORY_LIMIT / 4,
    });
    const { copy } = scale;
    const slope = copy.workerRss.secondHalfSlopeMBPerMin;
    list.push({
      check: `worker RSS flat over the ${scale.case} copy (fitted slope over its second half)`,
      value: `${slope} MB/min (${copy.skybridge.workerRssBeforeMB} → ${copy.skybridge.workerRssAfterMB} MB, peak ${copy.peakRssMB}, ${copy.seconds} s)`,
      pass: slope <= RSS_FLAT_MB_PER_MIN,
    });
  }
  return list;
}

// ---------------------------------------------------------------------------

let platform: PlatformProcess | undefined;
let minio: MinioEmulator | undefined;
let azurite: AzuriteEmulator | undefined;
let minioAdmin: S3Client | undefined;
let temporalConnection: Connection | undefined;
const scratchDirs: string[] = [];
let cleanedUp: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleanedUp ??= (async () => {
    minioAdmin?.destroy();
    await temporalConnection?.close().catch(() => undefined);
    await platform?.interrupt().catch((error: unknown) => log(`stopping the platform: ${errorText(error)}`));
    await minio?.stop().catch((error: unknown) => log(`stopping MinIO: ${errorText(error)}`));
    await azurite?.stop().catch((error: unknown) => log(`stopping Azurite: ${errorText(error)}`));
    await waitForGroupExit(platform);
    await removeScratchDirs(scratchDirs, log);
  })();
  return cleanedUp;
}

const watchdog = stopOnSignalOrTimeout(cleanup, WATCHDOG_MS, log);

async function startEmulators(): Promise<Emulators> {
  const dir = await makeScratchDir('skybridge-bench-migrate-emulators-');
  scratchDirs.push(dir);
  minio = await startMinio({
    binary: await ensureGoTool('minio', log),
    port: await freePort(),
    consolePort: await freePort(),
    dataDir: path.join(dir, 'minio'),
    logFile: path.join(dir, 'minio.log'),
  });
  azurite = await startAzurite({
    projectRoot,
    port: await freePort(),
    dataDir: path.join(dir, 'azurite'),
    logFile: path.join(dir, 'azurite.log'),
  });
  minioAdmin = new S3Client({
    endpoint: minio.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
    requestHandler: { httpAgent: new http.Agent({ keepAlive: true }) },
  });
  log(`MinIO at ${minio.endpoint}, Azurite at ${azurite.endpoint}`);
  return { minio, azurite, minioAdmin };
}

const loadAverageAtStart = os.loadavg().map((value) => round(value));
const recordedAt = new Date();
try {
  log(`settings: ${JSON.stringify(settings)}`);
  const started = await spawnBenchPlatform('skybridge-bench-migrate-');
  platform = started.platform;
  scratchDirs.push(started.dataDir);
  const rclone = await ensureGoTool('rclone', log);
  const emulators = await startEmulators();
  const rcloneConfig = path.join(started.dataDir, 'rclone.conf');
  await writeRcloneConfig(emulators, rcloneConfig);

  const datasets = {
    small: await seedDataset(emulators, 'small', settings.smallObjects, settings.smallBytes),
    large: await seedDataset(emulators, 'large', settings.largeObjects, settings.largeBytes),
  };
  await platform.waitForOutput(READY_LINE, 300_000);
  const api = apiClient(
    `http://127.0.0.1:${started.ports.API_PORT}`,
    await signUpBenchUser(`http://127.0.0.1:${started.ports.API_PORT}`, 'Migration bench'),
  );
  temporalConnection = await Connection.connect({
    address: `127.0.0.1:${started.ports.TEMPORAL_DEV_SERVER_PORT}`,
  });
  const bench: Bench = {
    api,
    temporal: new Client({
      connection: temporalConnection,
      namespace: started.env.TEMPORAL_NAMESPACE ?? 'default',
    }),
    emulators,
    watched: { platform, emulators },
    workerPid: await componentPid(platform, 'workers/main.ts'),
    workerMetricsUrl: `http://127.0.0.1:${started.ports.WORKER_METRICS_PORT}/metrics`,
    rclone,
    rcloneConfig,
    sourceIds: new Map(),
  };
  for (const dataset of Object.values(datasets))
    bench.sourceIds.set(dataset.label, await registerBucket(api, dataset.bucket));
  const workerStartRssMB = round(await rssMB(bench.workerPid), 1);

  const cases: CaseResult[] = [];
  let caseIndex = 0;
  for (const dataset of [datasets.small, datasets.large])
    for (const backend of ['azurite', 'minio'] as const)
      cases.push(...(await compareCase(bench, dataset, backend, caseIndex++ % 2 === 0)));

  let scale: Awaited<ReturnType<typeof scaleRun>> | undefined;
  let scaleSeedSeconds: number | undefined;
  if (settings.scaleObjects > 0) {
    const dataset = await seedDataset(emulators, 'scale', settings.scaleObjects, settings.smallBytes);
    scaleSeedSeconds = dataset.seedSeconds;
    bench.sourceIds.set(dataset.label, await registerBucket(api, dataset.bucket));
    scale = await scaleRun(bench, dataset);
  }
  const workerHighWaterMB = round(await highWaterMarkMB(bench.workerPid), 1);

  const report = {
    recordedAt: recordedAt.toISOString(),
    machine: {
      ...machineFacts(),
      loadAverageAtStart,
      loadAverageAtEnd: os.loadavg().map((value) => round(value)),
      note: 'the bench, MinIO, Azurite, rclone and Skybridge (API, worker, bridge, PostgreSQL, Temporal dev server) all on this machine over 127.0.0.1, on 2 cores shared with other work; cpuSeconds.machine is the busy time of all cores during a run, so machine minus the rest is load from outside',
    },
    settings: {
      ...settings,
      megabyte: '10^6 bytes',
      rclone: {
        version: goTools.rclone.version,
        command: 'rclone copy <src> <dst> --transfers N --checkers N --log-level ERROR (defaults otherwise)',
        remotes:
          's3 provider Minio (MinIO → MinIO uses one remote, so rclone copies server-side); azureblob use_emulator with the Azurite endpoint',
      },
      skybridge: {
        request: 'POST /jobs/migrations {mode: "copy", dryRun: false, concurrency: N}, batchesPerRun default',
        timing:
          'from just before the POST to the close time of the final workflow run (Temporal’s clock; the same machine)',
        polling: `GET /jobs/{id} every ${POLL_MS} ms`,
      },
      destinations: 'a fresh bucket or container per tool and case, so neither tool skips anything',
      order: `${CASE_ROUNDS} rounds per case, the tool going first alternating from round to round and case to case; each tool's fastest round counts; \`sync\` before each run, so none pays for another's writeback`,
      verification: `destination object count and bytes equal the source's, and ${SAMPLED_OBJECTS} sampled objects hash the same`,
      rssSampleMs: RSS_SAMPLE_MS,
      seedSeconds: {
        small: datasets.small.seedSeconds,
        large: datasets.large.seedSeconds,
        ...(scaleSeedSeconds !== undefined && { scale: scaleSeedSeconds }),
      },
    },
    worker: { pid: bench.workerPid, startRssMB: workerStartRssMB, highWaterMarkMBAtEnd: workerHighWaterMB },
    cases,
    scale,
    checks: checks(cases, scale),
  };
  const stamp = recordedAt
    .toISOString()
    .replaceAll(':', '-')
    .replace(/\.\d+Z$/, 'Z');
  const text = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(path.join(projectRoot, `bench/results/migrate-${stamp}.json`), text);
  await writeFile(path.join(projectRoot, 'bench/results/migrate-latest.json'), text);
  console.log(markdown(cases, scale, workerHighWaterMB));
  console.log(
    [
      '',
      '| check | value | result |',
      '|---|---|---|',
      ...report.checks.map((c) => `| ${c.check} | ${c.value} | ${c.pass ? 'pass' : 'FAIL'} |`),
    ].join('\n'),
  );
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  if (platform) log(`the platform's output, last lines:\n${platform.output().slice(-3000)}`);
  process.exitCode = 1;
} finally {
  log('stopping the platform and the emulators...');
  await cleanup();
  clearTimeout(watchdog);
}
