/**
 * JOB-5's I/O: probe every live bridge node and every validated bucket,
 * store the minute's results, then score SLA compliance and reputations
 * (OBS-4) and prune old results.
 */
import { heartbeat } from '@temporalio/activity';
import { bucketConnection } from '../core/buckets/credentials.ts';
import { Bucket } from '../core/db/entities/index.ts';
import type { EntityManager } from '../core/db/orm.ts';
import {
  minuteOf,
  nodesToProbe,
  type ProbeOutcome,
  type ProbeRecord,
  probeBucketAccess,
  probeHealthEndpoint,
  pruneProbeResults,
  recordProbeResults,
} from '../core/nodes/probes.ts';
import { type ComplianceRun, scoreSlaCompliance } from '../core/sla/compliance.ts';
import { createObjectStore } from '../providers/storage/index.ts';
import type { NodeProbeInput, ProbeRoundResult } from '../workflows/definitions.ts';
import type { BucketActivityDependencies } from './buckets.ts';

/** Probes in flight at once: enough to finish a round of many buckets within the interval. */
const PROBE_CONCURRENCY = 8;

export function probeActivities(deps: BucketActivityDependencies) {
  return {
    async probeNodesAndBuckets(input: NodeProbeInput): Promise<ProbeRoundResult> {
      const em = deps.em.fork();
      const minute = minuteOf(new Date());
      const nodes = await probeNodes(em, input);
      const buckets = await probeBuckets(deps, em, input.timeoutMs);
      await recordProbeResults(em, minute, [...nodes, ...buckets]);
      return {
        minute: minute.toISOString(),
        nodes: countsOf(nodes),
        buckets: countsOf(buckets),
      };
    },

    async scoreSlaCompliance(): Promise<ComplianceRun> {
      return scoreSlaCompliance(deps.em.fork());
    },

    async pruneProbeResults(retentionDays: number): Promise<number> {
      return pruneProbeResults(deps.em.fork(), retentionDays);
    },
  };
}

/**
 * Node addresses come from the operator's bridge configuration, not from a
 * tenant, so the outbound guard (which keeps tenants off private addresses)
 * does not apply: bridges usually listen on exactly such addresses.
 */
async function probeNodes(em: EntityManager, input: NodeProbeInput): Promise<ProbeRecord[]> {
  const nodes = await nodesToProbe(em, input.retentionDays);
  return inBatches(nodes, async (node) => {
    const outcome: ProbeOutcome = node.silentSince
      ? { ok: false, latencyMs: 0, reason: `no heartbeat since ${node.silentSince.toISOString()}` }
      : await probeHealthEndpoint(node.healthUrl, input.timeoutMs);
    return { targetKind: 'NODE', targetId: node.id, ...outcome };
  });
}

/** Through each bucket's own store, so the outbound guard holds for tenant-supplied endpoints. */
async function probeBuckets(
  deps: BucketActivityDependencies,
  em: EntityManager,
  timeoutMs: number,
): Promise<ProbeRecord[]> {
  const buckets = await em.find(Bucket, { status: 'VALID' }, { populate: ['credentials'] });
  return inBatches(buckets, async (bucket) => {
    const outcome = await probeBucketAccess(
      () => createObjectStore(bucketConnection(deps.keyring, bucket), deps.storageClientOptions),
      timeoutMs,
    );
    return { targetKind: 'BUCKET', targetId: bucket.id, ...outcome };
  });
}

async function inBatches<T, R>(items: readonly T[], probe: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += PROBE_CONCURRENCY) {
    results.push(...(await Promise.all(items.slice(start, start + PROBE_CONCURRENCY).map(probe))));
    heartbeat({ probed: results.length, of: items.length });
  }
  return results;
}

const countsOf = (records: ProbeRecord[]) => ({
  probed: records.length,
  failed: records.filter((record) => !record.ok).length,
});
