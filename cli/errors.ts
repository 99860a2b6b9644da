/** What went wrong, as the operator should read it, and the exit code a script can tell apart. */

export const exitCodes = {
  ok: 0,
  /** The job ended FAILED or CANCELLED, or with objects that failed to copy. */
  jobUnsuccessful: 1,
  /** The command line is wrong. */
  usage: 2,
  /** The API refused the request or could not be reached; not logged in; unknown bucket. */
  failure: 3,
  /** Ctrl-C while watching (the job goes on). */
  interrupted: 130,
} as const;

/** Something the operator can fix: not logged in, unknown bucket, API unreachable. */
export class CliError extends Error {}

/** The command line itself is wrong: an unknown flag, a missing or malformed value. */
export class UsageError extends CliError {
  readonly helpCommand: string;
  constructor(message: string, helpCommand = 'skybridge --help') {
    super(message);
    this.helpCommand = helpCommand;
  }
}

/** The API answered with an RFC 9457 problem. */
export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;
  readonly fieldErrors: { path: string; message: string }[];
  constructor(
    status: number,
    code: string,
    detail: string,
    fieldErrors: { path: string; message: string }[],
  ) {
    super(detail);
    this.status = status;
    this.code = code;
    this.fieldErrors = fieldErrors;
  }
}

/** The message printed for an error, and the exit code it leads to. */
export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof UsageError)
    return {
      message: `skybridge: ${error.message}\nRun "${error.helpCommand}" for the usage.`,
      exitCode: exitCodes.usage,
    };
  if (error instanceof ApiError) return { message: describeApiError(error), exitCode: exitCodes.failure };
  if (error instanceof CliError)
    return { message: `skybridge: ${error.message}`, exitCode: exitCodes.failure };
  const unexpected = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return { message: `skybridge: unexpected error: ${unexpected}`, exitCode: exitCodes.failure };
}

function describeApiError(error: ApiError): string {
  const lines = [`skybridge: the API answered ${error.status} ${error.code}: ${error.message}`];
  for (const field of error.fieldErrors) lines.push(`  ${field.path || '(body)'}: ${field.message}`);
  if (error.status === 401)
    lines.push('Log in again with "skybridge login --api URL --email EMAIL", or set SKYBRIDGE_TOKEN.');
  return lines.join('\n');
}
