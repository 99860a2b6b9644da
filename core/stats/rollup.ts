/**
 * One stats rollup run (JOB-4): finds the minutes that received events since
 * the last run (by insertion: event id above the watermark, so late events
 * with an old `occurred_at` are found too), rebuilds each of those minutes
 * from its raw events and each day they fall in from its minutes, prunes
 * what is past retention, and moves the watermark.
 *
 * Idempotent by construction: a window is always rebuilt whole from its
 * sources (delete, then insert), never incremented, inside a transaction that
 * holds one advisory lock, so a re-run or two overlapping runs write the
 * same rows once.
 */
import type { QueryResult } from '@mikro-orm/core';
import type { EntityManager } from '../db/orm.ts';
import {
  aiRollup,
  dayFromMinutesSql,
  deleteWindowSql,
  minuteFromRawSql,
  type RollupTables,
  storageRollup,
} from './rollup-tables.ts';

export interface RollupSettings {
  /** Raw events are kept this many days (whole UTC days), then pruned. */
  rawRetentionDays: number;
  /** Minute aggregates are kept this many days; day aggregates are kept. */
  minuteRetentionDays: number;
  /**
   * The watermark passes only events written at least this long ago: a batch
   * still being written may hold ids below ones already visible.
   */
  settleSeconds: number;
}

export interface RollupResult {
  minutesRebuilt: number;
  daysRebuilt: number;
  rawEventsPruned: number;
  minuteRowsPruned: number;
  watermarkId: string;
}

export interface RollupOptions {
  now?: Date;
  /** Called after each window, so a long run can heartbeat. */
  onProgress?: (done: number, total: number) => void;
}

const STATE_NAME = 'usage';
const ROLLUP_LOCK_ID = 704_236_613;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

const bothTables = [storageRollup, aiRollup];

/** A window length, the table of each kind that holds it, and the statement that rebuilds one. */
interface Grain {
  lengthMs: number;
  tableOf(tables: RollupTables): string;
  rebuildSql(tables: RollupTables): string;
}

const minuteGrain: Grain = {
  lengthMs: MINUTE_MS,
  tableOf: (tables) => tables.minuteTable,
  rebuildSql: minuteFromRawSql,
};

const dayGrain: Grain = {
  lengthMs: DAY_MS,
  tableOf: (tables) => tables.dayTable,
  rebuildSql: dayFromMinutesSql,
};

interface RollupState {
  watermarkId: string;
  rawPrunedBefore: Date | null;
}

export async function rollUpUsage(
  em: EntityManager,
  settings: RollupSettings,
  options: RollupOptions = {},
): Promise<RollupResult> {
  const now = options.now ?? new Date();
  const db = em.fork();
  const start = await readState(db);
  const settledId = await lastSettledEventId(db, start.watermarkId, settings.settleSeconds);
  const minutes = await minutesWithNewEvents(db, start);
  const days = [...new Set(minutes.map((minute) => startOfUtcDay(minute).getTime()))].map(
    (time) => new Date(time),
  );
  const total = minutes.length + days.length;
  let done = 0;
  let minutesRebuilt = 0;
  let daysRebuilt = 0;
  for (const minute of minutes) {
    if (await rebuildWindow(db, minute, minuteGrain)) minutesRebuilt++;
    options.onProgress?.(++done, total);
  }
  for (const day of days) {
    if (await rebuildWindow(db, day, dayGrain)) daysRebuilt++;
    options.onProgress?.(++done, total);
  }
  const pruned = await prune(db, settings, now);
  const watermarkId = await advanceWatermark(db, settledId);
  return { minutesRebuilt, daysRebuilt, ...pruned, watermarkId };
}

export function startOfUtcDay(instant: Date): Date {
  return new Date(Math.floor(instant.getTime() / DAY_MS) * DAY_MS);
}

async function readState(em: EntityManager): Promise<RollupState> {
  await em.execute('insert into usage_rollup_state (name) values (?) on conflict do nothing', [STATE_NAME]);
  // Raw queries return timestamps as PostgreSQL's text.
  const [row] = await em.execute<{ watermark_id: string; raw_pruned_before: string | null }[]>(
    'select watermark_id, raw_pruned_before from usage_rollup_state where name = ?',
    [STATE_NAME],
  );
  const prunedBefore = row?.raw_pruned_before;
  return {
    watermarkId: String(row?.watermark_id ?? '0'),
    rawPrunedBefore: prunedBefore ? new Date(prunedBefore) : null,
  };
}

async function lastSettledEventId(em: EntityManager, watermarkId: string, settleSeconds: number) {
  const [row] = await em.execute<{ id: string | null }[]>(
    `select max(id) as id from usage_events
     where id > ? and recorded_at <= now() - make_interval(secs => ?)`,
    [watermarkId, settleSeconds],
  );
  return row?.id ?? null;
}

/** Minutes holding events above the watermark, oldest first; minutes whose raw events are pruned are left out. */
async function minutesWithNewEvents(em: EntityManager, state: RollupState): Promise<Date[]> {
  const rows = await em.execute<{ minute: string }[]>(
    `select distinct date_trunc('minute', occurred_at, 'UTC') as minute from usage_events
     where id > ? and occurred_at >= coalesce(?::timestamptz, '-infinity') order by minute`,
    [state.watermarkId, state.rawPrunedBefore],
  );
  return rows.map((row) => new Date(row.minute));
}

/**
 * Replaces one window's rows in both tables, under the rollup lock. Skipped
 * (false) when its raw events were pruned meanwhile by an overlapping run.
 */
async function rebuildWindow(em: EntityManager, windowStart: Date, grain: Grain): Promise<boolean> {
  const windowEnd = new Date(windowStart.getTime() + grain.lengthMs);
  return em.fork().transactional(async (tx) => {
    await tx.execute('select pg_advisory_xact_lock(?)', [ROLLUP_LOCK_ID]);
    const { rawPrunedBefore } = await readState(tx);
    if (rawPrunedBefore && windowStart < rawPrunedBefore) return false;
    for (const tables of bothTables) {
      await tx.execute(deleteWindowSql(grain.tableOf(tables)), [windowStart]);
      await tx.execute(grain.rebuildSql(tables), [windowStart, windowStart, windowEnd]);
    }
    return true;
  });
}

/** Raw events before the retention's first whole day, and minute rows before theirs. */
async function prune(em: EntityManager, settings: RollupSettings, now: Date) {
  const rawCutoff = startOfUtcDay(new Date(now.getTime() - settings.rawRetentionDays * DAY_MS));
  const minuteCutoff = startOfUtcDay(new Date(now.getTime() - settings.minuteRetentionDays * DAY_MS));
  return em.fork().transactional(async (tx) => {
    await tx.execute('select pg_advisory_xact_lock(?)', [ROLLUP_LOCK_ID]);
    const raw = await tx.execute<QueryResult>(
      'delete from usage_events where occurred_at < ?',
      [rawCutoff],
      'run',
    );
    let minuteRowsPruned = 0;
    for (const tables of bothTables) {
      const deleted = await tx.execute<QueryResult>(
        `delete from ${tables.minuteTable} where window_start < ?`,
        [minuteCutoff],
        'run',
      );
      minuteRowsPruned += deleted.affectedRows;
    }
    await tx.execute(
      `update usage_rollup_state
       set raw_pruned_before = greatest(coalesce(raw_pruned_before, '-infinity'), ?::timestamptz)
       where name = ?`,
      [rawCutoff, STATE_NAME],
    );
    return { rawEventsPruned: raw.affectedRows, minuteRowsPruned };
  });
}

async function advanceWatermark(em: EntityManager, settledId: string | null): Promise<string> {
  const [row] = await em.execute<{ watermark_id: string }[]>(
    `update usage_rollup_state
     set watermark_id = greatest(watermark_id, coalesce(?::bigint, 0)), last_run_at = now()
     where name = ? returning watermark_id`,
    [settledId, STATE_NAME],
  );
  return String(row?.watermark_id ?? '0');
}
