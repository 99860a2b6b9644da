/**
 * OBS-4 compliance over rolling windows (1 h, 24 h, 7 d) for every bridge
 * node and bucket, from the probe results and, for buckets, the clients'
 * requests in the per-minute storage rollups; then each subject's
 * reputation. Run by the probe workflow after each round of probes: every
 * row is rewritten (a re-run changes nothing), rows of subjects measured no
 * more are removed.
 *
 * A window's availability is the worse of what the probes saw and what
 * clients saw (requests without a 5xx answer); its p95 latency likewise the
 * slower of the successful probes' and the requests'.
 */
import { Bucket, type ProbeTargetKind, type SlaWindow, slaWindows } from '../db/entities/index.ts';
import type { EntityManager } from '../db/orm.ts';
import { histogramFromDatabase, latencyPercentile } from '../stats/latency-histogram.ts';
import { recentMinutes, reputationScore } from './reputation.ts';
import { bucketTargets, defaultBucketTarget, defaultNodeTarget, type SlaTarget } from './targets.ts';

const windowMs: Record<SlaWindow, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 };
/** The window the reputation and the `compliant` flag are read from. */
const reputationWindow: SlaWindow = '24h';

export interface WindowFigures {
  probes: number;
  probeFailures: number;
  probeP95LatencyMs: number | null;
  requests: number;
  serverErrors: number;
  requestP95LatencyMs: number | null;
}

export interface WindowCompliance {
  availabilityPercent: number | null;
  p95LatencyMs: number | null;
  compliant: boolean | null;
}

export function windowCompliance(figures: WindowFigures, target: SlaTarget): WindowCompliance {
  const availabilities = [
    figures.probes > 0 ? percent(figures.probes - figures.probeFailures, figures.probes) : null,
    figures.requests > 0 ? percent(figures.requests - figures.serverErrors, figures.requests) : null,
  ].filter((value) => value !== null);
  const latencies = [figures.probeP95LatencyMs, figures.requestP95LatencyMs].filter(
    (value) => value !== null,
  );
  const availabilityPercent = availabilities.length ? Math.min(...availabilities) : null;
  const p95LatencyMs = latencies.length ? Math.round(Math.max(...latencies)) : null;
  const compliant =
    availabilityPercent === null
      ? null
      : availabilityPercent >= target.availabilityPercent &&
        (p95LatencyMs === null || p95LatencyMs <= target.p95LatencyMs);
  return { availabilityPercent, p95LatencyMs, compliant };
}

const percent = (part: number, whole: number) => Math.round((part / whole) * 100_000) / 1000;

const subjectKey = (kind: ProbeTargetKind, id: string) => `${kind}:${id}`;

interface Subject {
  kind: ProbeTargetKind;
  id: string;
  target: SlaTarget;
}

export interface ComplianceRun {
  nodes: number;
  buckets: number;
  measuredAt: string;
}

export async function scoreSlaCompliance(em: EntityManager, now = new Date()): Promise<ComplianceRun> {
  const figures = new Map<SlaWindow, Map<string, WindowFigures>>();
  for (const window of slaWindows)
    figures.set(window, await windowFigures(em, new Date(now.getTime() - windowMs[window])));
  const recent = await recentProbeFailures(em, new Date(now.getTime() - recentMinutes * 60_000));
  const subjects = await measuredSubjects(
    em,
    new Set([...figures.values()].flatMap((byKey) => [...byKey.keys()])),
  );
  await em.transactional(async (tx) => {
    for (const subject of subjects) {
      const key = subjectKey(subject.kind, subject.id);
      let reputationFigures: WindowCompliance = {
        availabilityPercent: null,
        p95LatencyMs: null,
        compliant: null,
      };
      for (const window of slaWindows) {
        const windowed = figures.get(window)?.get(key) ?? emptyFigures();
        const compliance = windowCompliance(windowed, subject.target);
        if (window === reputationWindow) reputationFigures = compliance;
        await writeCompliance(tx, subject, window, windowed, compliance, now);
      }
      const latest = recent.get(key) ?? { probes: 0, failures: 0 };
      const score = reputationScore({
        target: subject.target,
        availabilityPercent: reputationFigures.availabilityPercent,
        p95LatencyMs: reputationFigures.p95LatencyMs,
        recentProbes: latest.probes,
        recentFailures: latest.failures,
      });
      if (score !== null) await writeReputation(tx, subject, score, reputationFigures, latest.failures, now);
    }
    await tx.execute('delete from sla_compliance where measured_at < ?', [now]);
    await tx.execute('delete from reputations where measured_at < ?', [now]);
  });
  return {
    nodes: subjects.filter((subject) => subject.kind === 'NODE').length,
    buckets: subjects.filter((subject) => subject.kind === 'BUCKET').length,
    measuredAt: now.toISOString(),
  };
}

const emptyFigures = (): WindowFigures => ({
  probes: 0,
  probeFailures: 0,
  probeP95LatencyMs: null,
  requests: 0,
  serverErrors: 0,
  requestP95LatencyMs: null,
});

/** Probe and request figures since `from`, per subject key. */
async function windowFigures(em: EntityManager, from: Date): Promise<Map<string, WindowFigures>> {
  const connection = em.getConnection();
  const probes = await connection.execute<
    {
      target_kind: ProbeTargetKind;
      target_id: string;
      probes: string;
      failures: string;
      p95: number | null;
    }[]
  >(
    `select target_kind, target_id, count(*) as probes, count(*) filter (where not ok) as failures,
            percentile_cont(0.95) within group (order by latency_ms) filter (where ok) as p95
     from probe_results where minute >= ? group by target_kind, target_id`,
    [from],
  );
  const requests = await connection.execute<
    {
      bucket_id: string;
      requests: string;
      server_errors: string;
      max_ms: number | null;
      histogram: (string | number | null)[] | null;
    }[]
  >(
    `select bucket_id, sum(requests) as requests, sum(server_errors) as server_errors,
            max(latency_max_ms) as max_ms, histogram_sum(latency_histogram) as histogram
     from storage_usage_minutes where window_start >= ? and bucket_id is not null group by bucket_id`,
    [from],
  );
  const byKey = new Map<string, WindowFigures>();
  const entry = (key: string) => byKey.get(key) ?? byKey.set(key, emptyFigures()).get(key)!;
  for (const row of probes) {
    Object.assign(entry(subjectKey(row.target_kind, row.target_id)), {
      probes: Number(row.probes),
      probeFailures: Number(row.failures),
      probeP95LatencyMs: row.p95 === null ? null : Math.round(Number(row.p95)),
    });
  }
  for (const row of requests) {
    Object.assign(entry(subjectKey('BUCKET', row.bucket_id)), {
      requests: Number(row.requests),
      serverErrors: Number(row.server_errors),
      requestP95LatencyMs: latencyPercentile(
        histogramFromDatabase(row.histogram),
        0.95,
        row.max_ms ?? undefined,
      ),
    });
  }
  return byKey;
}

async function recentProbeFailures(
  em: EntityManager,
  from: Date,
): Promise<Map<string, { probes: number; failures: number }>> {
  const rows = await em
    .getConnection()
    .execute<{ target_kind: ProbeTargetKind; target_id: string; probes: string; failures: string }[]>(
      `select target_kind, target_id, count(*) as probes, count(*) filter (where not ok) as failures
     from probe_results where minute >= ? group by target_kind, target_id`,
      [from],
    );
  return new Map(
    rows.map((row) => [
      subjectKey(row.target_kind, row.target_id),
      { probes: Number(row.probes), failures: Number(row.failures) },
    ]),
  );
}

/** The nodes and buckets that still exist among those measured, each with its target. */
async function measuredSubjects(em: EntityManager, keys: Set<string>): Promise<Subject[]> {
  const idsOf = (kind: ProbeTargetKind) =>
    [...keys].filter((key) => key.startsWith(`${kind}:`)).map((key) => key.slice(kind.length + 1));
  const nodeIds = idsOf('NODE');
  const nodes = nodeIds.length
    ? await em
        .getConnection()
        .execute<{ id: string }[]>('select id from bridge_nodes where id = any(?::uuid[])', [
          `{${nodeIds.join(',')}}`,
        ])
    : [];
  const buckets = await em.find(Bucket, { id: { $in: idsOf('BUCKET') } }, { populate: ['workspace'] });
  const targets = await bucketTargets(
    em,
    buckets.map((bucket) => ({
      id: bucket.id,
      provider: bucket.provider,
      organizationId: bucket.workspace.organization.id,
    })),
  );
  return [
    ...nodes.map((node) => ({ kind: 'NODE' as const, id: node.id, target: defaultNodeTarget })),
    ...buckets.map((bucket) => ({
      kind: 'BUCKET' as const,
      id: bucket.id,
      target: targets.get(bucket.id) ?? defaultBucketTarget,
    })),
  ];
}

async function writeCompliance(
  em: EntityManager,
  subject: Subject,
  window: SlaWindow,
  figures: WindowFigures,
  compliance: WindowCompliance,
  now: Date,
): Promise<void> {
  await em.execute(
    `insert into sla_compliance (subject_kind, subject_id, window_name, availability_percent, p95_latency_ms,
       target_availability_percent, target_p95_latency_ms, compliant, probes, probe_failures, requests,
       server_errors, measured_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (subject_kind, subject_id, window_name) do update set
       availability_percent = excluded.availability_percent, p95_latency_ms = excluded.p95_latency_ms,
       target_availability_percent = excluded.target_availability_percent,
       target_p95_latency_ms = excluded.target_p95_latency_ms, compliant = excluded.compliant,
       probes = excluded.probes, probe_failures = excluded.probe_failures, requests = excluded.requests,
       server_errors = excluded.server_errors, measured_at = excluded.measured_at`,
    [
      subject.kind,
      subject.id,
      window,
      compliance.availabilityPercent,
      compliance.p95LatencyMs,
      subject.target.availabilityPercent,
      subject.target.p95LatencyMs,
      compliance.compliant,
      figures.probes,
      figures.probeFailures,
      figures.requests,
      figures.serverErrors,
      now,
    ],
  );
}

async function writeReputation(
  em: EntityManager,
  subject: Subject,
  score: number,
  figures: WindowCompliance,
  recentFailures: number,
  now: Date,
): Promise<void> {
  await em.execute(
    `insert into reputations (subject_kind, subject_id, score, availability_percent, p95_latency_ms, compliant,
       recent_failures, measured_at)
     values (?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (subject_kind, subject_id) do update set
       score = excluded.score, availability_percent = excluded.availability_percent,
       p95_latency_ms = excluded.p95_latency_ms, compliant = excluded.compliant,
       recent_failures = excluded.recent_failures, measured_at = excluded.measured_at`,
    [
      subject.kind,
      subject.id,
      score,
      figures.availabilityPercent,
      figures.p95LatencyMs,
      figures.compliant,
      recentFailures,
      now,
    ],
  );
}
