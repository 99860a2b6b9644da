/**
 * `npm run bench:s3`: MinIO direct versus MinIO through the Skybridge S3
 * bridge, in one run. Starts the platform (as bench/run.ts does) and a MinIO
 * on free ports, registers the MinIO bucket behind a repository with a
 * READ_WRITE key through the API, then measures small-object ops/s and
 * latency, large-object throughput, and the bridge's RSS while a very large
 * object streams through it. Direct and bridge take turns, round by round, so
 * that load from outside the bench (the machine is shared) hits both alike;
 * the bridge process's CPU time per request and per MB is recorded too, a
 * figure such load disturbs much less than throughput. Writes
 * bench/results/s3-latest.json and prints a markdown table. Every loop is
 * bounded in time and count, only 127.0.0.1 is used, and everything started
 * here is stopped at the end.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type ChildService, httpOk, startChildService } from '../scripts/services/child-service.ts';
import { type MinioEmulator, startMinio } from '../scripts/services/emulators.ts';
import { freePort } from '../scripts/services/free-port.ts';
import { BRIDGE_NODE_ARGS, bridgeEnv } from '../scripts/services/node-settings.ts';
import { type PlatformProcess, READY_LINE } from '../scripts/services/platform-process.ts';
import { makeScratchDir } from '../scripts/services/scratch-dir.ts';
import { ensureGoTool } from '../scripts/tools.ts';
import {
  componentPid,
  cpuMs,
  json,
  MB,
  machineFacts,
  projectRoot,
  removeScratchDirs,
  round,
  rssMB,
  sampleRssDuring,
  signUpBenchUser,
  spawnBenchPlatform,
  stopOnSignalOrTimeout,
  waitForGroupExit,
} from './platform.ts';

const SMALL_DURATION_MS = 4_000;
/** Load before each measurement, the same for both targets: connections opened, caches filled, code compiled. */
const SMALL_WARMUP_MS = 1_000;
const SMALL_SIZE = 4 * 1024;
const MAX_SMALL_OPS = 200_000;
const LARGE_SIZE = 256 * 2 ** 20;
/** Every scenario runs in rounds, direct and bridge in turn, so that load from outside the bench hits both alike. */
const SMALL_ROUNDS = 3;
const LARGE_RUNS = 3;
const HUGE_SIZE_PREFERRED = 2 * 2 ** 30;
const HUGE_SIZE_FALLBACK = 2 ** 30;
const HUGE_BUDGET_S = 120;
const RSS_SAMPLE_MS = 100;
const WATCHDOG_MS = 20 * 60_000;

const TARGETS = {
  largeThroughputRatio: 0.9,
  smallOpsRatio: 0.7,
  addedP50Ms: 1,
  bridgeRssMB: 200,
};

const log = (line: string) => process.stderr.write(`bench:s3: ${line}\n`);
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/** One timed round of a small-object scenario. */
interface SmallRound {
  ops: number;
  errors: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The serving process's CPU time per request (bridge and proxy): steadier than ops/s on a shared machine. */
  cpuMsPerOp?: number;
}

/** A target's best round (highest ops/s) of a scenario, with every round's ops/s. */
/** MinIO itself, the reference pass-through proxy in front of it (the floor), and the bridge. */
type TargetName = 'direct' | 'proxy' | 'bridge';

interface SmallResult extends SmallRound {
  target: TargetName;
  op: 'PUT' | 'GET';
  concurrency: number;
  roundsOpsPerSecond: number[];
}

interface LargeResult {
  target: TargetName;
  op: 'PUT' | 'GET';
  bytes: number;
  runsMBps: number[];
  bestMBps: number;
  /** The serving process's CPU time per MB moved, per run (bridge and proxy). */
  runsCpuMsPerMB?: number[];
}

/** `concurrency` loops issuing `request` until the time or count budget is spent. */
async function load(
  concurrency: number,
  request: () => Promise<void>,
  durationMs: number,
): Promise<{ latencies: number[]; errors: number; elapsedMs: number; firstError?: string }> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && latencies.length + errors < MAX_SMALL_OPS) {
        const t0 = performance.now();
        try {
          await request();
          latencies.push(performance.now() - t0);
        } catch (error) {
          errors++;
          firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        }
      }
    }),
  );
  return { latencies, errors, elapsedMs: performance.now() - started, firstError };
}

/** `size` bytes of pseudo-random data, produced lazily from one reused 1 MiB block. */
function generatedBody(size: number): Readable {
  const block = randomBytes(2 ** 20);
  let remaining = size;
  return new Readable({
    highWaterMark: 2 ** 20,
    read() {
      if (remaining <= 0) {
        this.push(null);
        return;
      }
      const chunk = remaining >= block.length ? block : block.subarray(0, remaining);
      remaining -= chunk.length;
      this.push(chunk);
    },
  });
}

async function drain(body: unknown): Promise<number> {
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) bytes += chunk.length;
  return bytes;
}

function s3Client(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets: 128 }) },
  });
}

interface Target {
  name: TargetName;
  client: S3Client;
  bucket: string;
  /** CPU seconds used so far by the process serving the target, when it is one of ours. */
  cpuSeconds?: () => Promise<number>;
}

/** CPU time (user + system) of `run` as seen by `cpuSeconds`, in ms; undefined without a process to watch. */
async function cpuMsOf<T>(
  cpuSeconds: (() => Promise<number>) | undefined,
  run: () => Promise<T>,
): Promise<{ result: T; cpuMs?: number }> {
  const before = await cpuSeconds?.();
  const result = await run();
  const after = await cpuSeconds?.();
  return { result, cpuMs: before === undefined || after === undefined ? undefined : (after - before) * 1000 };
}

async function smallRound(target: Target, op: 'PUT' | 'GET', concurrency: number): Promise<SmallRound> {
  const body = randomBytes(SMALL_SIZE);
  const getKey = 'small/get-object';
  let counter = 0;
  const put = async () => {
    await target.client.send(
      new PutObjectCommand({ Bucket: target.bucket, Key: `small/put-${counter++ % 5_000}`, Body: body }),
    );
  };
  const get = async () => {
    const answer = await target.client.send(new GetObjectCommand({ Bucket: target.bucket, Key: getKey }));
    const bytes = await drain(answer.Body);
    if (bytes !== SMALL_SIZE) throw new Error(`GET returned ${bytes} bytes`);
  };
  if (op === 'GET')
    await target.client.send(new PutObjectCommand({ Bucket: target.bucket, Key: getKey, Body: body }));
  const request = op === 'PUT' ? put : get;
  await load(concurrency, request, SMALL_WARMUP_MS);
  const { result, cpuMs } = await cpuMsOf(target.cpuSeconds, () =>
    load(concurrency, request, SMALL_DURATION_MS),
  );
  const { latencies, errors, elapsedMs, firstError } = result;
  if (firstError) log(`${target.name} ${op} c${concurrency}: ${errors} errors, first: ${firstError}`);
  const sorted = latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    errors,
    opsPerSecond: Math.round((latencies.length / elapsedMs) * 1000),
    p50Ms: round(percentile(sorted, 0.5)),
    p99Ms: round(percentile(sorted, 0.99)),
    ...(cpuMs !== undefined && { cpuMsPerOp: round(cpuMs / Math.max(1, latencies.length), 3) }),
  };
}

/** SMALL_ROUNDS rounds of one scenario, the targets' order swapped every round. */
async function smallScenario(
  targets: Target[],
  op: 'PUT' | 'GET',
  concurrency: number,
): Promise<SmallResult[]> {
  const rounds = new Map<Target, SmallRound[]>(targets.map((target) => [target, []]));
  for (let index = 0; index < SMALL_ROUNDS; index++)
    for (const target of index % 2 === 0 ? targets : [...targets].reverse()) {
      log(`4 KiB ${op} c${concurrency} ${target.name}, round ${index + 1}/${SMALL_ROUNDS}...`);
      rounds.get(target)!.push(await smallRound(target, op, concurrency));
    }
  return targets.map((target) => {
    const runs = rounds.get(target)!;
    const best = runs.reduce((a, b) => (b.opsPerSecond > a.opsPerSecond ? b : a));
    const roundsOpsPerSecond = runs.map((run) => run.opsPerSecond);
    return { target: target.name, op, concurrency, ...best, roundsOpsPerSecond };
  });
}

async function putLarge(target: Target, key: string, size: number): Promise<number> {
  const t0 = performance.now();
  await target.client.send(
    new PutObjectCommand({ Bucket: target.bucket, Key: key, Body: generatedBody(size), ContentLength: size }),
  );
  return (performance.now() - t0) / 1000;
}

async function getLarge(target: Target, key: string, size: number): Promise<number> {
  const t0 = performance.now();
  const answer = await target.client.send(new GetObjectCommand({ Bucket: target.bucket, Key: key }));
  const bytes = await drain(answer.Body);
  if (bytes !== size) throw new Error(`GET ${key} returned ${bytes} bytes, expected ${size}`);
  return (performance.now() - t0) / 1000;
}

/** LARGE_RUNS runs of PUT then GET, the targets in turn as for the small objects; best run reported. */
async function largeScenarios(targets: Target[]): Promise<LargeResult[]> {
  const key = 'large/object-256MiB';
  type Runs = { MBps: number[]; cpuMsPerMB: number[] };
  const runs = new Map<string, Runs>();
  const record = async (target: Target, op: 'PUT' | 'GET', transfer: () => Promise<number>) => {
    const { result: seconds, cpuMs } = await cpuMsOf(target.cpuSeconds, transfer);
    const entry = runs.get(`${target.name} ${op}`) ?? { MBps: [], cpuMsPerMB: [] };
    entry.MBps.push(round(LARGE_SIZE / MB / seconds, 1));
    if (cpuMs !== undefined) entry.cpuMsPerMB.push(round(cpuMs / (LARGE_SIZE / MB), 2));
    runs.set(`${target.name} ${op}`, entry);
  };
  for (let run = 0; run < LARGE_RUNS; run++)
    for (const target of run % 2 === 0 ? targets : [...targets].reverse()) {
      log(`256 MiB PUT/GET ${target.name}, run ${run + 1}/${LARGE_RUNS}...`);
      await record(target, 'PUT', () => putLarge(target, key, LARGE_SIZE));
      await record(target, 'GET', () => getLarge(target, key, LARGE_SIZE));
    }
  return targets.flatMap((target) =>
    (['PUT', 'GET'] as const).map((op): LargeResult => {
      const { MBps, cpuMsPerMB } = runs.get(`${target.name} ${op}`)!;
      return {
        target: target.name,
        op,
        bytes: LARGE_SIZE,
        runsMBps: MBps,
        bestMBps: Math.max(...MBps),
        ...(cpuMsPerMB.length > 0 && { runsCpuMsPerMB: cpuMsPerMB }),
      };
    }),
  );
}

/** utime + stime of `pid`, in seconds. */
const cpuSecondsOf = async (pid: number) => (await cpuMs(pid)) / 1000;

/** Peak RSS of `pid`, sampled every RSS_SAMPLE_MS while `work` runs. */
async function peakRssDuring<T>(
  pid: number,
  work: () => Promise<T>,
): Promise<{ result: T; peakMB: number; samples: number }> {
  const { result, samples } = await sampleRssDuring(pid, RSS_SAMPLE_MS, work);
  return { result, peakMB: Math.max(...samples.map((sample) => sample.rssMB)), samples: samples.length };
}

/** The reference proxy (pass-through-proxy.ts) in front of MinIO, run with the bridge's Node settings. */
async function startPassThroughProxy(
  minioPort: string,
  logDir: string,
): Promise<ChildService & { endpoint: string }> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const service = await startChildService({
    name: 'pass-through-proxy',
    command: process.execPath,
    args: [
      ...BRIDGE_NODE_ARGS,
      path.join(projectRoot, 'bench/pass-through-proxy.ts'),
      minioPort,
      String(port),
    ],
    cwd: projectRoot,
    env: bridgeEnv(process.env),
    logFile: path.join(logDir, 'proxy.log'),
    isReady: () => httpOk(`${endpoint}/minio/health/ready`),
    readyTimeoutMs: 30_000,
  });
  return { ...service, endpoint };
}

// ---------------------------------------------------------------------------

let platform: PlatformProcess | undefined;
let minio: MinioEmulator | undefined;
let proxy: (ChildService & { endpoint: string }) | undefined;
const scratchDirs: string[] = [];
const clients: S3Client[] = [];
let cleanedUp: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleanedUp ??= (async () => {
    for (const client of clients) client.destroy();
    await platform?.interrupt().catch((error: unknown) => log(`stopping the platform: ${String(error)}`));
    await proxy?.stop().catch((error: unknown) => log(`stopping the proxy: ${String(error)}`));
    await minio?.stop().catch((error: unknown) => log(`stopping MinIO: ${String(error)}`));
    await waitForGroupExit(platform);
    await removeScratchDirs(scratchDirs, log);
  })();
  return cleanedUp;
}

const watchdog = stopOnSignalOrTimeout(cleanup, WATCHDOG_MS, log);

try {
  log('starting the platform...');
  const started = await spawnBenchPlatform('skybridge-bench-s3-');
  platform = started.platform;
  scratchDirs.push(started.dataDir);
  const { ports } = started;

  const minioDir = await makeScratchDir('skybridge-bench-s3-minio-');
  scratchDirs.push(minioDir);
  minio = await startMinio({
    binary: await ensureGoTool('minio', log),
    port: await freePort(),
    consolePort: await freePort(),
    dataDir: path.join(minioDir, 'data'),
    logFile: path.join(minioDir, 'minio.log'),
  });
  log(`MinIO at ${minio.endpoint}`);
  const minioBucket = 'bench';
  const direct = s3Client(minio.endpoint, minio.accessKeyId, minio.secretAccessKey);
  clients.push(direct);
  await direct.send(new CreateBucketCommand({ Bucket: minioBucket }));
  proxy = await startPassThroughProxy(new URL(minio.endpoint).port, minioDir);
  const viaProxy = s3Client(proxy.endpoint, minio.accessKeyId, minio.secretAccessKey);
  clients.push(viaProxy);

  await platform.waitForOutput(READY_LINE, 300_000);
  const api = `http://127.0.0.1:${ports.API_PORT}`;
  const headers = await signUpBenchUser(api, 'S3 bench');
  const call = (method: string, route: string, body?: unknown) =>
    json(`${api}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });

  const bucketName = `bench-${randomBytes(3).toString('hex')}`;
  const bucket = await call('POST', '/bucket', {
    name: bucketName,
    provider: 'S3_COMPATIBLE',
    bucketName: minioBucket,
    endpoint: minio.endpoint,
    forcePathStyle: true,
    credentials: {
      type: 'ACCESS_KEY',
      accessKeyId: minio.accessKeyId,
      secretAccessKey: minio.secretAccessKey,
    },
  });
  if (bucket.status !== 201) throw new Error(`bucket registration failed: ${JSON.stringify(bucket.body)}`);
  const bucketId = String(bucket.body.id);
  for (let attempt = 0; ; attempt++) {
    const status = (await call('GET', `/bucket/${bucketId}`)).body.status;
    if (status === 'VALID') break;
    if (status === 'INVALID' || attempt >= 240)
      throw new Error(`bucket not validated (status ${String(status)})`);
    await sleep(250);
  }
  const repo = await call('POST', '/repo', {
    name: `bench-${randomBytes(3).toString('hex')}`,
    bucketIds: [bucketId],
  });
  if (repo.status !== 201) throw new Error(`repository creation failed: ${JSON.stringify(repo.body)}`);
  const key = await call('POST', `/repo/${String(repo.body.id)}/apikey`, {
    name: 'bench',
    scope: 'READ_WRITE',
  });
  if (key.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(key.body)}`);
  const bridge = s3Client(
    `http://127.0.0.1:${ports.BRIDGE_S3_PORT}`,
    String(key.body.accessKeyId),
    String(key.body.secretAccessKey),
  );
  clients.push(bridge);
  const servingPid = await componentPid(platform, 'bridge/main.ts');
  const startRssMB = round(await rssMB(servingPid), 1);
  log(`bucket ${bucketName} registered and VALID; bridge at port ${ports.BRIDGE_S3_PORT}`);

  const targets: Target[] = [
    { name: 'direct', client: direct, bucket: minioBucket },
    { name: 'proxy', client: viaProxy, bucket: minioBucket, cpuSeconds: () => cpuSecondsOf(proxy!.pid) },
    { name: 'bridge', client: bridge, bucket: bucketName, cpuSeconds: () => cpuSecondsOf(servingPid) },
  ];

  const small: SmallResult[] = [];
  for (const op of ['PUT', 'GET'] as const)
    for (const concurrency of [1, 64]) small.push(...(await smallScenario(targets, op, concurrency)));

  const large = await largeScenarios(targets);

  // The very large object: 2 GiB if the measured bridge throughput says it fits the time budget.
  const bridgePut = large.find((r) => r.target === 'bridge' && r.op === 'PUT')!.bestMBps;
  const bridgeGet = large.find((r) => r.target === 'bridge' && r.op === 'GET')!.bestMBps;
  const estimatedS = HUGE_SIZE_PREFERRED / MB / bridgePut + HUGE_SIZE_PREFERRED / MB / bridgeGet;
  const hugeSize = estimatedS <= HUGE_BUDGET_S ? HUGE_SIZE_PREFERRED : HUGE_SIZE_FALLBACK;
  const hugeNote =
    hugeSize === HUGE_SIZE_PREFERRED
      ? `2 GiB (estimated ${Math.round(estimatedS)} s up and down)`
      : `1 GiB instead of 2 GiB: 2 GiB up and down was estimated at ${Math.round(estimatedS)} s (> ${HUGE_BUDGET_S} s)`;
  log(`bridge RSS while streaming ${hugeNote}...`);
  const pid = await componentPid(platform, 'bridge/main.ts');
  const idleRssMB = round(await rssMB(pid), 1);
  const bridgeTarget = targets.find((target) => target.name === 'bridge')!;
  const hugeKey = 'large/huge-object';
  const up = await peakRssDuring(pid, () => putLarge(bridgeTarget, hugeKey, hugeSize));
  const down = await peakRssDuring(pid, () => getLarge(bridgeTarget, hugeKey, hugeSize));
  const huge = {
    bytes: hugeSize,
    note: hugeNote,
    bridgePid: pid,
    startRssMB,
    idleRssMB,
    put: {
      seconds: round(up.result, 1),
      MBps: round(hugeSize / MB / up.result, 1),
      peakRssMB: round(up.peakMB, 1),
      samples: up.samples,
    },
    get: {
      seconds: round(down.result, 1),
      MBps: round(hugeSize / MB / down.result, 1),
      peakRssMB: round(down.peakMB, 1),
      samples: down.samples,
    },
    peakRssMB: round(Math.max(up.peakMB, down.peakMB), 1),
  };

  // Ratios and targets.
  const find = (targetName: string, op: string, concurrency: number) =>
    small.find((r) => r.target === targetName && r.op === op && r.concurrency === concurrency)!;
  const largeFind = (targetName: string, op: string) =>
    large.find((r) => r.target === targetName && r.op === op)!;
  const checks: {
    metric: string;
    direct: string;
    bridge: string;
    value: number;
    target: string;
    /** Absent for reference rows, which have no target. */
    pass?: boolean;
  }[] = [];
  for (const op of ['PUT', 'GET'] as const) {
    const ratio = largeFind('bridge', op).bestMBps / largeFind('direct', op).bestMBps;
    checks.push({
      metric: `256 MiB ${op} MB/s, bridge/direct`,
      direct: String(largeFind('direct', op).bestMBps),
      bridge: String(largeFind('bridge', op).bestMBps),
      value: round(ratio),
      target: `≥ ${TARGETS.largeThroughputRatio}`,
      pass: ratio >= TARGETS.largeThroughputRatio,
    });
  }
  for (const op of ['PUT', 'GET'] as const) {
    const ratio = largeFind('proxy', op).bestMBps / largeFind('direct', op).bestMBps;
    checks.push({
      metric: `256 MiB ${op} MB/s, pass-through proxy/direct (the floor, for reference)`,
      direct: String(largeFind('direct', op).bestMBps),
      bridge: `proxy ${largeFind('proxy', op).bestMBps}`,
      value: round(ratio),
      target: '—',
    });
  }
  for (const op of ['PUT', 'GET'] as const)
    for (const concurrency of [1, 64])
      checks.push({
        metric: `4 KiB ${op} c${concurrency} ops/s, pass-through proxy/direct (the floor, for reference)`,
        direct: String(find('direct', op, concurrency).opsPerSecond),
        bridge: `proxy ${find('proxy', op, concurrency).opsPerSecond}`,
        value: round(
          find('proxy', op, concurrency).opsPerSecond / find('direct', op, concurrency).opsPerSecond,
        ),
        target: '—',
      });
  for (const op of ['PUT', 'GET'] as const)
    for (const concurrency of [1, 64]) {
      const ratio =
        find('bridge', op, concurrency).opsPerSecond / find('direct', op, concurrency).opsPerSecond;
      checks.push({
        metric: `4 KiB ${op} c${concurrency} ops/s, bridge/direct`,
        direct: String(find('direct', op, concurrency).opsPerSecond),
        bridge: String(find('bridge', op, concurrency).opsPerSecond),
        value: round(ratio),
        target: `≥ ${TARGETS.smallOpsRatio}`,
        pass: ratio >= TARGETS.smallOpsRatio,
      });
    }
  for (const op of ['PUT', 'GET'] as const) {
    const added = find('bridge', op, 1).p50Ms - find('direct', op, 1).p50Ms;
    checks.push({
      metric: `4 KiB ${op} c1 added p50 ms`,
      direct: String(find('direct', op, 1).p50Ms),
      bridge: String(find('bridge', op, 1).p50Ms),
      value: round(added),
      target: `≤ ${TARGETS.addedP50Ms}`,
      pass: added <= TARGETS.addedP50Ms,
    });
  }
  checks.push({
    metric: `bridge peak RSS MB (${hugeSize / 2 ** 30} GiB up, then down)`,
    direct: '—',
    bridge: `${huge.peakRssMB} (start ${startRssMB}, before ${idleRssMB})`,
    value: huge.peakRssMB,
    target: `< ${TARGETS.bridgeRssMB}`,
    pass: huge.peakRssMB < TARGETS.bridgeRssMB,
  });

  const report = {
    recordedAt: new Date().toISOString(),
    machine: {
      ...machineFacts(),
      note: 'client, bridge, MinIO, API, worker, PostgreSQL and Temporal all on this machine, over 127.0.0.1',
    },
    settings: {
      megabyte: '10^6 bytes',
      smallObjectBytes: SMALL_SIZE,
      smallDurationMsPerScenario: SMALL_DURATION_MS,
      smallWarmupMsPerScenario: SMALL_WARMUP_MS,
      smallRounds: SMALL_ROUNDS,
      smallFigure: 'the best round (highest ops/s), targets alternating round by round',
      smallConcurrencies: [1, 64],
      largeObjectBytes: LARGE_SIZE,
      largeRuns: LARGE_RUNS,
      largeFigure: 'best of the runs, targets alternating run by run',
      hugeObjectBytes: hugeSize,
      rssSampleMs: RSS_SAMPLE_MS,
      client:
        "@aws-sdk/client-s3, forcePathStyle, requestChecksumCalculation/responseChecksumValidation 'WHEN_REQUIRED', keep-alive agent maxSockets 128",
    },
    targets: TARGETS,
    small,
    large,
    bridgeRss: huge,
    ratios: Object.fromEntries(
      checks.map((c) => [c.metric, { value: c.value, target: c.target, pass: c.pass }]),
    ),
  };
  await writeFile(
    path.join(projectRoot, 'bench/results/s3-latest.json'),
    `${JSON.stringify(report, null, 2)}\n`,
  );

  const lines = [
    `S3: MinIO direct, through a pass-through proxy (the floor), and through the Skybridge bridge (${report.machine.cpus} cores, everything on 127.0.0.1; MB = 10^6 bytes)`,
    '',
    '| scenario | direct ops/s (rounds) | proxy ops/s (rounds) | bridge ops/s (rounds) | direct p50 / p99 ms | proxy p50 / p99 ms | bridge p50 / p99 ms | proxy / bridge CPU ms/op | errors (d/p/b) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const op of ['PUT', 'GET'] as const)
    for (const concurrency of [1, 64]) {
      const [d, p, b] = (['direct', 'proxy', 'bridge'] as const).map((name) =>
        find(name, op, concurrency),
      ) as [SmallResult, SmallResult, SmallResult];
      const opsOf = (r: SmallResult) => `${r.opsPerSecond} (${r.roundsOpsPerSecond.join(', ')})`;
      lines.push(
        `| 4 KiB ${op} c${concurrency} | ${opsOf(d)} | ${opsOf(p)} | ${opsOf(b)} | ${d.p50Ms} / ${d.p99Ms} | ${p.p50Ms} / ${p.p99Ms} | ${b.p50Ms} / ${b.p99Ms} | ${p.cpuMsPerOp ?? '—'} / ${b.cpuMsPerOp ?? '—'} | ${d.errors}/${p.errors}/${b.errors} |`,
      );
    }
  lines.push(
    '',
    '| scenario | direct MB/s (runs) | proxy MB/s (runs) | bridge MB/s (runs) | proxy CPU ms/MB (runs) | bridge CPU ms/MB (runs) |',
    '|---|---|---|---|---|---|',
  );
  for (const op of ['PUT', 'GET'] as const) {
    const [d, p, b] = (['direct', 'proxy', 'bridge'] as const).map((name) => largeFind(name, op)) as [
      LargeResult,
      LargeResult,
      LargeResult,
    ];
    const mbpsOf = (r: LargeResult) => `${r.bestMBps} (${r.runsMBps.join(', ')})`;
    lines.push(
      `| 256 MiB ${op} | ${mbpsOf(d)} | ${mbpsOf(p)} | ${mbpsOf(b)} | ${p.runsCpuMsPerMB?.join(', ') ?? '—'} | ${b.runsCpuMsPerMB?.join(', ') ?? '—'} |`,
    );
  }
  lines.push(
    '',
    `Bridge RSS while streaming ${hugeNote}: PUT ${huge.put.seconds} s (${huge.put.MBps} MB/s, peak ${huge.put.peakRssMB} MB), GET ${huge.get.seconds} s (${huge.get.MBps} MB/s, peak ${huge.get.peakRssMB} MB), just after start ${startRssMB} MB, before this transfer ${idleRssMB} MB.`,
    '',
    '| check | direct | bridge | value | target | result |',
    '|---|---|---|---|---|---|',
  );
  for (const c of checks)
    lines.push(
      `| ${c.metric} | ${c.direct} | ${c.bridge} | ${c.value} | ${c.target} | ${c.pass === undefined ? 'reference' : c.pass ? 'pass' : 'FAIL'} |`,
    );
  console.log(lines.join('\n'));
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  log('stopping the platform and MinIO...');
  await cleanup();
  clearTimeout(watchdog);
}
