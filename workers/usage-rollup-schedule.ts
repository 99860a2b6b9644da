/**
 * JOB-4's schedule, set by every worker start (`namespace-schedule.ts`).
 * Overlapping runs are skipped (they would be harmless: rollups are
 * idempotent).
 */
import type { Client } from '@temporalio/client';
import {
  type UsageRollupInput,
  usageRollupScheduleId,
  usageRollupSettleSeconds,
} from '../workflows/definitions.ts';
import { ensureNamespaceSchedule } from './namespace-schedule.ts';

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
  await ensureNamespaceSchedule(temporal, {
    scheduleId,
    workflowType: 'rollupUsageWorkflow',
    workflowId: 'usage-rollup',
    kind: 'usage-rollup',
    taskQueue: settings.taskQueue,
    intervalSeconds: settings.intervalSeconds,
    input,
  });
}
