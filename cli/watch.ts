/** Following a migration job until it ends; Ctrl-C stops the watching, never the job. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MigrationProgress } from '../workflows/definitions.ts';
import type { ApiClient } from './api-client.ts';
import type { CliContext } from './context.ts';
import { CliError, exitCodes } from './errors.ts';
import { createProgressDisplay, formatOutcome, formatPlan, type ProgressDisplay } from './progress.ts';

/** `GET /jobs/{id}` of a migration. `status` is the Temporal workflow's (RUNNING, COMPLETED, FAILED, ...). */
export interface MigrationJob {
  id: string;
  kind: 'migration';
  status: string;
  startedAt: string;
  closedAt: string | null;
  state: MigrationProgress;
}

export const watchTiming = { pollMs: 1000, logEveryMs: 5000 };

const terminalPhases: readonly string[] = ['DONE', 'FAILED', 'CANCELLED'];

export async function readMigrationJob(
  client: ApiClient,
  jobId: string,
  signal?: AbortSignal,
): Promise<MigrationJob> {
  const job = await client.request<{ kind: string; status: string; state: MigrationProgress | null }>(
    'GET',
    `/jobs/${encodeURIComponent(jobId)}`,
    { signal },
  );
  if (job.kind !== 'migration') throw new CliError(`${jobId} is a ${job.kind} job, not a migration`);
  if (!job.state) throw new CliError(`${jobId} has no progress to show (its workflow is ${job.status})`);
  return job as MigrationJob;
}

export const isOver = (job: MigrationJob) => job.status !== 'RUNNING';

/** The job's last progress; a workflow ended from outside (terminated, timed out) counts as failed. */
export function finalProgress(job: MigrationJob): MigrationProgress {
  if (terminalPhases.includes(job.state.phase)) return job.state;
  return { ...job.state, phase: 'FAILED', failureReason: `its workflow ended ${job.status}` };
}

export function outcomeExitCode(progress: MigrationProgress): number {
  return progress.phase === 'DONE' && progress.failed.objects === 0
    ? exitCodes.ok
    : exitCodes.jobUnsuccessful;
}

/** Prints the plan as soon as there is one, then live progress until the job ends; the exit code tells how it ended. */
export async function watchMigration(client: ApiClient, jobId: string, context: CliContext): Promise<number> {
  const display = createProgressDisplay(context.stdout, watchTiming);
  const stopWatching = new AbortController();
  const unsubscribe = context.onInterrupt(() => stopWatching.abort());
  try {
    const progress = finalProgress(await followUntilOver(client, jobId, display, stopWatching.signal));
    if (!progress.dryRun) display.show(progress);
    display.end();
    context.stdout.write(`${formatOutcome(progress)}\n`);
    return outcomeExitCode(progress);
  } catch (error) {
    if (!stopWatching.signal.aborted) throw error;
    display.end();
    context.stderr.write(
      [
        `Stopped watching; ${jobId} keeps running.`,
        `  watch it again: skybridge migrate watch ${jobId}`,
        `  cancel it:      skybridge migrate cancel ${jobId}`,
        '',
      ].join('\n'),
    );
    return exitCodes.interrupted;
  } finally {
    unsubscribe();
  }
}

async function followUntilOver(
  client: ApiClient,
  jobId: string,
  display: ProgressDisplay,
  signal: AbortSignal,
): Promise<MigrationJob> {
  let planShown = false;
  for (;;) {
    const job = await readMigrationJob(client, jobId, signal);
    if (!planShown && job.state.plan) {
      display.note(formatPlan(job.state.plan, job.state.mode));
      planShown = true;
    }
    if (isOver(job)) return job;
    display.show(job.state);
    await sleep(watchTiming.pollMs, undefined, { signal });
  }
}
