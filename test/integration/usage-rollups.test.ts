/**
 * JOB-4: raw usage events into minute and day aggregates on the real
 * PostgreSQL, written by the production usage recorder. A re-run and two
 * overlapping runs count once, late events are folded in, old rows are
 * pruned, and the Temporal workflow runs the same activity.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EntityManager } from '../../core/db/orm.ts';
import { type UsageEventInput, UsageRecorder } from '../../core/metering/usage-recorder.ts';
import { latencyBucketOf, latencyBucketSql } from '../../core/stats/latency-histogram.ts';
import { type RollupSettings, rollUpUsage, startOfUtcDay } from '../../core/stats/rollup.ts';
import { ensureUsageRollupSchedule } from '../../workers/usage-rollup-schedule.ts';
import { type UsageRollupState, usageRollupSettleSeconds } from '../../workflows/definitions.ts';
import { adminApi, quietLogger, startTestStack, type TestStack } from '../helpers/context.ts';

const settings: RollupSettings = { rawRetentionDays: 7, minuteRetentionDays: 30, settleSeconds: 0 };
const MINUTE = 60_000;
const DAY = 86_400_000;
const aggregateTables = ['storage_usage_minutes', 'storage_usage_days', 'ai_usage_minutes', 'ai_usage_days'];

/** Each latency's bucket counted once: the histogram the rollup must produce. */
function histogramOf(latencies: number[]): number[] {
  const histogram: number[] = [];
  for (const latency of latencies) {
    const index = latencyBucketOf(latency);
    for (let i = histogram.length; i <= index; i++) histogram.push(0);
    histogram[index] = (histogram[index] ?? 0) + 1;
  }
  return histogram;
}

describe('usage rollups', () => {
  let stack: TestStack;
  let em: EntityManager;
  let recorder: UsageRecorder;
  let organizationId: string;
  let workspaceId: string;
  let repositoryId: string;
  const bucketId = randomUUID();
  const keyId = randomUUID();
  /** Two whole minutes in the past, in one UTC day: M1 and M2 = M1 + 1 minute. */
  let m1: Date;
  let m2: Date;

  const storageEvent = (at: Date, fields: Partial<UsageEventInput>): UsageEventInput => ({
    api: 'S3',
    organizationId,
    repositoryId,
    bucketId,
    keyId,
    operation: 'PutObject',
    status: 200,
    bytesIn: 0,
    bytesOut: 0,
    latencyMs: 10,
    occurredAt: at,
    ...fields,
  });

  const aiEvent = (at: Date, fields: Partial<UsageEventInput>): UsageEventInput => ({
    ...storageEvent(at, { api: 'OPENAI', bucketId: null, operation: 'ChatCompletions' }),
    model: 'gpt-4o-mini',
    provider: 'OPENAI',
    aiConfigId: null,
    conversationId: 'conv-1',
    policyOutcome: 'pass',
    tokensIn: 10,
    tokensOut: 5,
    timeToFirstTokenMs: 30,
    ...fields,
  });

  async function record(events: UsageEventInput[]) {
    for (const event of events) recorder.record(event);
    await recorder.flush();
  }

  /** Every aggregate row, without its id, in a stable order. */
  async function snapshot() {
    const tables: Record<string, string[]> = {};
    for (const table of aggregateTables) {
      const rows = await em.fork().execute<Record<string, unknown>[]>(`select * from ${table}`);
      tables[table] = rows.map(({ id: _id, ...row }) => JSON.stringify(row, Object.keys(row).sort())).sort();
    }
    return tables;
  }

  const at = (minute: Date, second: number) => new Date(minute.getTime() + second * 1000);

  async function storageRow(table: string, windowStart: Date, operation: string) {
    const rows = await em
      .fork()
      .execute(`select * from ${table} where window_start = ? and operation = ? and repository_id = ?`, [
        windowStart,
        operation,
        repositoryId,
      ]);
    expect(rows).toHaveLength(1);
    return rows[0] as Record<string, unknown>;
  }

  beforeAll(async () => {
    stack = await startTestStack();
    em = stack.orm.em;
    const call = await adminApi(stack);
    const repository = (await call('POST', '/repo', { name: 'rolled-up' })).body;
    repositoryId = repository.id;
    workspaceId = repository.workspaceId;
    organizationId = (await call('GET', '/organization')).body.id;
    recorder = new UsageRecorder({ em, log: quietLogger(), flushIntervalMs: 3_600_000 });
    // Two minutes ago at the latest, both in the same UTC day as each other.
    const twoMinutesAgo = Math.floor((Date.now() - 2 * MINUTE) / MINUTE) * MINUTE;
    const sameDay = twoMinutesAgo - startOfUtcDay(new Date(twoMinutesAgo)).getTime() >= MINUTE;
    m1 = new Date(sameDay ? twoMinutesAgo - MINUTE : twoMinutesAgo);
    m2 = new Date(m1.getTime() + MINUTE);
  });
  afterAll(async () => {
    await recorder?.stop();
    await stack?.close();
  });

  it('buckets latencies in SQL exactly as in TypeScript', async () => {
    const latencies = [0, 1, 2, 3, 7, 8, 9, 10, 16, 99, 100, 1000, 1024, 65_536, 4_000_000, 2 ** 31 - 1];
    const rows = await em.fork().execute<{ latency: number; bucket: number }[]>(
      `select latency, ${latencyBucketSql('latency')} as bucket from unnest(?::int[]) as latency`,
      // An array literal: MikroORM would spread a JS array into a list of parameters.
      [`{${latencies.join(',')}}`],
    );
    expect(rows.map((row) => [row.latency, row.bucket])).toEqual(
      latencies.map((latency) => [latency, latencyBucketOf(latency)]),
    );
  });

  it('sums storage and AI events per minute and per day, with their latency histograms', async () => {
    await record([
      storageEvent(at(m1, 1), { bytesIn: 100, latencyMs: 10 }),
      storageEvent(at(m1, 2), { bytesIn: 100, latencyMs: 20 }),
      storageEvent(at(m1, 3), { bytesIn: 100, latencyMs: 30 }),
      storageEvent(at(m1, 4), { operation: 'GetObject', bytesOut: 1000, latencyMs: 400 }),
      storageEvent(at(m1, 5), { operation: 'GetObject', status: 404, latencyMs: 5 }),
      storageEvent(at(m1, 6), { operation: 'GetObject', status: 503, latencyMs: 50 }),
      storageEvent(at(m2, 1), { bytesIn: 7, latencyMs: 12 }),
      aiEvent(at(m1, 7), { latencyMs: 300 }),
      aiEvent(at(m2, 8), { latencyMs: 500, timeToFirstTokenMs: 50 }),
      aiEvent(at(m2, 9), { status: 400, policyOutcome: 'blocked', tokensIn: 3, tokensOut: 0, latencyMs: 2 }),
    ]);
    const result = await rollUpUsage(em, settings);
    expect(result).toMatchObject({ minutesRebuilt: 2, daysRebuilt: 1, rawEventsPruned: 0 });

    expect(await storageRow('storage_usage_minutes', m1, 'PutObject')).toMatchObject({
      organization_id: organizationId,
      workspace_id: workspaceId,
      bucket_id: bucketId,
      key_id: keyId,
      requests: '3',
      errors: '0',
      bytes_in: '300',
      latency_sum_ms: '60',
      latency_max_ms: 30,
      latency_histogram: histogramOf([10, 20, 30]).map(String),
    });
    expect(await storageRow('storage_usage_minutes', m1, 'GetObject')).toMatchObject({
      requests: '3',
      errors: '2',
      server_errors: '1',
      bytes_out: '1000',
      latency_histogram: histogramOf([400, 5, 50]).map(String),
    });
    const day = startOfUtcDay(m1);
    expect(await storageRow('storage_usage_days', day, 'PutObject')).toMatchObject({
      requests: '4',
      bytes_in: '307',
      latency_sum_ms: '72',
      latency_histogram: histogramOf([10, 20, 30, 12]).map(String),
    });
    const aiDay = await em.fork().execute(
      `select policy_outcome, requests, errors, tokens_in, tokens_out, time_to_first_token_sum_ms,
                time_to_first_token_count, conversation_id, model
         from ai_usage_days where window_start = ? order by policy_outcome`,
      [day],
    );
    expect(aiDay).toEqual([
      {
        policy_outcome: 'blocked',
        requests: '1',
        errors: '1',
        tokens_in: '3',
        tokens_out: '0',
        time_to_first_token_sum_ms: '30',
        time_to_first_token_count: '1',
        conversation_id: 'conv-1',
        model: 'gpt-4o-mini',
      },
      {
        policy_outcome: 'pass',
        requests: '2',
        errors: '0',
        tokens_in: '20',
        tokens_out: '10',
        time_to_first_token_sum_ms: '80',
        time_to_first_token_count: '2',
        conversation_id: 'conv-1',
        model: 'gpt-4o-mini',
      },
    ]);
  });

  it('counts once when run again, and when two runs overlap', async () => {
    const once = await snapshot();
    expect(once.storage_usage_minutes?.length).toBeGreaterThan(0);
    // New events in the same windows, rolled up by two runs at the same time, then by a third.
    await record([storageEvent(at(m2, 20), { bytesIn: 1, latencyMs: 3 })]);
    await Promise.all([rollUpUsage(em, settings), rollUpUsage(em, settings)]);
    const overlapped = await snapshot();
    await rollUpUsage(em, settings);
    expect(await snapshot()).toEqual(overlapped);
    expect(await storageRow('storage_usage_days', startOfUtcDay(m1), 'PutObject')).toMatchObject({
      requests: '5',
      bytes_in: '308',
    });
  });

  it('recomputes windows of events whose batch may still be settling, without counting them twice', async () => {
    await record([storageEvent(at(m2, 30), { bytesIn: 2, latencyMs: 3 })]);
    const settling = { ...settings, settleSeconds: usageRollupSettleSeconds };
    const first = await rollUpUsage(em, settling);
    const second = await rollUpUsage(em, settling);
    // The fresh event stays above the watermark, so its minute is rebuilt by every run.
    expect(second.watermarkId).toBe(first.watermarkId);
    expect(second.minutesRebuilt).toBe(1);
    expect(await storageRow('storage_usage_days', startOfUtcDay(m1), 'PutObject')).toMatchObject({
      requests: '6',
      bytes_in: '310',
    });
  });

  it('folds a late event into the minute and day it happened in', async () => {
    await rollUpUsage(em, settings);
    const late = new Date(m1.getTime() - 5 * MINUTE);
    await record([storageEvent(at(late, 0), { operation: 'DeleteObject', latencyMs: 8 })]);
    const result = await rollUpUsage(em, settings);
    expect(result.minutesRebuilt).toBe(1);
    expect(await storageRow('storage_usage_minutes', late, 'DeleteObject')).toMatchObject({ requests: '1' });
    expect(await storageRow('storage_usage_days', startOfUtcDay(late), 'DeleteObject')).toMatchObject({
      requests: '1',
    });
  });

  it('prunes raw events past retention, keeps day figures, and ignores events older than what was pruned', async () => {
    const before = await snapshot();
    const later = new Date(Date.now() + (settings.rawRetentionDays + 2) * DAY);
    const pruning = await rollUpUsage(em, settings, { now: later });
    expect(pruning.rawEventsPruned).toBeGreaterThanOrEqual(12);
    const [left] = await em.fork().execute<{ count: string }[]>('select count(*) from usage_events');
    expect(left?.count).toBe('0');
    expect(await snapshot()).toEqual(before);

    // A straggler for a day whose raw events are gone cannot rebuild (and empty) that day.
    await record([storageEvent(at(m1, 59), { latencyMs: 1 })]);
    const straggler = await rollUpUsage(em, settings, { now: later });
    expect(straggler).toMatchObject({ minutesRebuilt: 0, daysRebuilt: 0, rawEventsPruned: 1 });
    expect(await snapshot()).toEqual(before);

    const minutesGone = await rollUpUsage(em, settings, {
      now: new Date(Date.now() + (settings.minuteRetentionDays + 2) * DAY),
    });
    expect(minutesGone.minuteRowsPruned).toBe(
      (before.storage_usage_minutes?.length ?? 0) + (before.ai_usage_minutes?.length ?? 0),
    );
    expect((await snapshot()).storage_usage_days).toEqual(before.storage_usage_days);
  });

  it('runs as a Temporal workflow on the worker', async () => {
    const state = await stack.temporal.workflow.execute('rollupUsageWorkflow', {
      workflowId: `usage-rollup-${randomUUID()}`,
      taskQueue: stack.taskQueue,
      args: [settings],
    });
    expect(state as UsageRollupState).toMatchObject({ phase: 'DONE', result: { minutesRebuilt: 0 } });
  });

  it('is scheduled by the worker: created once, updated in place, and its runs roll up', async () => {
    const scheduleId = `usage-rollup-schedule-${randomUUID()}`;
    const scheduled = { taskQueue: stack.taskQueue, intervalSeconds: 3600, ...settings };
    await ensureUsageRollupSchedule(stack.temporal, scheduled, scheduleId);
    await ensureUsageRollupSchedule(stack.temporal, { ...scheduled, intervalSeconds: 120 }, scheduleId);
    const handle = stack.temporal.schedule.getHandle(scheduleId);
    try {
      const description = await handle.describe();
      expect(description.spec.intervals?.[0]?.every).toBe(120_000);
      expect(description.action.type === 'startWorkflow' && description.action.args).toEqual([
        { ...settings, settleSeconds: usageRollupSettleSeconds },
      ]);
      await handle.trigger();
      let workflowId: string | undefined;
      for (let attempt = 0; attempt < 100 && !workflowId; attempt++) {
        const run = (await handle.describe()).info.recentActions[0]?.action;
        workflowId = run && 'workflow' in run ? run.workflow.workflowId : undefined;
        if (!workflowId) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(workflowId).toMatch(/^usage-rollup-/);
      const state = (await stack.temporal.workflow.getHandle(workflowId!).result()) as UsageRollupState;
      expect(state.phase).toBe('DONE');
    } finally {
      await handle.delete();
    }
  });
});
