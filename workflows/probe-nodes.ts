import { proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import {
  type NodeProbeInput,
  type NodeProbeState,
  nodeProbeStateQuery,
  searchAttributes,
} from './definitions.ts';

const { probeNodesAndBuckets, scoreSlaCompliance, pruneProbeResults } = proxyActivities<
  ReturnType<typeof createActivities>
>({
  startToCloseTimeout: '10 minutes',
  // A round over many buckets heartbeats after each batch of probes.
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumInterval: '30 seconds', maximumAttempts: 3 },
});

/**
 * JOB-5 and OBS-4: one round of probes over every bridge node and validated
 * bucket, then SLA compliance and reputations scored from the results, then
 * old results pruned. Each step can run again harmlessly: a minute keeps one
 * result per target, and the scores are rewritten whole.
 */
export async function probeNodesWorkflow(input: NodeProbeInput): Promise<NodeProbeState> {
  const state: NodeProbeState = { phase: 'PROBING', startedAt: workflowInfo().startTime.toISOString() };
  setHandler(nodeProbeStateQuery, () => state);
  state.probes = await probeNodesAndBuckets(input);
  state.phase = 'SCORING';
  state.compliance = await scoreSlaCompliance();
  state.phase = 'PRUNING';
  state.resultsPruned = await pruneProbeResults(input.retentionDays);
  state.phase = 'DONE';
  upsertSearchAttributes([{ key: searchAttributes.status, value: 'COMPLETED' }]);
  return state;
}
