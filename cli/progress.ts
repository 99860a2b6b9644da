/** A migration's plan, progress and outcome as the operator reads them: one live line on a terminal, a line every few seconds in a log. */
import prettyBytes from 'pretty-bytes';
import prettyMilliseconds from 'pretty-ms';
import type {
  MigrationCounts,
  MigrationMode,
  MigrationPlan,
  MigrationProgress,
} from '../workflows/definitions.ts';

const barWidth = 20;

const objects = (count: number) => `${count.toLocaleString('en-US')} object${count === 1 ? '' : 's'}`;
const objectsAndBytes = (counts: MigrationCounts) =>
  `${objects(counts.objects)} (${prettyBytes(counts.bytes)})`;

export function formatPlan(plan: MigrationPlan, mode: MigrationMode): string {
  const rows: [string, MigrationCounts, string][] = [
    ['copy', plan.copy, `${plan.methods.native} native, ${plan.methods.streamed} streamed`],
    ['skip', plan.skip, 'already identical'],
    ['conflict', plan.conflict, 'newer at the destination: left untouched'],
  ];
  if (mode === 'sync') rows.push(['delete', plan.delete, 'only at the destination']);
  const cells = rows.map(([action, counts, note]) => [action, objectsAndBytes(counts), note] as const);
  const countWidth = Math.max(...cells.map(([, counts]) => counts.length));
  const header =
    mode === 'move'
      ? 'Plan (move: each source object is deleted once its copy is verified):'
      : `Plan (${mode}):`;
  const lines = cells.map(
    ([action, counts, note]) => `  ${action.padEnd(9)}${counts.padEnd(countWidth)}  ${note}`,
  );
  return [header, ...lines].join('\n');
}

function bar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * barWidth);
  return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${Math.floor(fraction * 100)
    .toString()
    .padStart(3)}%`;
}

function duration(seconds: number): string {
  if (seconds < 1) return '<1s';
  return prettyMilliseconds(seconds * 1000, { secondsDecimalDigits: 0, unitCount: 2 });
}

function phaseLabel(progress: MigrationProgress): string {
  if (progress.phase === 'PAUSED') return `PAUSED (${progress.pausedReason ?? 'no reason given'})`;
  return progress.phase;
}

/** Copied (or failed) so far, against the plan: by bytes when there are any, else by objects. */
function completedFraction(progress: MigrationProgress): number {
  const { planned, done, failed } = progress;
  if (planned.bytes > 0) return (done.bytes + failed.bytes) / planned.bytes;
  if (planned.objects > 0) return (done.objects + failed.objects) / planned.objects;
  return 1;
}

export function formatProgressLine(progress: MigrationProgress): string {
  const { listed, planned, done, failed, skipped } = progress;
  if (progress.phase === 'PLANNING')
    return `PLANNING  listed ${objects(listed.source)} at the source, ${objects(listed.destination)} at the destination`;
  const parts = [
    phaseLabel(progress),
    bar(completedFraction(progress)),
    `${done.objects.toLocaleString('en-US')}/${objects(planned.objects)}`,
    `${prettyBytes(done.bytes)}/${prettyBytes(planned.bytes)}`,
  ];
  if (progress.phase === 'COPYING') {
    parts.push(`${prettyBytes(progress.rateBytesPerSecond)}/s`);
    parts.push(`ETA ${progress.etaSeconds === null ? '?' : duration(progress.etaSeconds)}`);
  }
  if (skipped.objects) parts.push(`${skipped.objects.toLocaleString('en-US')} skipped`);
  if (failed.objects) parts.push(`${failed.objects.toLocaleString('en-US')} failed`);
  if (progress.deleted) parts.push(`${progress.deleted.toLocaleString('en-US')} deleted`);
  if (progress.notice) parts.push(progress.notice);
  return parts.join('  ');
}

/** The closing words on a job that has ended. */
export function formatOutcome(progress: MigrationProgress): string {
  const { done, failed, skipped, conflicts, methods } = progress;
  const copied = `copied ${objectsAndBytes(done)} (${methods.native} native, ${methods.streamed} streamed)`;
  const tally = `skipped ${skipped.objects}, conflicts ${conflicts.objects}, failed ${failed.objects}, deleted ${progress.deleted + progress.sourcesDeleted}`;
  const notice = progress.notice ? `\nNote: ${progress.notice}` : '';
  if (progress.phase === 'DONE' && progress.dryRun)
    return `Dry run done: nothing was written. Run it again without --dry-run to copy.${notice}`;
  if (progress.phase === 'DONE') return `Done: ${copied}; ${tally}.${notice}`;
  if (progress.phase === 'CANCELLED') return `Cancelled: ${copied} before stopping; ${tally}.${notice}`;
  return `Failed: ${progress.failureReason ?? 'no reason given'}. So far ${copied}; ${tally}.${notice}`;
}

type Output = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** Where progress goes while a job is watched. */
export interface ProgressDisplay {
  show(progress: MigrationProgress): void;
  /** A line of its own, above the live progress line. */
  note(text: string): void;
  /** Leaves the latest progress on screen (or in the log) and moves below it. */
  end(): void;
}

export function createProgressDisplay(output: Output, options: { logEveryMs: number }): ProgressDisplay {
  return output.isTTY ? redrawingDisplay(output) : loggingDisplay(output, options.logEveryMs);
}

/** One line, drawn over itself: carriage return, the line, erase to the end. */
function redrawingDisplay(output: Output): ProgressDisplay {
  let current = '';
  const draw = () => {
    const width = (output.columns ?? 120) - 1;
    output.write(`\r${current.length > width ? current.slice(0, width) : current}\x1b[K`);
  };
  return {
    show(progress) {
      current = formatProgressLine(progress);
      draw();
    },
    note(text) {
      output.write(`\r\x1b[K${text}\n`);
      if (current) draw();
    },
    end() {
      if (current) output.write('\n');
      current = '';
    },
  };
}

/** A log can't be redrawn: a line when the phase changes, otherwise at most one every `everyMs`. */
function loggingDisplay(output: Output, everyMs: number): ProgressDisplay {
  let latest = '';
  let written = '';
  let phase = '';
  let writtenAt = Number.NEGATIVE_INFINITY;
  const write = (line: string) => {
    output.write(`${line}\n`);
    written = line;
    writtenAt = Date.now();
  };
  return {
    show(progress) {
      latest = formatProgressLine(progress);
      const phaseChanged = progress.phase !== phase;
      phase = progress.phase;
      if (phaseChanged || Date.now() - writtenAt >= everyMs) write(latest);
    },
    note(text) {
      output.write(`${text}\n`);
    },
    end() {
      if (latest && latest !== written) write(latest);
    },
  };
}
