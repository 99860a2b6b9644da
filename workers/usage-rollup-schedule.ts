/**
 * JOB-4's schedule: the worker creates it at start, or brings an existing one
 * up to date (interval, retention, task queue), so every worker start leaves
 * exactly one schedule per namespace however many workers run. Overlapping
 * runs are skipped (they would be harmless: rollups are idempotent).
 */
import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleOptionsAction,
  ScheduleOverlapPolicy,
} from '@temporalio/client';
import {
  searchAttributes,
  type UsageRollupInput,
  usageRollupScheduleId,
  usageRollupSettleSeconds,
} from '../workflows/definitions.ts';

export interface UsageRollupScheduleSettings {
  taskQueue: string;
  intervalSeconds: number;
  rawRetentionDays: number;
  minuteRetentionDays: number;
}

export async function ensureUsageRollupSchedule(
  temporal: Client,
  settings: UsageRollupScheduleSettings,
  scheduleId = usageRollupScheduleId,
): Promise<void> {
  const input: UsageRollupInput = {
    rawRetentionDays: settings.rawRetentionDays,
    minuteRetentionDays: settings.minuteRetentionDays,
    settleSeconds: usageRollupSettleSeconds,
  };
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: 'rollupUsageWorkflow',
    // Temporal appends the scheduled time to each run's id.
    workflowId: 'usage-rollup',
    taskQueue: settings.taskQueue,
    args: [input],
    typedSearchAttributes: [
      { key: searchAttributes.kind, value: 'usage-rollup' },
      { key: searchAttributes.status, value: 'RUNNING' },
    ],
  };
  const spec = { intervals: [{ every: settings.intervalSeconds * 1000 }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 60_000 };
  try {
    await temporal.schedule.create({ scheduleId, spec, action, policies });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await temporal.schedule
      .getHandle(scheduleId)
      .update((previous) => ({ ...previous, spec, action, policies: { ...previous.policies, ...policies } }));
  }
}
