/**
 * JOB-5's measurements: one timed call per bridge node (GET of its /healthz)
 * and per validated bucket (HeadBucket or its equivalent, through
 * providers/storage), stored as at most one result per target and minute.
 */

import type { ObjectStore } from '../../providers/storage/object-store.ts';
import type { ProbeTargetKind } from '../db/entities/index.ts';
import type { EntityManager } from '../db/orm.ts';

export interface ProbeOutcome {
  ok: boolean;
  /** Until the answer or the failure; a timeout counts its full length. */
  latencyMs: number;
  reason: string | null;
}

export interface ProbeRecord extends ProbeOutcome {
  targetKind: ProbeTargetKind;
  targetId: string;
}

/** How many heartbeats a node may miss before it counts as unavailable. */
export const missedHeartbeatsAllowed = 3;

class ProbeTimeout extends Error {}

/** Runs `call`, timing it; a rejection or `timeoutMs` without an answer is a failed probe with its reason. */
export async function timedProbe(call: () => Promise<unknown>, timeoutMs: number): Promise<ProbeOutcome> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([call(), timeout]);
    return { ok: true, latencyMs: elapsedSince(started), reason: null };
  } catch (error) {
    return { ok: false, latencyMs: elapsedSince(started), reason: reasonOf(error) };
  } finally {
    clearTimeout(timer);
  }
}

const elapsedSince = (started: number) => Math.max(0, Math.round(performance.now() - started));

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message || error.name;
  return (typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message).slice(
    0,
    500,
  );
}

/** A node answers its /healthz with a 2xx. */
export function probeHealthEndpoint(healthUrl: string, timeoutMs: number): Promise<ProbeOutcome> {
  return timedProbe(async () => {
    const response = await fetch(healthUrl, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${healthUrl} answered ${response.status}`);
  }, timeoutMs);
}

/**
 * The cheapest call that proves the backend serves the bucket with its
 * credentials. The store is opened inside the probe: credentials that do not
 * open are a failed probe too.
 */
export function probeBucketAccess(
  openStore: () => Promise<Pick<ObjectStore, 'checkAccess'>>,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  return timedProbe(async () => (await openStore()).checkAccess(), timeoutMs);
}

/** A registered node that has not stopped on purpose, and whether it has gone silent. */
export interface ProbedNode {
  id: string;
  healthUrl: string;
  silentSince: Date | null;
}

/**
 * Nodes to probe: every one not stopped gracefully that was seen within
 * `forgetAfterDays` (a node gone for longer is no longer measured). A node
 * that missed its heartbeats is silent: it counts as unavailable unprobed.
 */
export async function nodesToProbe(em: EntityManager, forgetAfterDays: number): Promise<ProbedNode[]> {
  const rows = await em
    .getConnection()
    .execute<{ id: string; health_url: string; silent_since: Date | string | null }[]>(
      `select id, health_url,
            case when last_seen_at < now() - make_interval(secs => heartbeat_seconds * ?) then last_seen_at end
              as silent_since
     from bridge_nodes
     where stopped_at is null and last_seen_at > now() - make_interval(days => ?)
     order by label, address`,
      [missedHeartbeatsAllowed, forgetAfterDays],
    );
  return rows.map((row) => ({
    id: row.id,
    healthUrl: row.health_url,
    silentSince: row.silent_since === null ? null : new Date(row.silent_since),
  }));
}

/** Stores the results as the given minute's; a target probed twice in one minute keeps the later result. */
export async function recordProbeResults(
  em: EntityManager,
  minute: Date,
  results: ProbeRecord[],
): Promise<void> {
  if (results.length === 0) return;
  const values = results.map(() => '(?, ?, ?, ?, ?, ?, now())').join(', ');
  const parameters = results.flatMap((result) => [
    result.targetKind,
    result.targetId,
    minute,
    result.ok,
    result.latencyMs,
    result.reason,
  ]);
  await em.getConnection().execute(
    `insert into probe_results (target_kind, target_id, minute, ok, latency_ms, reason, probed_at)
     values ${values}
     on conflict (target_kind, target_id, minute) do update set
       ok = excluded.ok, latency_ms = excluded.latency_ms, reason = excluded.reason, probed_at = excluded.probed_at`,
    parameters,
  );
}

/** Deletes results older than the retention; returns how many. */
export async function pruneProbeResults(
  em: EntityManager,
  retentionDays: number,
  now = new Date(),
): Promise<number> {
  const before = new Date(now.getTime() - retentionDays * 86_400_000);
  const deleted = await em
    .getConnection()
    .execute<{ affectedRows: number }>('delete from probe_results where minute < ?', [before], 'run');
  return deleted.affectedRows;
}

/** The start of the minute `instant` falls in. */
export const minuteOf = (instant: Date) => new Date(Math.floor(instant.getTime() / 60_000) * 60_000);
