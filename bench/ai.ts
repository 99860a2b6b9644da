/**
 * `npm run bench:ai`: the AI gateway's overhead, in one run, against a fake
 * OpenAI-compatible upstream that answers at once (bench/ai-fake-upstream.ts,
 * its own process): the fake directly, the fake through Skybridge's
 * OpenAI-compatible listener, and the fake through the Portkey gateway
 * (`@portkey-ai/gateway`, installed in bench/.portkey/ on first use). Every
 * target gets the same keep-alive node:http client, non-streaming and
 * streaming, 1 and 64 concurrent clients, in rounds that alternate the
 * targets; then, after a warm-up, a soak of mixed load through Skybridge
 * while its RSS is sampled (`--soak-seconds`, default 300). Writes
 * bench/results/ai-latest.json and prints a markdown table. Every loop is
 * bounded in time and count, only 127.0.0.1 is used, and everything started
 * here is stopped at the end.
 *
 *   node bench/ai.ts [--soak-seconds 300]
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { freePort } from '../scripts/services/free-port.ts';
import { type PlatformProcess, READY_LINE } from '../scripts/services/platform-process.ts';
import { FAKE_ANSWER, FAKE_MODEL, LISTENING_LINE } from './ai-fake-upstream.ts';
import {
  componentPid,
  cpuMs,
  type HeapSample,
  json,
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

const portkeyDir = path.join(projectRoot, 'bench/.portkey');
const PORTKEY_VERSION = '1.15.2';
const HONO_NODE_SERVER_VERSION = '1.13.5';
const INSTALL_STAMP = path.join(portkeyDir, 'node_modules/.skybridge-bench-install');

/** Load before each measured round, the same for every target: connections opened, caches filled, code compiled. */
const WARMUP_MS = 1_000;
const DURATION_MS = 5_000;
const MAX_REQUESTS_PER_ROUND = 200_000;
/** Every scenario runs in rounds, the targets in a rotating order, so that load from outside hits all alike. */
const ROUNDS = 3;
const CONCURRENCIES = [1, 64] as const;
const MODES = ['json', 'stream'] as const;
const REQUEST_TIMEOUT_MS = 30_000;
const RSS_SAMPLE_MS = 250;
const SOAK_CONCURRENCY = 16;
/**
 * The soak's warm-up: the mixed load first runs this long, unmeasured. After the scenarios the
 * bridge's RSS settles to the soak's load over about 2-3 minutes (malloc's arenas take the new
 * mix of allocations) and then stays level: with a 60 s warm-up, runs fitted 1.3-1.7 MB/min over
 * the whole 300 s with -0.05-0.9 over its second half.
 */
const SOAK_MAX_WARMUP_S = 180;
const soakWarmupSeconds = (soakSeconds: number) =>
  Math.min(SOAK_MAX_WARMUP_S, Math.round((soakSeconds * 3) / 5));
const SOAK_SAMPLES_WANTED = 60;
const MAX_SOAK_SECONDS = 3_600;
const CLOCK_TICKS_PER_SECOND = 100;

const TARGETS = {
  addedP50Ms: 1,
  addedP99Ms: 5,
  /** "RSS flat over the soak": the fitted RSS slope, in MB per minute. */
  soakSlopeMBPerMin: 1,
};

type Mode = (typeof MODES)[number];
type TargetName = 'direct' | 'skybridge' | 'portkey';

const { values: options } = parseArgs({
  options: { 'soak-seconds': { type: 'string', default: '300' } },
  strict: true,
});
const soakSeconds = Number(options['soak-seconds']);
if (!Number.isFinite(soakSeconds) || soakSeconds < 5 || soakSeconds > MAX_SOAK_SECONDS)
  throw new Error(`--soak-seconds must be a number from 5 to ${MAX_SOAK_SECONDS}`);
const WATCHDOG_MS = 25 * 60_000 + (soakSeconds + SOAK_MAX_WARMUP_S) * 1000;

const log = (line: string) => process.stderr.write(`bench:ai: ${line}\n`);
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
const errorText = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

// ---------------------------------------------------------------------------
// The client: one node:http keep-alive agent per round, the same for every target.

interface Target {
  name: TargetName;
  port: number;
  headers: Record<string, string>;
  /** The process whose RSS and CPU are watched (the gateway; for direct, the fake). */
  pid: number;
}

const chatBody = (stream: boolean) =>
  Buffer.from(
    JSON.stringify({
      model: FAKE_MODEL,
      messages: [
        { role: 'system', content: 'You are a terse assistant.' },
        { role: 'user', content: 'Say hello.' },
      ],
      max_tokens: 32,
      ...(stream && { stream: true, stream_options: { include_usage: true } }),
    }),
  );
const BODIES: Record<Mode, Buffer> = { json: chatBody(false), stream: chatBody(true) };

const newAgent = () => new http.Agent({ keepAlive: true, maxSockets: 128, maxFreeSockets: 128 });

interface Exchange {
  totalMs: number;
  ttftMs?: number;
}

/** Reads server-sent events as they arrive: the moment of the first content, the text, and `[DONE]`. */
class SseReader {
  #pending = '';
  text = '';
  done = false;
  sawContent = false;

  push(chunk: string): void {
    this.#pending += chunk;
    for (let end = this.#pending.indexOf('\n\n'); end >= 0; end = this.#pending.indexOf('\n\n')) {
      const event = this.#pending.slice(0, end);
      this.#pending = this.#pending.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') {
          this.done = true;
          continue;
        }
        const parsed = JSON.parse(data) as {
          error?: unknown;
          choices?: { delta?: { content?: string } }[];
        };
        if (parsed.error !== undefined) throw new Error(`error event: ${JSON.stringify(parsed.error)}`);
        const content = parsed.choices?.[0]?.delta?.content;
        if (content) {
          this.text += content;
          this.sawContent = true;
        }
      }
    }
  }
}

/** One chat completion; resolves when the whole answer is in and checked, rejects on anything unexpected. */
function chat(target: Target, mode: Mode, agent: http.Agent): Promise<Exchange> {
  const body = BODIES[mode];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: '/v1/chat/completions',
        method: 'POST',
        agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: {
          ...target.headers,
          'content-type': 'application/json',
          'content-length': body.length,
          accept: mode === 'stream' ? 'text/event-stream' : 'application/json',
        },
      },
      (res) => {
        res.setEncoding('utf8');
        const sse = mode === 'stream' ? new SseReader() : undefined;
        let text = '';
        let ttftMs: number | undefined;
        res.on('data', (chunk: string) => {
          if (!sse || res.statusCode !== 200) {
            text += chunk;
            return;
          }
          try {
            sse.push(chunk);
          } catch (error) {
            res.destroy(error as Error);
            return;
          }
          if (ttftMs === undefined && sse.sawContent) ttftMs = performance.now() - started;
        });
        res.once('error', reject);
        res.once('end', () => {
          const totalMs = performance.now() - started;
          if (res.statusCode !== 200)
            return reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
          if (sse) {
            if (!sse.done) return reject(new Error('the stream ended without [DONE]'));
            if (sse.text !== FAKE_ANSWER) return reject(new Error(`streamed text was "${sse.text}"`));
            return resolve({ totalMs, ttftMs });
          }
          let content: unknown;
          try {
            content = (JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]
              ?.message?.content;
          } catch {
            return reject(new Error(`not JSON: ${text.slice(0, 300)}`));
          }
          if (content !== FAKE_ANSWER) return reject(new Error(`answer was ${JSON.stringify(content)}`));
          resolve({ totalMs });
        });
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end(body);
  });
}

interface LoadOutcome {
  latencies: number[];
  ttfts: number[];
  errors: number;
  elapsedMs: number;
  firstError?: string;
}

/** `concurrency` loops issuing requests until the time or count budget is spent. */
async function load(
  concurrency: number,
  durationMs: number,
  maxRequests: number,
  request: (worker: number, sequence: number) => Promise<Exchange>,
): Promise<LoadOutcome> {
  const outcome: LoadOutcome = { latencies: [], ttfts: [], errors: 0, elapsedMs: 0 };
  const started = performance.now();
  const deadline = started + durationMs;
  let sequence = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline && outcome.latencies.length + outcome.errors < maxRequests) {
        try {
          const exchange = await request(worker, sequence++);
          outcome.latencies.push(exchange.totalMs);
          if (exchange.ttftMs !== undefined) outcome.ttfts.push(exchange.ttftMs);
        } catch (error) {
          outcome.errors++;
          outcome.firstError ??= errorText(error);
          // A failing target answers at once: do not spin on it.
          await sleep(5);
        }
      }
    }),
  );
  outcome.elapsedMs = performance.now() - started;
  return outcome;
}

const run = promisify(execFile);

/** A child process with its output kept, ready once `ready` says so. */
function startChild(
  name: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): { child: ChildProcess; output: () => string; exited: Promise<void> } {
  const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (chunk: Buffer) => {
    if (output.length < 100_000) output += String(chunk);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    if (!stopping) log(`${name} exited (${signal ?? code}); output:\n${output.slice(-2000)}`);
  });
  return { child, output: () => output, exited };
}

async function stopChild(child: ChildProcess | undefined, exited: Promise<void> | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timeout = sleep(10_000).then(() => 'timeout' as const);
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Waits until `probe` succeeds, for at most `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------
// Portkey: installed into bench/.portkey/ from its package.json, again whenever that changes.

async function ensurePortkey(): Promise<{ entry: string; versions: Record<string, string> }> {
  const manifest = await readFile(path.join(portkeyDir, 'package.json'));
  const hash = createHash('sha256').update(manifest).digest('hex');
  const installedVersion = async (name: string) =>
    String(
      (
        JSON.parse(await readFile(path.join(portkeyDir, 'node_modules', name, 'package.json'), 'utf8')) as {
          version?: unknown;
        }
      ).version,
    );
  const stamp = await readFile(INSTALL_STAMP, 'utf8').catch(() => '');
  if (stamp.trim() !== hash) {
    log('installing @portkey-ai/gateway into bench/.portkey/ (npm install)...');
    const npm = path.join(path.dirname(process.execPath), 'npm');
    await run(
      existsSync(npm) ? npm : 'npm',
      ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'],
      { cwd: portkeyDir, timeout: 300_000, maxBuffer: 16 * 2 ** 20 },
    );
    await writeFile(INSTALL_STAMP, `${hash}\n`);
  }
  const versions = {
    '@portkey-ai/gateway': await installedVersion('@portkey-ai/gateway'),
    '@hono/node-server': await installedVersion('@hono/node-server'),
    hono: await installedVersion('hono'),
  };
  if (versions['@portkey-ai/gateway'] !== PORTKEY_VERSION)
    throw new Error(`bench/.portkey has @portkey-ai/gateway ${versions['@portkey-ai/gateway']}`);
  if (versions['@hono/node-server'] !== HONO_NODE_SERVER_VERSION)
    throw new Error(`bench/.portkey has @hono/node-server ${versions['@hono/node-server']}`);
  const manifestOfGateway = JSON.parse(
    await readFile(path.join(portkeyDir, 'node_modules/@portkey-ai/gateway/package.json'), 'utf8'),
  ) as { bin?: string | Record<string, string> };
  const bin =
    typeof manifestOfGateway.bin === 'string'
      ? manifestOfGateway.bin
      : Object.values(manifestOfGateway.bin ?? {})[0];
  if (!bin) throw new Error('@portkey-ai/gateway has no bin');
  return { entry: path.join(portkeyDir, 'node_modules/@portkey-ai/gateway', bin), versions };
}

// ---------------------------------------------------------------------------
// Scenarios.

interface Round {
  requests: number;
  errors: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ttftP50Ms?: number;
  ttftP99Ms?: number;
  /** CPU time of the watched process (gateway, or the fake for direct) per request. */
  processCpuMsPerRequest: number;
  /** CPU time of this load generator per request. */
  clientCpuMsPerRequest: number;
  peakRssMB: number;
  firstError?: string;
}

interface ScenarioResult extends Round {
  target: TargetName;
  mode: Mode;
  concurrency: number;
  roundsRequestsPerSecond: number[];
}

async function measureRound(target: Target, mode: Mode, concurrency: number): Promise<Round> {
  const agent = newAgent();
  try {
    const request = () => chat(target, mode, agent);
    const warm = await load(concurrency, WARMUP_MS, MAX_REQUESTS_PER_ROUND, request);
    if (warm.firstError) log(`  warm-up ${target.name}: ${warm.errors} errors, first: ${warm.firstError}`);
    const cpuBefore = await cpuMs(target.pid);
    const clientBefore = process.cpuUsage();
    const { result, samples } = await sampleRssDuring(target.pid, RSS_SAMPLE_MS, () =>
      load(concurrency, DURATION_MS, MAX_REQUESTS_PER_ROUND, request),
    );
    const client = process.cpuUsage(clientBefore);
    const processCpu = (await cpuMs(target.pid)) - cpuBefore;
    if (result.firstError)
      log(`  ${target.name} ${mode} c${concurrency}: ${result.errors} errors, first: ${result.firstError}`);
    const sorted = result.latencies.sort((a, b) => a - b);
    const ttfts = result.ttfts.sort((a, b) => a - b);
    const requests = Math.max(1, sorted.length);
    return {
      requests: sorted.length,
      errors: result.errors,
      requestsPerSecond: Math.round((sorted.length / result.elapsedMs) * 1000),
      p50Ms: round(percentile(sorted, 0.5)),
      p99Ms: round(percentile(sorted, 0.99)),
      ...(mode === 'stream' && {
        ttftP50Ms: round(percentile(ttfts, 0.5)),
        ttftP99Ms: round(percentile(ttfts, 0.99)),
      }),
      processCpuMsPerRequest: round(processCpu / requests, 3),
      clientCpuMsPerRequest: round((client.user + client.system) / 1000 / requests, 3),
      peakRssMB: round(Math.max(...samples.map((sample) => sample.rssMB)), 1),
      ...(result.firstError && { firstError: result.firstError }),
    };
  } finally {
    agent.destroy();
  }
}

/** ROUNDS rounds of one scenario, the targets' order rotated every round; each target's best round reported. */
async function scenario(targets: Target[], mode: Mode, concurrency: number): Promise<ScenarioResult[]> {
  const rounds = new Map<TargetName, Round[]>(targets.map((target) => [target.name, []]));
  for (let index = 0; index < ROUNDS; index++) {
    const order = [...targets.slice(index % targets.length), ...targets.slice(0, index % targets.length)];
    for (const target of order) {
      log(`${mode} c${concurrency} ${target.name}, round ${index + 1}/${ROUNDS}...`);
      rounds.get(target.name)!.push(await measureRound(target, mode, concurrency));
    }
  }
  return targets.map((target) => {
    const runs = rounds.get(target.name)!;
    const best = runs.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
    return {
      target: target.name,
      mode,
      concurrency,
      ...best,
      errors: runs.reduce((sum, run) => sum + run.errors, 0),
      peakRssMB: Math.max(...runs.map((run) => run.peakRssMB)),
      roundsRequestsPerSecond: runs.map((run) => run.requestsPerSecond),
    };
  });
}

/**
 * Mixed load (JSON and streaming in turn) through `target`: a warm-up of
 * three fifths of the soak (at most SOAK_MAX_WARMUP_S), the load the scenarios did
 * not give (they run one mode at a time, the targets in turn), then `seconds`
 * of the same load, the RSS sampled throughout.
 */
async function soak(target: Target, seconds: number) {
  const everyMs = Math.max(1_000, Math.min(5_000, Math.floor((seconds * 1000) / SOAK_SAMPLES_WANTED)));
  const warmupSeconds = soakWarmupSeconds(seconds);
  const agent = newAgent();
  const mixed = (durationMs: number) =>
    load(SOAK_CONCURRENCY, durationMs, Number.MAX_SAFE_INTEGER, (worker, sequence) =>
      chat(target, (worker + sequence) % 2 === 0 ? 'json' : 'stream', agent),
    );
  try {
    const warmup = await sampleRssDuring(target.pid, everyMs, () => mixed(warmupSeconds * 1000));
    const cpuBefore = await cpuMs(target.pid);
    const heap: HeapSample[] = [];
    const { result, samples } = await sampleRssDuring(target.pid, everyMs, () =>
      sampleHeapDuring(`http://127.0.0.1:${target.port}/metrics`, everyMs, heap, () => mixed(seconds * 1000)),
    );
    const processCpu = (await cpuMs(target.pid)) - cpuBefore;
    const firstError = warmup.result.firstError ?? result.firstError;
    if (firstError) log(`  soak: ${warmup.result.errors + result.errors} errors, first: ${firstError}`);
    const rss = samples.map((sample) => sample.rssMB);
    const secondHalf = samples.filter((sample) => sample.atS >= seconds / 2);
    const sorted = result.latencies.sort((a, b) => a - b);
    return {
      seconds,
      warmupSeconds,
      concurrency: SOAK_CONCURRENCY,
      mix: 'JSON and streaming requests in turn',
      sampleEveryMs: everyMs,
      requests: sorted.length,
      errors: warmup.result.errors + result.errors,
      requestsPerSecond: Math.round((sorted.length / result.elapsedMs) * 1000),
      p50Ms: round(percentile(sorted, 0.5)),
      p99Ms: round(percentile(sorted, 0.99)),
      processCpuMsPerRequest: round(processCpu / Math.max(1, sorted.length), 3),
      warmupStartRssMB: round(warmup.samples[0]?.rssMB ?? 0, 1),
      startRssMB: round(rss[0] ?? 0, 1),
      endRssMB: round(rss.at(-1) ?? 0, 1),
      minRssMB: round(Math.min(...rss), 1),
      peakRssMB: round(Math.max(...rss), 1),
      slopeMBPerMin: round(slopeMBPerMin(samples), 2),
      secondHalfSlopeMBPerMin: round(slopeMBPerMin(secondHalf), 2),
      warmupSamples: warmup.samples.map((sample) => [round(sample.atS, 1), round(sample.rssMB, 1)]),
      samples: samples.map((sample) => [round(sample.atS, 1), round(sample.rssMB, 1)]),
      heapSamples: heap,
      ...(firstError && { firstError }),
    };
  } finally {
    agent.destroy();
  }
}

// ---------------------------------------------------------------------------

let stopping = false;
let platform: PlatformProcess | undefined;
let fake: ReturnType<typeof startChild> | undefined;
let portkey: ReturnType<typeof startChild> | undefined;
const scratchDirs: string[] = [];
let cleanedUp: Promise<void> | undefined;

function cleanup(): Promise<void> {
  stopping = true;
  cleanedUp ??= (async () => {
    await stopChild(portkey?.child, portkey?.exited).catch((error: unknown) =>
      log(`stopping Portkey: ${String(error)}`),
    );
    await platform?.interrupt().catch((error: unknown) => log(`stopping the platform: ${String(error)}`));
    await stopChild(fake?.child, fake?.exited).catch((error: unknown) =>
      log(`stopping the fake upstream: ${String(error)}`),
    );
    await waitForGroupExit(platform);
    await removeScratchDirs(scratchDirs, log);
  })();
  return cleanedUp;
}

const watchdog = stopOnSignalOrTimeout(cleanup, WATCHDOG_MS, log);

const loadAverageAtStart = os.loadavg().map((value) => round(value));
try {
  log('starting the platform...');
  const started = await spawnBenchPlatform('skybridge-bench-ai-');
  platform = started.platform;
  scratchDirs.push(started.dataDir);
  const { ports } = started;

  const fakePort = await freePort();
  fake = startChild(
    'the fake upstream',
    [path.join(projectRoot, 'bench/ai-fake-upstream.ts'), String(fakePort)],
    {
      cwd: projectRoot,
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
  const fakeOutput = fake.output;
  await waitFor('the fake upstream', 30_000, async () => fakeOutput().includes(LISTENING_LINE));
  const fakeBase = `http://127.0.0.1:${fakePort}/v1`;
  log(`fake upstream at ${fakeBase}`);

  const installed = await ensurePortkey();
  const portkeyPort = await freePort();
  const portkeyArgs = [installed.entry, `--port=${portkeyPort}`, '--headless'];
  portkey = startChild('Portkey', portkeyArgs, {
    cwd: portkeyDir,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  await waitFor('Portkey', 60_000, async () => (await fetch(`http://127.0.0.1:${portkeyPort}/`)).ok);
  log(`Portkey ${installed.versions['@portkey-ai/gateway']} at http://127.0.0.1:${portkeyPort}`);

  await platform.waitForOutput(READY_LINE, 300_000);
  const api = `http://127.0.0.1:${ports.API_PORT}`;
  const headers = await signUpBenchUser(api, 'AI bench');
  const call = async (method: string, route: string, body: unknown, expected: number) => {
    const answer = await json(`${api}${route}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (answer.status !== expected)
      throw new Error(`${method} ${route}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  const config = await call(
    'POST',
    '/ai/llm',
    { name: 'bench-fake', type: 'OTHER', apiEndpoint: fakeBase, apiSecret: 'x' },
    201,
  );
  const configId = String(config.id);
  const validation = await call('POST', `/ai/llm/${configId}/validate`, undefined, 200);
  if (validation.status !== 'VALID') throw new Error(`config not valid: ${JSON.stringify(validation)}`);
  const repo = await call(
    'POST',
    '/repo',
    { name: `bench-${randomBytes(3).toString('hex')}`, aiConfigIds: [configId] },
    201,
  );
  const key = await call('POST', `/repo/${String(repo.id)}/ai/apikey`, { name: 'bench' }, 201);
  const pid = await componentPid(platform, 'bridge/main.ts');
  const bridgeCommand = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
  log(
    `AI config VALID, repository and AI key created; bridge (pid ${pid}) at port ${ports.BRIDGE_OPENAI_PORT}`,
  );

  const targets: Target[] = [
    { name: 'direct', port: fakePort, headers: { authorization: 'Bearer x' }, pid: fake.child.pid! },
    {
      name: 'skybridge',
      port: ports.BRIDGE_OPENAI_PORT,
      headers: { authorization: `Bearer ${String(key.key)}` },
      pid,
    },
    {
      name: 'portkey',
      port: portkeyPort,
      headers: {
        authorization: 'Bearer x',
        'x-portkey-provider': 'openai',
        'x-portkey-custom-host': fakeBase,
      },
      pid: portkey.child.pid!,
    },
  ];

  // Every target answers both ways, correctly, before anything is measured.
  const probeAgent = newAgent();
  for (const target of targets)
    for (const mode of MODES)
      await chat(target, mode, probeAgent).catch((error: unknown) => {
        throw new Error(`${target.name} ${mode}: ${errorText(error)}`);
      });
  probeAgent.destroy();
  const startRss = {
    skybridge: round(await rssMB(pid), 1),
    portkey: round(await rssMB(portkey.child.pid!), 1),
  };

  const results: ScenarioResult[] = [];
  for (const mode of MODES)
    for (const concurrency of CONCURRENCIES) results.push(...(await scenario(targets, mode, concurrency)));
  const afterScenariosRss = {
    skybridge: round(await rssMB(pid), 1),
    portkey: round(await rssMB(portkey.child.pid!), 1),
  };

  log(
    `soak: ${soakSeconds} s of mixed load through Skybridge (after a warm-up of ${soakWarmupSeconds(soakSeconds)} s), ${SOAK_CONCURRENCY} clients...`,
  );
  const soakResult = await soak(targets[1]!, soakSeconds);

  // Added figures and checks.
  const find = (target: TargetName, mode: Mode, concurrency: number) =>
    results.find((r) => r.target === target && r.mode === mode && r.concurrency === concurrency)!;
  const added = results
    .filter((r) => r.target !== 'direct')
    .map((r) => {
      const direct = find('direct', r.mode, r.concurrency);
      return {
        target: r.target,
        mode: r.mode,
        concurrency: r.concurrency,
        addedP50Ms: round(r.p50Ms - direct.p50Ms),
        addedP99Ms: round(r.p99Ms - direct.p99Ms),
        ...(r.mode === 'stream' && {
          addedTtftP50Ms: round((r.ttftP50Ms ?? 0) - (direct.ttftP50Ms ?? 0)),
          addedTtftP99Ms: round((r.ttftP99Ms ?? 0) - (direct.ttftP99Ms ?? 0)),
        }),
        requestsPerSecondVsDirect: round(r.requestsPerSecond / direct.requestsPerSecond),
      };
    });
  const addedOf = (target: TargetName, mode: Mode, concurrency: number) =>
    added.find((a) => a.target === target && a.mode === mode && a.concurrency === concurrency)!;
  const checks: { check: string; value: string; target: string; pass: boolean }[] = [];
  for (const mode of MODES) {
    const a = addedOf('skybridge', mode, 64);
    checks.push({
      check: `Skybridge added p50, ${mode}, c64`,
      value: `${a.addedP50Ms} ms`,
      target: `≤ ${TARGETS.addedP50Ms} ms`,
      pass: a.addedP50Ms <= TARGETS.addedP50Ms,
    });
    checks.push({
      check: `Skybridge added p99, ${mode}, c64`,
      value: `${a.addedP99Ms} ms`,
      target: `≤ ${TARGETS.addedP99Ms} ms`,
      pass: a.addedP99Ms <= TARGETS.addedP99Ms,
    });
  }
  for (const mode of MODES)
    for (const concurrency of CONCURRENCIES) {
      const s = find('skybridge', mode, concurrency).requestsPerSecond;
      const p = find('portkey', mode, concurrency).requestsPerSecond;
      checks.push({
        check: `Skybridge req/s above Portkey's, ${mode}, c${concurrency}`,
        value: `${s} vs ${p}`,
        target: '> Portkey',
        pass: s > p,
      });
    }
  checks.push({
    check: `Skybridge RSS flat over the ${soakSeconds} s soak (fitted slope, after its warm-up)`,
    value: `${soakResult.slopeMBPerMin} MB/min (${soakResult.startRssMB} → ${soakResult.endRssMB} MB, peak ${soakResult.peakRssMB}; ${soakResult.warmupStartRssMB} MB before the warm-up)`,
    target: `≤ ${TARGETS.soakSlopeMBPerMin} MB/min`,
    pass: soakResult.slopeMBPerMin <= TARGETS.soakSlopeMBPerMin,
  });

  const report = {
    recordedAt: new Date().toISOString(),
    machine: {
      ...machineFacts(),
      loadAverageAtStart,
      loadAverageAtEnd: os.loadavg().map((value) => round(value)),
      note: 'client, fake upstream, Skybridge (bridge, API, worker, PostgreSQL, Temporal) and Portkey all on this machine, over 127.0.0.1',
    },
    settings: {
      warmupMsPerRound: WARMUP_MS,
      durationMsPerRound: DURATION_MS,
      maxRequestsPerRound: MAX_REQUESTS_PER_ROUND,
      rounds: ROUNDS,
      figure: 'each target’s best round (highest req/s); targets in rotating order round by round',
      concurrencies: CONCURRENCIES,
      client:
        'node:http, a keep-alive Agent per round (maxSockets 128), the same for all targets; each answer read whole and checked',
      request: JSON.parse(BODIES.stream.toString('utf8')) as unknown,
      ttft: 'time to the first `data:` event whose delta has content',
      added: 'target figure minus the direct figure of the same scenario',
      processCpu: `utime+stime from /proc/<pid>/stat (${CLOCK_TICKS_PER_SECOND} ticks/s) of the gateway (the fake for direct)`,
      rssSampleMs: RSS_SAMPLE_MS,
      portkey: {
        versions: installed.versions,
        command: `node node_modules/@portkey-ai/gateway/${path.relative(path.join(portkeyDir, 'node_modules/@portkey-ai/gateway'), installed.entry)} --port=<port> --headless`,
        headers: [
          'x-portkey-provider: openai',
          'x-portkey-custom-host: <fake>/v1',
          'Authorization: Bearer x',
        ],
      },
      skybridge: {
        setup: 'AI LLM config type OTHER → fake, a repository with it, a repo AI key; LOG_LEVEL=warn',
        /** BRIDGE_PROCESSES as the bench was started with: RSS and CPU are the processes' sum. */
        bridgeProcesses: process.env.BRIDGE_PROCESSES || '1',
        bridgeCommand: bridgeCommand.replaceAll(`${projectRoot}/`, '').replace(/^\S*\/node /, 'node '),
      },
    },
    targets: TARGETS,
    results,
    added,
    rss: {
      skybridge: { startMB: startRss.skybridge, afterScenariosMB: afterScenariosRss.skybridge },
      portkey: { startMB: startRss.portkey, afterScenariosMB: afterScenariosRss.portkey },
    },
    soak: soakResult,
    checks,
  };
  await writeFile(
    path.join(projectRoot, 'bench/results/ai-latest.json'),
    `${JSON.stringify(report, null, 2)}\n`,
  );

  const lines = [
    `AI gateway: fake upstream direct, through Skybridge, through Portkey ${installed.versions['@portkey-ai/gateway']} (${report.machine.cpus} cores, everything on 127.0.0.1)`,
    '',
    '| scenario | target | req/s (rounds) | p50 / p99 ms | added p50 / p99 ms | TTFT p50 / p99 ms | added TTFT p50 / p99 ms | gateway CPU ms/req | peak RSS MB | errors |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const mode of MODES)
    for (const concurrency of CONCURRENCIES)
      for (const target of ['direct', 'skybridge', 'portkey'] as const) {
        const r = find(target, mode, concurrency);
        const a = target === 'direct' ? undefined : addedOf(target, mode, concurrency);
        const streamed = mode === 'stream';
        lines.push(
          [
            '',
            `${mode === 'json' ? 'non-streaming' : 'streaming'} c${concurrency}`,
            target,
            `${r.requestsPerSecond} (${r.roundsRequestsPerSecond.join(', ')})`,
            `${r.p50Ms} / ${r.p99Ms}`,
            a ? `${a.addedP50Ms} / ${a.addedP99Ms}` : '—',
            streamed ? `${r.ttftP50Ms} / ${r.ttftP99Ms}` : '—',
            streamed && a ? `${a.addedTtftP50Ms} / ${a.addedTtftP99Ms}` : '—',
            target === 'direct' ? `(fake ${r.processCpuMsPerRequest})` : String(r.processCpuMsPerRequest),
            target === 'direct' ? '—' : String(r.peakRssMB),
            String(r.errors),
            '',
          ]
            .join(' | ')
            .trim(),
        );
      }
  lines.push(
    '',
    `RSS: Skybridge bridge ${startRss.skybridge} MB after setup, ${afterScenariosRss.skybridge} MB after the scenarios; Portkey ${startRss.portkey} MB → ${afterScenariosRss.portkey} MB.`,
    `Soak: ${soakSeconds} s after a ${soakResult.warmupSeconds} s warm-up (RSS ${soakResult.warmupStartRssMB} MB before it), ${SOAK_CONCURRENCY} clients, mixed: ${soakResult.requests} requests (${soakResult.requestsPerSecond}/s, p50 ${soakResult.p50Ms} ms, p99 ${soakResult.p99Ms} ms, ${soakResult.errors} errors), bridge RSS ${soakResult.startRssMB} → ${soakResult.endRssMB} MB (min ${soakResult.minRssMB}, peak ${soakResult.peakRssMB}), slope ${soakResult.slopeMBPerMin} MB/min (second half ${soakResult.secondHalfSlopeMBPerMin}).`,
    '',
    '| check | value | target | result |',
    '|---|---|---|---|',
    ...checks.map((c) => `| ${c.check} | ${c.value} | ${c.target} | ${c.pass ? 'pass' : 'FAIL'} |`),
  );
  console.log(lines.join('\n'));
} catch (error) {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  if (platform) log(`the platform's output, last lines:\n${platform.output().slice(-3000)}`);
  const bridgeLog = scratchDirs[0] && path.join(scratchDirs[0], 'logs/bridge.log');
  if (bridgeLog && existsSync(bridgeLog))
    log(`${bridgeLog}, last lines:\n${(await readFile(bridgeLog, 'utf8')).slice(-4000)}`);
  process.exitCode = 1;
} finally {
  log('stopping Portkey, the platform and the fake upstream...');
  await cleanup();
  clearTimeout(watchdog);
}
