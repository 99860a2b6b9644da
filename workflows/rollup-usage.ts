import { proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import {
  searchAttributes,
  type UsageRollupInput,
  type UsageRollupState,
  usageRollupStateQuery,
} from './definitions.ts';

const { rollUpUsageEvents } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30 minutes',
  // A backlog (after downtime) is many windows; each one heartbeats.
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * JOB-4: one rollup run. The activity is idempotent (windows are rebuilt
 * whole), so a retry, a re-run or a run that overlaps another is harmless.
 */
export async function rollupUsageWorkflow(input: UsageRollupInput): Promise<UsageRollupState> {
  const state: UsageRollupState = { phase: 'ROLLING_UP', startedAt: workflowInfo().startTime.toISOString() };
  setHandler(usageRollupStateQuery, () => state);
  state.result = await rollUpUsageEvents(input);
  state.phase = 'DONE';
  upsertSearchAttributes([{ key: searchAttributes.status, value: 'COMPLETED' }]);
  return state;
}
