/**
 * A namespace-wide Temporal schedule that runs one workflow every interval:
 * created by a worker start, or brought up to date (interval, input, task
 * queue) when it exists, so every worker start leaves exactly one schedule
 * however many workers run. Overlapping runs are skipped.
 */
import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleOptionsAction,
  ScheduleOverlapPolicy,
} from '@temporalio/client';
import { type JobKind, searchAttributes } from '../workflows/definitions.ts';

export interface NamespaceSchedule {
  scheduleId: string;
  workflowType: string;
  /** Temporal appends the scheduled time to each run's id. */
  workflowId: string;
  kind: JobKind;
  taskQueue: string;
  intervalSeconds: number;
  input: unknown;
}

export async function ensureNamespaceSchedule(temporal: Client, schedule: NamespaceSchedule): Promise<void> {
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: schedule.workflowType,
    workflowId: schedule.workflowId,
    taskQueue: schedule.taskQueue,
    args: [schedule.input],
    typedSearchAttributes: [
      { key: searchAttributes.kind, value: schedule.kind },
      { key: searchAttributes.status, value: 'RUNNING' },
    ],
  };
  const spec = { intervals: [{ every: schedule.intervalSeconds * 1000 }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 60_000 };
  try {
    await temporal.schedule.create({ scheduleId: schedule.scheduleId, spec, action, policies });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await temporal.schedule
      .getHandle(schedule.scheduleId)
      .update((previous) => ({ ...previous, spec, action, policies: { ...previous.policies, ...policies } }));
  }
}
