/** JOB-5's schedule, set by every worker start (`namespace-schedule.ts`): one probe round per interval. */
import type { Client } from '@temporalio/client';
import { type NodeProbeInput, nodeProbeScheduleId } from '../workflows/definitions.ts';
import { ensureNamespaceSchedule } from './namespace-schedule.ts';

export interface NodeProbeScheduleSettings extends NodeProbeInput {
  taskQueue: string;
  intervalSeconds: number;
}

export async function ensureNodeProbeSchedule(
  temporal: Client,
  settings: NodeProbeScheduleSettings,
  scheduleId = nodeProbeScheduleId,
): Promise<void> {
  const input: NodeProbeInput = { timeoutMs: settings.timeoutMs, retentionDays: settings.retentionDays };
  await ensureNamespaceSchedule(temporal, {
    scheduleId,
    workflowType: 'probeNodesWorkflow',
    workflowId: 'node-probe',
    kind: 'node-probe',
    taskQueue: settings.taskQueue,
    intervalSeconds: settings.intervalSeconds,
    input,
  });
}
