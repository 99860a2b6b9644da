import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { UsageEvent } from '../../core/db/entities/index.ts';
import { createLogger } from '../../core/logging.ts';
import { BoundedQueue } from '../../core/metering/bounded-queue.ts';
import {
  type UsageEventInput,
  type UsageEventStore,
  UsageRecorder,
  type UsageRecorderOptions,
} from '../../core/metering/usage-recorder.ts';

type Row = Record<string, unknown>;

/** An entity manager that keeps the batches it is given, and can be made to fail or hang. */
class FakeStore implements UsageEventStore {
  readonly batches: Row[][] = [];
  failuresLeft = 0;
  #hold: Promise<void> | undefined;
  #release: (() => void) | undefined;

  async insertMany(entity: unknown, rows?: unknown): Promise<never[]> {
    expect(entity).toBe(UsageEvent);
    await this.#hold;
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    }
    this.batches.push([...(rows as Row[])]);
    return [];
  }

  hang(): void {
    this.#hold = new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  resume(): void {
    this.#hold = undefined;
    this.#release?.();
  }

  get written(): Row[] {
    return this.batches.flat();
  }
}

function captureLogs() {
  const lines: { level: number; msg: string }[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, log: createLogger({ level: 'debug', component: 'test', destination }) };
}

const organizationId = randomUUID();
const repositoryId = randomUUID();

function event(index: number, overrides: Partial<UsageEventInput> = {}): UsageEventInput {
  return {
    api: 'S3',
    organizationId,
    repositoryId,
    operation: 'GetObject',
    status: 200,
    bytesIn: 0,
    bytesOut: index,
    latencyMs: 3,
    ...overrides,
  };
}

function setup(options: Partial<UsageRecorderOptions> = {}) {
  const store = new FakeStore();
  const metrics = new Registry();
  const { lines, log } = captureLogs();
  const recorder = new UsageRecorder({ em: store, log, metrics, ...options });
  const counter = async (name: string, labels: Record<string, string> = {}) => {
    const metric = await metrics.getSingleMetric(name)?.get();
    const matching = metric?.values.filter((value) =>
      Object.entries(labels).every(([label, wanted]) => value.labels[label] === wanted),
    );
    return (matching ?? []).reduce((sum, value) => sum + value.value, 0);
  };
  return { store, recorder, lines, counter };
}

describe('UsageRecorder', () => {
  it('writes 1,200 events as three multi-row inserts of at most 500, in order', async () => {
    const { store, recorder, counter } = setup();
    for (let index = 0; index < 1200; index++) recorder.record(event(index));
    expect(store.batches).toHaveLength(0);
    await recorder.flush();
    expect(store.batches.map((batch) => batch.length)).toEqual([500, 500, 200]);
    expect(store.written.map((row) => row.bytesOut)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
    expect(recorder.buffered).toBe(0);
    expect(await counter('skybridge_usage_events_recorded_total')).toBe(1200);
    expect(await counter('skybridge_usage_events_flushed_total')).toBe(1200);
  });

  it('fills every column, with nulls for what the event does not carry', async () => {
    const { store, recorder } = setup();
    const occurredAt = new Date('2026-11-22T10:00:00Z');
    recorder.record(event(7, { occurredAt, keyId: randomUUID() }));
    await recorder.flush();
    expect(store.written[0]).toEqual({
      api: 'S3',
      organizationId,
      repositoryId,
      bucketId: null,
      keyId: expect.any(String),
      operation: 'GetObject',
      status: 200,
      bytesIn: 0,
      bytesOut: 7,
      latencyMs: 3,
      occurredAt,
      model: null,
      tokensIn: null,
      tokensOut: null,
      conversationId: null,
      aiConfigId: null,
      provider: null,
      timeToFirstTokenMs: null,
      policyOutcome: null,
      attempts: null,
    });
  });

  it('never makes the request path wait: record() is synchronous, even while the database hangs', async () => {
    const { store, recorder } = setup({ flushIntervalMs: 5 });
    store.hang();
    recorder.start();
    recorder.record(event(1));
    const flushing = recorder.flush();
    const started = performance.now();
    for (let index = 0; index < 10_000; index++) expect(recorder.record(event(index))).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(store.batches).toHaveLength(0);
    store.resume();
    await flushing;
    expect(store.written).toHaveLength(10_001);
    await recorder.stop();
  });

  it('flushes on its timer once started', async () => {
    const { store, recorder } = setup({ flushIntervalMs: 10 });
    recorder.start();
    recorder.record(event(1));
    recorder.record(event(2));
    await vi.waitFor(() => expect(store.written).toHaveLength(2));
    await recorder.stop();
  });

  it('drops the oldest events when the buffer is full, and counts them', async () => {
    const { store, recorder, counter } = setup({ maxBuffered: 10 });
    for (let index = 0; index < 15; index++) recorder.record(event(index));
    expect(recorder.buffered).toBe(10);
    expect(await counter('skybridge_usage_events_dropped_total', { reason: 'buffer_full' })).toBe(5);
    await recorder.flush();
    expect(store.written.map((row) => row.bytesOut)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });

  it('keeps the events through a database outage, logs once, and writes them when it recovers', async () => {
    const { store, recorder, lines, counter } = setup({ maxBatch: 4 });
    for (let index = 0; index < 10; index++) recorder.record(event(index));
    store.failuresLeft = 3;
    await expect(recorder.flush()).rejects.toThrow(/ECONNREFUSED/);
    await expect(recorder.flush()).rejects.toThrow(/ECONNREFUSED/);
    for (let index = 10; index < 12; index++) recorder.record(event(index));
    await expect(recorder.flush()).rejects.toThrow(/ECONNREFUSED/);
    expect(recorder.buffered).toBe(12);
    expect(store.batches).toHaveLength(0);
    expect(lines.filter((line) => line.level === 50)).toHaveLength(1);
    expect(await counter('skybridge_usage_event_write_failures_total')).toBe(3);

    await recorder.flush();
    expect(store.written.map((row) => row.bytesOut)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(lines.filter((line) => /written again/.test(line.msg))).toHaveLength(1);
    expect(await counter('skybridge_usage_events_dropped_total')).toBe(0);
  });

  it('stays within maxBuffered during an outage, dropping the oldest of the failed batch', async () => {
    const { store, recorder, counter } = setup({ maxBatch: 5, maxBuffered: 10 });
    for (let index = 0; index < 10; index++) recorder.record(event(index));
    store.hang();
    store.failuresLeft = 1;
    const failing = recorder.flush(); // takes events 0–4 out of the queue
    for (let index = 10; index < 15; index++) recorder.record(event(index));
    store.resume();
    await expect(failing).rejects.toThrow();
    expect(recorder.buffered).toBe(10);
    expect(await counter('skybridge_usage_events_dropped_total', { reason: 'buffer_full' })).toBe(5);
    await recorder.flush();
    expect(store.written.map((row) => row.bytesOut)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });

  it('lets concurrent flushes share one drain', async () => {
    const { store, recorder } = setup({ maxBatch: 2 });
    for (let index = 0; index < 6; index++) recorder.record(event(index));
    await Promise.all([recorder.flush(), recorder.flush(), recorder.flush()]);
    expect(store.batches.map((batch) => batch.length)).toEqual([2, 2, 2]);
  });

  it('rejects events that would fail their batch, and fits values to their columns', async () => {
    const { store, recorder, counter } = setup();
    recorder.record(event(1, { repositoryId: 'not-a-uuid' }));
    recorder.record(event(2, { api: 'FTP' as UsageEventInput['api'] }));
    recorder.record(
      event(3, {
        operation: 'x'.repeat(100),
        status: Number.NaN,
        latencyMs: 1e12,
        bytesIn: -5,
        bucketId: 'nope',
        model: 'm'.repeat(300),
      }),
    );
    expect(await counter('skybridge_usage_events_dropped_total', { reason: 'invalid' })).toBe(2);
    await recorder.flush();
    expect(store.written).toHaveLength(1);
    expect(store.written[0]).toMatchObject({
      operation: 'x'.repeat(64),
      status: 0,
      latencyMs: 2_147_483_647,
      bytesIn: 0,
      bucketId: null,
      model: 'm'.repeat(200),
    });
  });

  it('writes what is left on stop, and counts what a dead database loses', async () => {
    const { store, recorder, counter } = setup();
    recorder.start();
    recorder.record(event(1));
    await recorder.stop();
    expect(store.written).toHaveLength(1);

    recorder.record(event(2));
    store.failuresLeft = 1;
    await recorder.stop();
    expect(recorder.buffered).toBe(0);
    expect(await counter('skybridge_usage_events_dropped_total', { reason: 'shutdown' })).toBe(1);
  });

  it('refuses a batch size PostgreSQL cannot bind in one statement', () => {
    expect(() => setup({ maxBatch: 10_000 })).toThrow(RangeError);
  });
});

describe('BoundedQueue', () => {
  it('is first-in-first-out across the ring boundary', () => {
    const queue = new BoundedQueue<number>(3);
    queue.push(1);
    queue.push(2);
    expect(queue.take(1)).toEqual([1]);
    queue.push(3);
    queue.push(4);
    expect(queue.size).toBe(3);
    expect(queue.take(10)).toEqual([2, 3, 4]);
    expect(queue.size).toBe(0);
  });

  it('drops the oldest item when full', () => {
    const queue = new BoundedQueue<number>(2);
    expect(queue.push(1)).toBe(0);
    expect(queue.push(2)).toBe(0);
    expect(queue.push(3)).toBe(1);
    expect(queue.take(2)).toEqual([2, 3]);
  });

  it('puts taken items back ahead of newer ones, dropping the oldest that do not fit', () => {
    const queue = new BoundedQueue<number>(4);
    for (const item of [1, 2, 3]) queue.push(item);
    const taken = queue.take(3);
    queue.push(4);
    queue.push(5);
    expect(queue.putBack(taken)).toBe(1);
    expect(queue.take(4)).toEqual([2, 3, 4, 5]);
  });
});
