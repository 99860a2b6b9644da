/** `skybridge migrate`: start a migration and watch it, or steer and read one that runs. */
import { type MigrationMode, maxMigrationConcurrency, migrationModes } from '../../workflows/definitions.ts';
import type { ApiClient } from '../api-client.ts';
import { createApiClient } from '../api-client.ts';
import { expectPositionals, helpFlag, integerFlag, parseCommandLine, requiredFlag } from '../args.ts';
import { type BucketPath, parseBucketPath, resolveBucketIds } from '../buckets.ts';
import type { CliContext } from '../context.ts';
import { resolveConnection } from '../credentials.ts';
import { exitCodes, UsageError } from '../errors.ts';
import { formatOutcome, formatPlan, formatProgressLine } from '../progress.ts';
import { finalProgress, isOver, type MigrationJob, readMigrationJob, watchMigration } from '../watch.ts';

const help = 'skybridge migrate --help';

export const migrateUsage = `Usage:
  skybridge migrate --from BUCKET[/PREFIX] --to BUCKET[/PREFIX] [options]
  skybridge migrate watch JOB_ID          follow a running job again
  skybridge migrate status JOB_ID [--json]
  skybridge migrate pause JOB_ID [--reason TEXT] [--json]
  skybridge migrate resume JOB_ID [--json]
  skybridge migrate cancel JOB_ID [--json]

BUCKET is a bucket's registered name (or its id); PREFIX is taken as written,
so "photos/2024/" is the folder and "photos/2024" also takes "2024-old/".

Options:
  --dry-run                 only plan: list both sides, print what would be copied,
                            skipped, in conflict and deleted; write nothing
  --mode copy|move|sync     copy (default); move deletes each source object once its
                            copy is verified; sync also deletes destination objects
                            that the source lacks
  --concurrency N           objects copied at once (1-${maxMigrationConcurrency}; default 8)
  --rate BYTES_PER_SECOND   limit on streamed copies (default: none)
  --include GLOB            take only keys that match (repeatable); * and ? stay within
                            one "/" segment, ** crosses them, "*.jpg" matches at any depth
  --exclude GLOB            leave keys that match (repeatable)
  --max-deletes N           sync: refuse, before copying, to delete more than N objects
  --workspace ID|NAME       look bucket names up in this workspace only
  --detach                  start the job, print its id and return
  -h, --help                this text

While watching, Ctrl-C stops watching only; the job goes on.
Exit codes: 0 done, 1 failed or cancelled, 2 bad command line, 3 API or login error, 130 stopped watching.`;

const startFlags = {
  ...helpFlag,
  from: { type: 'string' },
  to: { type: 'string' },
  'dry-run': { type: 'boolean' },
  mode: { type: 'string' },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  include: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  'max-deletes': { type: 'string' },
  workspace: { type: 'string' },
  detach: { type: 'boolean' },
} as const;

const jsonFlag = { ...helpFlag, json: { type: 'boolean' } } as const;
const pauseFlags = { ...jsonFlag, reason: { type: 'string' } } as const;

export async function runMigrateCommand(args: string[], context: CliContext): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'watch':
      return watchCommand(rest, context);
    case 'status':
      return statusCommand(rest, context);
    case 'pause':
      return pauseCommand(rest, context);
    case 'resume':
    case 'cancel':
      return steerCommand(subcommand, rest, context);
    default:
      return startCommand(args, context);
  }
}

async function connect(context: CliContext): Promise<ApiClient> {
  return createApiClient(await resolveConnection(context.env));
}

function printUsage(context: CliContext): number {
  context.stdout.write(`${migrateUsage}\n`);
  return exitCodes.ok;
}

function parseMode(raw: string | undefined): MigrationMode {
  if (raw === undefined) return 'copy';
  const mode = migrationModes.find((known) => known === raw);
  if (!mode) throw new UsageError(`--mode must be one of ${migrationModes.join(', ')}, not "${raw}"`, help);
  return mode;
}

/** The `POST /jobs/migrations` body the flags ask for, bucket ids aside. */
function migrationOptions(values: ReturnType<typeof parseStartFlags>['values']) {
  return {
    mode: parseMode(values.mode),
    dryRun: values['dry-run'] ?? false,
    concurrency: integerFlag(
      'concurrency',
      values.concurrency,
      { min: 1, max: maxMigrationConcurrency },
      help,
    ),
    bytesPerSecond: integerFlag('rate', values.rate, { min: 1, max: Number.MAX_SAFE_INTEGER }, help),
    include: values.include,
    exclude: values.exclude,
    maxDeletes: integerFlag(
      'max-deletes',
      values['max-deletes'],
      { min: 0, max: Number.MAX_SAFE_INTEGER },
      help,
    ),
  };
}

const parseStartFlags = (args: string[]) => parseCommandLine(args, startFlags, help);

const describePath = (path: BucketPath) => (path.prefix ? `${path.bucket}/${path.prefix}` : path.bucket);

async function startCommand(args: string[], context: CliContext): Promise<number> {
  const { values, positionals } = parseStartFlags(args);
  if (values.help) return printUsage(context);
  expectPositionals(positionals, [], help);
  const from = parseBucketPath('from', requiredFlag('from', values.from, help), help);
  const to = parseBucketPath('to', requiredFlag('to', values.to, help), help);
  const options = migrationOptions(values);
  const client = await connect(context);
  const [sourceBucketId, destinationBucketId] = await resolveBucketIds(
    client,
    [from.bucket, to.bucket],
    values.workspace,
  );
  const started = await client.request<{ id: string }>('POST', '/jobs/migrations', {
    body: {
      sourceBucketId,
      sourcePrefix: from.prefix,
      destinationBucketId,
      destinationPrefix: to.prefix,
      ...options,
    },
  });
  if (values.detach) {
    context.stdout.write(`${started.id}\n`);
    return exitCodes.ok;
  }
  const what = options.dryRun ? 'Planning (dry run)' : `Started ${options.mode}`;
  context.stdout.write(`${what} ${describePath(from)} → ${describePath(to)}: job ${started.id}\n`);
  return watchMigration(client, started.id, context);
}

function jobIdArgument(positionals: string[]): string {
  return expectPositionals(positionals, ['JOB_ID'], help)[0]!;
}

async function watchCommand(args: string[], context: CliContext): Promise<number> {
  const { values, positionals } = parseCommandLine(args, helpFlag, help);
  if (values.help) return printUsage(context);
  const jobId = jobIdArgument(positionals);
  return watchMigration(await connect(context), jobId, context);
}

async function statusCommand(args: string[], context: CliContext): Promise<number> {
  const { values, positionals } = parseCommandLine(args, jsonFlag, help);
  if (values.help) return printUsage(context);
  const jobId = jobIdArgument(positionals);
  const job = await readMigrationJob(await connect(context), jobId);
  context.stdout.write(`${values.json ? asJson(job) : describeJob(job)}\n`);
  return exitCodes.ok;
}

function describeJob(job: MigrationJob): string {
  const { state } = job;
  const rate = state.bytesPerSecond === null ? 'no rate limit' : `rate limit ${state.bytesPerSecond} B/s`;
  const lines = [
    `${job.id}: ${job.status}, started ${job.startedAt}${job.closedAt ? `, ended ${job.closedAt}` : ''}`,
    `${state.mode}${state.dryRun ? ' (dry run)' : ''}, concurrency ${state.concurrency}, ${rate}`,
  ];
  if (state.plan) lines.push(formatPlan(state.plan, state.mode));
  lines.push(isOver(job) ? formatOutcome(finalProgress(job)) : formatProgressLine(state));
  return lines.join('\n');
}

async function pauseCommand(args: string[], context: CliContext): Promise<number> {
  const { values, positionals } = parseCommandLine(args, pauseFlags, help);
  if (values.help) return printUsage(context);
  const jobId = jobIdArgument(positionals);
  const answer = await sendSteering(
    'pause',
    jobId,
    values.reason === undefined ? {} : { reason: values.reason },
    context,
  );
  context.stdout.write(`${values.json ? asJson(answer) : describeSteering('pause', answer)}\n`);
  return exitCodes.ok;
}

async function steerCommand(
  action: 'resume' | 'cancel',
  args: string[],
  context: CliContext,
): Promise<number> {
  const { values, positionals } = parseCommandLine(args, jsonFlag, help);
  if (values.help) return printUsage(context);
  const answer = await sendSteering(action, jobIdArgument(positionals), undefined, context);
  context.stdout.write(`${values.json ? asJson(answer) : describeSteering(action, answer)}\n`);
  return exitCodes.ok;
}

const asJson = (value: unknown) => JSON.stringify(value, null, 2);

const steeringOutcome = {
  pause: 'paused: the batch in flight finishes, no new one starts until it is resumed.',
  resume: 'resumed.',
  cancel: 'cancel requested: the batch in flight finishes, then the job ends with its report.',
} as const;

type SteeringAction = keyof typeof steeringOutcome;

const describeSteering = (action: SteeringAction, answer: MigrationJob) =>
  `${answer.id} ${steeringOutcome[action]}\n${formatProgressLine(answer.state)}`;

async function sendSteering(
  action: SteeringAction,
  jobId: string,
  body: { reason?: string } | undefined,
  context: CliContext,
): Promise<MigrationJob> {
  const client = await connect(context);
  return client.request<MigrationJob>('POST', `/jobs/${encodeURIComponent(jobId)}/${action}`, { body });
}
