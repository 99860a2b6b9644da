/**
 * OBS-1's `/stats/nodes/minute`: each bridge node with its probe results per
 * minute, their summary over the range, and its reputation, so that an app
 * can pick the lowest-latency node (the seeds' `selectEndpoint()`).
 */
import type { EntityManager } from '../db/orm.ts';
import { loadNodeReputations, presentReputation } from '../sla/reputation.ts';
import { missedHeartbeatsAllowed } from './probes.ts';

export type NodeStatus = 'RUNNING' | 'UNAVAILABLE' | 'STOPPED';

interface NodeRow {
  id: string;
  label: string;
  api: string;
  region: string;
  provider: string;
  address: string;
  openai_address: string | null;
  version: string;
  /** Timestamps as the driver hands raw rows over: Date objects or ISO text. */
  started_at: Date | string;
  last_seen_at: Date | string;
  stopped_at: Date | string | null;
  silent: boolean;
}

interface ProbeRow {
  target_id: string;
  minute: Date | string;
  ok: boolean;
  latency_ms: number;
}

export interface MinutePoint {
  minute: string;
  /** Null when the node was not probed that minute. */
  latencyMs: number | null;
  available: boolean | null;
}

const MINUTE_MS = 60_000;

/** Nodes seen during the range (or still running), by label. */
export async function nodeMinuteStats(em: EntityManager, range: { from: Date; to: Date }) {
  const connection = em.getConnection();
  const nodes = await connection.execute<NodeRow[]>(
    `select id, label, api, region, provider, address, openai_address, version, started_at, last_seen_at, stopped_at,
            last_seen_at < now() - make_interval(secs => heartbeat_seconds * ?) as silent
     from bridge_nodes where last_seen_at >= ? and started_at < ?
     order by label, address`,
    [missedHeartbeatsAllowed, range.from, range.to],
  );
  if (nodes.length === 0) return [];
  const ids = `{${nodes.map((node) => node.id).join(',')}}`;
  const probes = await connection.execute<ProbeRow[]>(
    `select target_id, minute, ok, latency_ms from probe_results
     where target_kind = 'NODE' and target_id = any(?::uuid[]) and minute >= ? and minute < ?
     order by minute`,
    [ids, range.from, range.to],
  );
  const reputations = await loadNodeReputations(
    em,
    nodes.map((node) => node.id),
  );
  return nodes.map((node) => {
    const own = probes.filter((probe) => probe.target_id === node.id);
    return {
      nodeId: node.id,
      label: node.label,
      api: node.api,
      region: node.region,
      provider: node.provider,
      address: node.address,
      openaiAddress: node.openai_address,
      version: node.version,
      status: statusOf(node),
      startedAt: new Date(node.started_at).toISOString(),
      lastSeenAt: new Date(node.last_seen_at).toISOString(),
      ...summaryOf(own),
      reputation: presentReputation(reputations.get(node.id)),
      minutes: minutePoints(own, range),
    };
  });
}

function statusOf(node: NodeRow): NodeStatus {
  if (node.stopped_at) return 'STOPPED';
  return node.silent ? 'UNAVAILABLE' : 'RUNNING';
}

/** The latest successful latency, availability and p95 latency over the range. */
function summaryOf(probes: ProbeRow[]) {
  const answered = probes.filter((probe) => probe.ok).map((probe) => probe.latency_ms);
  const sorted = [...answered].sort((a, b) => a - b);
  const latest = probes.findLast((probe) => probe.ok);
  return {
    latencyMs: latest?.latency_ms ?? null,
    availabilityPercent: probes.length
      ? Math.round((answered.length / probes.length) * 100_000) / 1000
      : null,
    p95LatencyMs: sorted.length ? (sorted[Math.ceil(0.95 * sorted.length) - 1] ?? null) : null,
    probes: probes.length,
  };
}

/** One point per minute of the range, unprobed minutes included, so charts need no gap filling. */
function minutePoints(probes: ProbeRow[], range: { from: Date; to: Date }): MinutePoint[] {
  const byMinute = new Map(probes.map((probe) => [new Date(probe.minute).getTime(), probe]));
  const points: MinutePoint[] = [];
  const first = Math.ceil(range.from.getTime() / MINUTE_MS) * MINUTE_MS;
  for (let time = first; time < range.to.getTime(); time += MINUTE_MS) {
    const probe = byMinute.get(time);
    points.push({
      minute: new Date(time).toISOString(),
      latencyMs: probe ? probe.latency_ms : null,
      available: probe ? probe.ok : null,
    });
  }
  return points;
}
