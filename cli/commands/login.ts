/** `skybridge login`: trade email and password for a session token, kept in a file only its owner can read. */
import { createInterface } from 'node:readline';
import { read } from 'read';
import { createApiClient } from '../api-client.ts';
import { expectPositionals, helpFlag, parseCommandLine, requiredFlag } from '../args.ts';
import type { CliContext } from '../context.ts';
import { saveCredentials } from '../credentials.ts';
import { CliError, exitCodes, UsageError } from '../errors.ts';

const help = 'skybridge login --help';

export const loginUsage = `Usage:
  skybridge login --api URL --email EMAIL

The password comes from SKYBRIDGE_PASSWORD, or is asked for (not echoed); a
password piped to standard input is read from its first line. The session
token is stored in $XDG_CONFIG_HOME/skybridge/credentials.json (default
~/.config), readable by you only. SKYBRIDGE_API_URL and SKYBRIDGE_TOKEN, when
set, win over the stored login in every command.`;

const loginFlags = { ...helpFlag, api: { type: 'string' }, email: { type: 'string' } } as const;

export async function runLoginCommand(args: string[], context: CliContext): Promise<number> {
  const { values, positionals } = parseCommandLine(args, loginFlags, help);
  if (values.help) {
    context.stdout.write(`${loginUsage}\n`);
    return exitCodes.ok;
  }
  expectPositionals(positionals, [], help);
  const apiUrl = apiUrlFlag(values.api ?? context.env.SKYBRIDGE_API_URL);
  const email = requiredFlag('email', values.email, help);
  const password = context.env.SKYBRIDGE_PASSWORD || (await askPassword(context));
  const session = await createApiClient({ apiUrl }).request<{ token: string; expiresAt: string }>(
    'POST',
    '/auth/login',
    { body: { email, password } },
  );
  const path = await saveCredentials(context.env, { apiUrl, email, ...session });
  context.stdout.write(
    `Logged in to ${apiUrl} as ${email} until ${session.expiresAt}.\nSession saved in ${path}.\n`,
  );
  return exitCodes.ok;
}

function apiUrlFlag(raw: string | undefined): string {
  const value = requiredFlag('api', raw, help);
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new UsageError(`--api must be an http(s) URL, not "${value}"`, help);
  return value.replace(/\/+$/, '');
}

/** From the terminal without echo; from a pipe, its first line. */
async function askPassword(context: CliContext): Promise<string> {
  const password = context.stdin.isTTY
    ? await read({
        prompt: 'Password:',
        silent: true,
        replace: '',
        input: context.stdin,
        output: context.stderr,
      })
    : await firstLine(context.stdin);
  if (!password) throw new CliError('no password: type it when asked, pipe it in, or set SKYBRIDGE_PASSWORD');
  return password;
}

async function firstLine(input: NodeJS.ReadableStream): Promise<string | undefined> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  return undefined;
}
