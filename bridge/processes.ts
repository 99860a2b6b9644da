/**
 * `BRIDGE_PROCESSES` > 1: one bridge on several cores. A primary process forks
 * that many bridge processes with `node:cluster`; they share the S3 and
 * OpenAI listeners (the primary hands each new connection to the next one),
 * and each holds its own database pool, caches and usage batches, as separate
 * bridges do. The primary serves no request: it restarts a bridge process
 * that dies, stops them all on SIGINT/SIGTERM, and sums their Prometheus
 * metrics, so that /metrics, whichever process answers it, describes the
 * whole bridge.
 */
import cluster, { type Worker } from 'node:cluster';
import { setTimeout as sleep } from 'node:timers/promises';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../core/logging.ts';
import type { Started } from '../core/process.ts';

/** A bridge process → the primary: it listens. */
const READY = 'skybridge:bridge-ready';
/** A bridge process → the primary: the summed metrics, please. */
const SUM_REQUEST = 'skybridge:metrics-sum-request';
/** The primary → a bridge process: the summed metrics (or why there are none). */
const SUM_ANSWER = 'skybridge:metrics-sum';
/** The primary → every ready bridge process: your own metrics, please. */
const OWN_REQUEST = 'skybridge:metrics-own-request';
/** A bridge process → the primary: its own metrics. */
const OWN_ANSWER = 'skybridge:metrics-own';

/** A process that dies is replaced after this long, not at once in a loop. */
const RESTART_DELAY_MS = 1_000;
const METRICS_TIMEOUT_MS = 5_000;

type BridgeMessage =
  | { type: typeof READY }
  | { type: typeof SUM_REQUEST; id: number }
  | { type: typeof SUM_ANSWER; id: number; text?: string; error?: string }
  | { type: typeof OWN_REQUEST; id: number }
  | { type: typeof OWN_ANSWER; id: number; metrics: object[] };

const messageOf = (value: unknown): BridgeMessage | undefined =>
  typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
    ? (value as BridgeMessage)
    : undefined;

/** True in a process forked by `startBridgeProcesses`. */
export const isBridgeProcessOfMany = (): boolean => cluster.isWorker;

/**
 * The primary: forks `count` bridge processes and resolves once every one
 * listens. One that fails before it is ready fails the start (as a single
 * bridge's failure would); one that dies later is replaced.
 */
export async function startBridgeProcesses(count: number, log: Logger): Promise<Started> {
  let stopping = false;
  /** Processes that listen; one that dies after that is replaced, not a failed start. */
  const ready = new Set<Worker>();
  const own = new PendingAnswers<object[]>();
  const { promise: startFailed, reject: failStart } = Promise.withResolvers<never>();
  startFailed.catch(() => {});

  cluster.on('message', (worker, raw) => {
    const message = messageOf(raw);
    if (message?.type === READY) ready.add(worker);
    if (message?.type === OWN_ANSWER) own.settle(message.id, message.metrics);
    if (message?.type === SUM_REQUEST) void answerSum(worker, message.id, [...ready], own);
  });
  cluster.on('exit', (worker, code, signal) => {
    const wasReady = ready.delete(worker);
    if (stopping) return;
    if (!wasReady) {
      failStart(new Error(`a bridge process exited during start (code ${code}, signal ${signal})`));
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'bridge process died; starting another');
    void sleep(RESTART_DELAY_MS).then(() => {
      if (!stopping) cluster.fork();
    });
  });

  const first = Array.from({ length: count }, () => cluster.fork());
  try {
    await Promise.race([waitUntilReady(first, ready), startFailed]);
  } catch (error) {
    stopping = true;
    await stopAll();
    throw error;
  }
  log.info({ processes: count }, 'bridge processes listening');
  return {
    async stop() {
      stopping = true;
      await stopAll();
    },
  };
}

async function waitUntilReady(workers: Worker[], ready: Set<Worker>): Promise<void> {
  while (!workers.every((worker) => ready.has(worker))) await sleep(50);
}

/** SIGTERM to each bridge process (each stops as a single bridge does), then wait for all to exit. */
async function stopAll(): Promise<void> {
  const running = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
  await Promise.all(
    running.map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          worker.once('exit', () => resolve());
          worker.process.kill('SIGTERM');
        }),
    ),
  );
}

/**
 * The sum of every ready process's metrics, for the one that was asked. All or
 * nothing: a sum that missed a process would make its counters seem to fall.
 */
async function answerSum(
  asker: Worker,
  id: number,
  ready: Worker[],
  own: PendingAnswers<object[]>,
): Promise<void> {
  const answer = await Promise.all(
    ready.map((worker) => {
      const pending = own.expect(`process ${worker.process.pid}`);
      sendTo(worker, { type: OWN_REQUEST, id: pending.id }, (error) => own.fail(pending.id, error));
      return pending.answer;
    }),
  ).then(
    async (perProcess) => ({ text: await AggregatorRegistry.aggregate(perProcess).metrics() }),
    (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
  );
  sendTo(asker, { type: SUM_ANSWER, id, ...answer }, () => {}); // an asker that died needs no answer
}

/** A message to a bridge process that may have died meanwhile: `failed` instead of an 'error' event. */
function sendTo(worker: Worker, message: BridgeMessage, failed: (error: Error) => void): void {
  if (!worker.isConnected()) {
    failed(new Error(`process ${worker.process.pid} is gone`));
    return;
  }
  worker.send(message, (error) => {
    if (error) failed(error);
  });
}

/** In a bridge process: tells the primary that this one listens. */
export function announceReady(): void {
  process.send?.({ type: READY });
}

/**
 * In a bridge process: answers the primary's requests for this registry's
 * metrics, and returns what its /metrics serves: the sum over all processes.
 */
export function clusterMetricsOf(registry: Registry): () => Promise<string> {
  const sums = new PendingAnswers<string>();
  process.on('message', (raw) => {
    const message = messageOf(raw);
    if (message?.type === OWN_REQUEST)
      void registry
        .getMetricsAsJSON()
        .then((metrics) => process.send?.({ type: OWN_ANSWER, id: message.id, metrics }));
    if (message?.type === SUM_ANSWER) {
      if (message.text === undefined) sums.fail(message.id, new Error(message.error ?? 'no metrics'));
      else sums.settle(message.id, message.text);
    }
  });
  return () => {
    const pending = sums.expect("the bridge's primary process");
    process.send?.({ type: SUM_REQUEST, id: pending.id });
    return pending.answer;
  };
}

/** Answers awaited over IPC, by id, each given up after METRICS_TIMEOUT_MS. */
class PendingAnswers<T> {
  #nextId = 0;
  readonly #waiting = new Map<number, { resolve: (value: T) => void; reject: (error: Error) => void }>();

  expect(from: string): { id: number; answer: Promise<T> } {
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    this.#waiting.set(id, { resolve, reject });
    const timer = setTimeout(
      () => this.fail(id, new Error(`no answer from ${from} within ${METRICS_TIMEOUT_MS} ms`)),
      METRICS_TIMEOUT_MS,
    );
    const answer = promise.finally(() => {
      clearTimeout(timer);
      this.#waiting.delete(id);
    });
    return { id, answer };
  }

  settle(id: number, value: T): void {
    this.#waiting.get(id)?.resolve(value);
  }

  fail(id: number, error: Error): void {
    this.#waiting.get(id)?.reject(error);
  }
}
