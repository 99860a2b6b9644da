/**
 * The `skybridge` operator CLI (UI-3): `login`, and `migrate` to start,
 * watch and steer migrations through the API. The only module that reads
 * `process`: commands get what they need through a CliContext.
 */
import { runLoginCommand } from './commands/login.ts';
import { runMigrateCommand } from './commands/migrate.ts';
import type { CliContext } from './context.ts';
import { describeError, exitCodes, UsageError } from './errors.ts';

const usage = `Usage: skybridge <command> [options]

Commands:
  login     log in to a Skybridge API and keep the session token
  migrate   migrate objects between buckets, and watch or steer a migration

Run "skybridge <command> --help" for a command's options.
Environment: SKYBRIDGE_API_URL and SKYBRIDGE_TOKEN win over the stored login;
SKYBRIDGE_PASSWORD gives login its password.`;

const commands: Record<string, (args: string[], context: CliContext) => Promise<number>> = {
  login: runLoginCommand,
  migrate: runMigrateCommand,
};

async function run(args: string[], context: CliContext): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    context.stdout.write(`${usage}\n`);
    return name === undefined ? exitCodes.usage : exitCodes.ok;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command "${name}"`);
  return command(rest, context);
}

const context: CliContext = {
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  onInterrupt(listener) {
    process.on('SIGINT', listener);
    return () => process.off('SIGINT', listener);
  },
};

try {
  process.exitCode = await run(process.argv.slice(2), context);
} catch (error) {
  const { message, exitCode } = describeError(error);
  process.stderr.write(`${message}\n`);
  process.exitCode = exitCode;
}
