/**
 * Usage metering off the request path (BR-6, AI-5). `record()` only appends
 * to a bounded in-memory queue; a timer drains the queue into `usage_events`
 * with one multi-row INSERT per batch. A request never waits for the
 * database: when the database is down, events wait in memory (up to
 * `maxBuffered`, oldest dropped first and counted) and are written once it is
 * back. One recorder per process: its metrics are registered once.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { type UsageApi, UsageEvent, usageApis } from '../db/entities/index.ts';
import type { EntityManager } from '../db/orm.ts';
import type { Logger } from '../logging.ts';
import { BoundedQueue } from './bounded-queue.ts';

export interface UsageEventInput {
  api: UsageApi;
  organizationId: string;
  repositoryId: string;
  bucketId?: string | null;
  /** The repository key (storage or AI key) that signed the request. */
  keyId?: string | null;
  operation: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  latencyMs: number;
  /** Defaults to the moment `record()` is called. */
  occurredAt?: Date;
  model?: string | null;
  tokensIn?: number | null;
  tokensOut?: number | null;
  conversationId?: string | null;
  /** AI gateway: the config that answered, its provider, and every attempt made (AI-3, AI-5). */
  aiConfigId?: string | null;
  provider?: string | null;
  timeToFirstTokenMs?: number | null;
  /** AI gateway: what the policies did (`pass`, `logged`, `alerted`, `redacted`, `blocked`). */
  policyOutcome?: string | null;
  attempts?: unknown[] | null;
}

type UsageEventRow = { [Field in keyof UsageEventInput]-?: Exclude<UsageEventInput[Field], undefined> };

/** All the recorder needs of the ORM: the entity manager's multi-row insert. */
export type UsageEventStore = Pick<EntityManager, 'insertMany'>;

export interface UsageRecorderOptions {
  em: UsageEventStore;
  log: Logger;
  /** Where the recorder's counters are registered; none when omitted. */
  metrics?: Registry;
  flushIntervalMs?: number;
  /** Rows per INSERT; at most 4,000 (PostgreSQL binds at most 65,535 parameters per statement). */
  maxBatch?: number;
  /** Events kept in memory while the database is slow or down (plus the one batch being written). */
  maxBuffered?: number;
}

const MAX_ROWS_PER_INSERT = 4_000;

export class UsageRecorder {
  readonly #em: UsageEventStore;
  readonly #log: Logger;
  readonly #flushIntervalMs: number;
  readonly #maxBatch: number;
  readonly #queue: BoundedQueue<UsageEventRow>;
  readonly #recorded: Counter;
  readonly #flushed: Counter;
  readonly #dropped: Counter<'reason'>;
  readonly #failedWrites: Counter;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #failing = false;

  constructor(options: UsageRecorderOptions) {
    const { flushIntervalMs = 1000, maxBatch = 500, maxBuffered = 50_000 } = options;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > MAX_ROWS_PER_INSERT)
      throw new RangeError(`maxBatch must be an integer from 1 to ${MAX_ROWS_PER_INSERT}`);
    this.#em = options.em;
    this.#log = options.log;
    this.#flushIntervalMs = flushIntervalMs;
    this.#maxBatch = maxBatch;
    this.#queue = new BoundedQueue(maxBuffered);
    const registers = options.metrics ? [options.metrics] : [];
    this.#recorded = new Counter({
      name: 'skybridge_usage_events_recorded_total',
      help: 'Usage events accepted for writing',
      registers,
    });
    this.#flushed = new Counter({
      name: 'skybridge_usage_events_flushed_total',
      help: 'Usage events written to the database',
      registers,
    });
    this.#dropped = new Counter({
      name: 'skybridge_usage_events_dropped_total',
      help: 'Usage events lost: buffer_full (oldest dropped while the database lagged), invalid, or shutdown',
      labelNames: ['reason'],
      registers,
    });
    this.#failedWrites = new Counter({
      name: 'skybridge_usage_event_write_failures_total',
      help: 'Batch INSERTs of usage events that failed (their events were kept for the next attempt)',
      registers,
    });
    const queue = this.#queue;
    new Gauge({
      name: 'skybridge_usage_events_buffered',
      help: 'Usage events waiting in memory to be written',
      registers,
      collect() {
        this.set(queue.size);
      },
    });
  }

  /** Queues one event. Synchronous, O(1), and never throws: metering must not fail a request. */
  record(event: UsageEventInput): void {
    try {
      const row = rowOf(event);
      if (!row) {
        this.#dropped.inc({ reason: 'invalid' });
        this.#log.warn({ operation: event.operation, api: event.api }, 'invalid usage event dropped');
        return;
      }
      this.#recorded.inc();
      const dropped = this.#queue.push(row);
      if (dropped > 0) this.#dropped.inc({ reason: 'buffer_full' }, dropped);
    } catch (error) {
      this.#dropped.inc({ reason: 'invalid' });
      this.#log.warn({ err: error }, 'usage event could not be recorded');
    }
  }

  /** Events waiting to be written. */
  get buffered(): number {
    return this.#queue.size;
  }

  /** Flushes every `flushIntervalMs` until `stop()`; the timer does not keep the process alive. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      // A failure is logged where it happens (once per streak) and retried on the next tick.
      this.flush().catch(() => undefined);
    }, this.#flushIntervalMs);
    this.#timer.unref();
  }

  /**
   * Writes what is queued, batch by batch, until the queue is empty. Calls
   * while a flush runs join it. Rejects on the first batch that fails; its
   * events and all later ones stay queued for the next attempt.
   */
  flush(): Promise<void> {
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Stops the timer and makes a last flush; what cannot be written then is counted as lost. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    try {
      await this.flush();
    } catch {
      const lost = this.#queue.take(this.#queue.size).length;
      this.#dropped.inc({ reason: 'shutdown' }, lost);
      this.#log.error({ lost }, 'usage events lost at shutdown: the database is unavailable');
    }
  }

  async #drain(): Promise<void> {
    while (this.#queue.size > 0) {
      const batch = this.#queue.take(this.#maxBatch);
      try {
        await this.#em.insertMany(UsageEvent, batch);
      } catch (error) {
        this.#keepForRetry(batch, error);
        throw error;
      }
      this.#flushed.inc(batch.length);
      if (this.#failing) {
        this.#failing = false;
        this.#log.info({ buffered: this.#queue.size }, 'usage events are being written again');
      }
    }
  }

  #keepForRetry(batch: UsageEventRow[], error: unknown): void {
    const dropped = this.#queue.putBack(batch);
    if (dropped > 0) this.#dropped.inc({ reason: 'buffer_full' }, dropped);
    this.#failedWrites.inc();
    if (this.#failing) return;
    this.#failing = true;
    this.#log.error(
      { err: error, buffered: this.#queue.size },
      'usage events could not be written; keeping them in memory and retrying',
    );
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT4_MAX = 2_147_483_647;

/**
 * The row to insert, or undefined when the event cannot be stored. Every
 * value is made to fit its column here, because one row the database rejects
 * would fail its whole batch on every retry.
 */
function rowOf(event: UsageEventInput): UsageEventRow | undefined {
  if (!usageApis.includes(event.api)) return undefined;
  if (!UUID.test(event.organizationId) || !UUID.test(event.repositoryId)) return undefined;
  return {
    api: event.api,
    organizationId: event.organizationId,
    repositoryId: event.repositoryId,
    bucketId: uuidOrNull(event.bucketId),
    keyId: uuidOrNull(event.keyId),
    operation: event.operation.slice(0, 64),
    status: int4(event.status),
    bytesIn: count(event.bytesIn),
    bytesOut: count(event.bytesOut),
    latencyMs: int4(event.latencyMs),
    occurredAt: event.occurredAt ?? new Date(),
    model: event.model?.slice(0, 200) ?? null,
    tokensIn: event.tokensIn == null ? null : int4(event.tokensIn),
    tokensOut: event.tokensOut == null ? null : int4(event.tokensOut),
    conversationId: event.conversationId?.slice(0, 200) ?? null,
    aiConfigId: uuidOrNull(event.aiConfigId),
    provider: event.provider?.slice(0, 20) ?? null,
    timeToFirstTokenMs: event.timeToFirstTokenMs == null ? null : int4(event.timeToFirstTokenMs),
    policyOutcome: event.policyOutcome?.slice(0, 20) ?? null,
    attempts: event.attempts ?? null,
  };
}

const uuidOrNull = (value: string | null | undefined) => (value && UUID.test(value) ? value : null);

/** A non-negative whole number within PostgreSQL's `int`. */
const int4 = (value: number) => Math.min(INT4_MAX, Math.max(0, Math.round(value) || 0));

/** A non-negative whole number that a `bigint` column and a JS number both hold exactly. */
const count = (value: number) => Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.round(value) || 0));
