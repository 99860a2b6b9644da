/**
 * Where the CLI finds the API and its token: `SKYBRIDGE_API_URL` and
 * `SKYBRIDGE_TOKEN` win; otherwise the file `skybridge login` wrote, readable
 * by its owner only.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { ApiConnection } from './api-client.ts';
import type { CliContext } from './context.ts';
import { CliError } from './errors.ts';

const storedCredentials = z.object({
  apiUrl: z.url(),
  email: z.string(),
  token: z.string().min(1),
  expiresAt: z.iso.datetime({ offset: true }),
});
export type StoredCredentials = z.infer<typeof storedCredentials>;

const notLoggedIn =
  'not logged in: run "skybridge login --api URL --email EMAIL", or set SKYBRIDGE_API_URL and SKYBRIDGE_TOKEN';

/** `$XDG_CONFIG_HOME/skybridge/credentials.json`, `~/.config` when it is unset. */
export function credentialsPath(env: CliContext['env']): string {
  const configHome = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(configHome, 'skybridge', 'credentials.json');
}

/** Written to a fresh 0600 file, then renamed over the old one: never readable by others, even for a moment. */
export async function saveCredentials(
  env: CliContext['env'],
  credentials: StoredCredentials,
): Promise<string> {
  const path = credentialsPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await rename(temporary, path);
  return path;
}

async function readStoredCredentials(env: CliContext['env']): Promise<StoredCredentials | undefined> {
  const path = credentialsPath(env);
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${path}: ${error.message}`);
  });
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const credentials = storedCredentials.safeParse(parsed);
  if (!credentials.success) throw new CliError(`${path} is damaged: run "skybridge login" again`);
  return credentials.data;
}

/** The API URL and token for a command: the environment's, else the stored login's. */
export async function resolveConnection(env: CliContext['env']): Promise<Required<ApiConnection>> {
  const stored = await readStoredCredentials(env);
  const apiUrl = env.SKYBRIDGE_API_URL || stored?.apiUrl;
  const token = env.SKYBRIDGE_TOKEN || stored?.token;
  if (!apiUrl || !token) throw new CliError(notLoggedIn);
  if (!env.SKYBRIDGE_TOKEN && stored && Date.parse(stored.expiresAt) <= Date.now())
    throw new CliError(
      `the session of ${stored.email} expired at ${stored.expiresAt}: run "skybridge login" again`,
    );
  return { apiUrl, token };
}
