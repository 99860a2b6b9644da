/**
 * `npm start`: the whole platform on one machine. External PostgreSQL and
 * Temporal are used when DATABASE_URL / TEMPORAL_ADDRESS are set; otherwise
 * embedded ones are started, with their data under SKYBRIDGE_DATA_DIR so the
 * next start finds it again. Ctrl-C stops everything.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureBootstrapAdmin, formatBootstrapCredential } from '../core/auth/bootstrap-admin.ts';
import { type Config, ConfigError, childProcessEnv, loadConfig, variableIsSet } from '../core/config.ts';
import { openMigratedDatabase } from '../core/db/migrate.ts';
import { createLogger } from '../core/logging.ts';
import { generateMasterKey } from '../core/secrets/keyring.ts';
import { buildRuntime, builtEntry } from './build.ts';
import { type ChildService, httpOk, startChildService } from './services/child-service.ts';
import { stopDemoServices } from './services/demo-services.ts';
import { startEmbeddedPostgres } from './services/embedded-postgres.ts';
import { BRIDGE_NODE_ARGS, bridgeEnv, WORKER_NODE_ARGS } from './services/node-settings.ts';
import { startTemporalDevServer } from './services/temporal-dev-server.ts';
import { ensureGoTool, projectRoot } from './tools.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);
const started: { name: string; stop(): Promise<void> }[] = [];
let shuttingDown = false;
let dataDir: string | undefined;

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  dataDir = config.dataDir;
  const startedAt = Date.now();
  const logsDir = path.join(config.dataDir, 'logs');
  await mkdir(logsDir, { recursive: true });
  process.once('SIGINT', () => shutdown('SIGINT', 0));
  process.once('SIGTERM', () => shutdown('SIGTERM', 0));
  // Meanwhile the services start; the worker then loads the bundle instead of building it (bundle-workflows.ts says why).
  const workflowBundle = config.worker.workflowBundlePath ?? bundleWorkflows(config.dataDir);
  // The components run compiled (build.ts says why); the build too runs meanwhile.
  const built = buildRuntime();
  built.catch(() => {}); // awaited below, once the services are up

  const databaseUrl = config.database.url ?? (await startDatabase(config, logsDir));
  const temporal = config.temporal.address
    ? { address: config.temporal.address, uiUrl: undefined }
    : await startTemporal(config, logsDir);
  const jwtSecret =
    config.auth.jwtSecret ?? (await loadOrCreateSecret(path.join(config.dataDir, 'jwt-secret'), randomHex));
  const hasMasterKeys = config.secrets.masterKeys || config.secrets.masterKeyFile;
  const masterKeyFile = hasMasterKeys
    ? config.secrets.masterKeyFile
    : path.join(config.dataDir, 'master.keys');
  if (masterKeyFile && !hasMasterKeys) await loadOrCreateSecret(masterKeyFile, newMasterKeyLine);
  const credential = await prepareDatabase(config, databaseUrl);

  const env = childProcessEnv({
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    JWT_SECRET: jwtSecret,
    SKYBRIDGE_DATA_DIR: config.dataDir,
    SKYBRIDGE_MASTER_KEY_FILE: masterKeyFile,
    // The embedded stack's own services (and local emulators) listen on loopback.
    OUTBOUND_ALLOW_LOOPBACK: variableIsSet('OUTBOUND_ALLOW_LOOPBACK') ? undefined : 'true',
    WORKFLOW_BUNDLE_PATH: await workflowBundle,
  });
  await built;
  const host = reachableHost(config.listenHost);
  await Promise.all([
    startComponent(
      'worker',
      'workers/main.ts',
      env,
      `http://${host}:${config.worker.metricsPort}/readyz`,
      logsDir,
      WORKER_NODE_ARGS,
    ),
    startComponent('api', 'api/main.ts', env, `http://${host}:${config.api.port}/readyz`, logsDir),
    startComponent(
      'bridge',
      'bridge/main.ts',
      bridgeEnv(env),
      `http://${host}:${config.bridge.openaiPort}/readyz`,
      logsDir,
      BRIDGE_NODE_ARGS,
    ),
  ]);

  say('');
  say(`Skybridge is ready (${((Date.now() - startedAt) / 1000).toFixed(1)} s):`);
  say(`  API (control plane)      http://${host}:${config.api.port}`);
  say(`  S3 bridge                http://${host}:${config.bridge.s3Port}`);
  say(`  OpenAI-compatible bridge http://${host}:${config.bridge.openaiPort}/v1`);
  say(`  Worker metrics           http://${host}:${config.worker.metricsPort}/metrics`);
  if (temporal.uiUrl) say(`  Temporal UI              ${temporal.uiUrl}`);
  say(`  Temporal frontend        ${temporal.address} (namespace ${config.temporal.namespace})`);
  say(
    `  PostgreSQL               ${config.database.url ? 'external (DATABASE_URL)' : `embedded, port ${config.database.embeddedPort}`}`,
  );
  say(`  Data and logs            ${config.dataDir}`);
  say('');
  say(
    credential
      ? formatBootstrapCredential(credential)
      : 'Admin account: created on an earlier start (its credential was shown then).',
  );
  say('');
  say('Press Ctrl-C to stop.');
}

/** Writes the workflow bundle in a short-lived process; its path. */
async function bundleWorkflows(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'workflow-bundle.js');
  await promisify(execFile)(process.execPath, [path.join(projectRoot, 'scripts/bundle-workflows.ts'), file]);
  return file;
}

function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`skybridge: ${error.message}\n`);
    process.exit(78);
  }
}

async function startDatabase(config: Config, logsDir: string): Promise<string> {
  say(`skybridge: starting embedded PostgreSQL on port ${config.database.embeddedPort}...`);
  const postgres = await startEmbeddedPostgres({
    rootDir: config.database.embeddedDataDir,
    port: config.database.embeddedPort,
    logFile: path.join(logsDir, 'postgres.log'),
  });
  track('postgres', postgres.service);
  await postgres.ensureDatabase('skybridge');
  return postgres.databaseUrl('skybridge');
}

async function startTemporal(config: Config, logsDir: string): Promise<{ address: string; uiUrl?: string }> {
  const temporalBinary = await ensureGoTool('temporal', say);
  say(`skybridge: starting the Temporal dev server on port ${config.temporal.devServerPort}...`);
  const temporal = await startTemporalDevServer({
    temporalBinary,
    port: config.temporal.devServerPort,
    uiPort: config.temporal.devUiPort,
    dbFile: config.temporal.devDbFile,
    namespace: config.temporal.namespace,
    logFile: path.join(logsDir, 'temporal.log'),
  });
  track('temporal', temporal.service);
  return temporal;
}

async function prepareDatabase(config: Config, databaseUrl: string) {
  const orm = await openMigratedDatabase(databaseUrl, createLogger({ level: 'warn', component: 'start' }));
  try {
    return await ensureBootstrapAdmin(orm.em, config.auth.bootstrapAdminEmail);
  } finally {
    await orm.close();
  }
}

async function startComponent(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  readyUrl: string,
  logsDir: string,
  nodeArgs: readonly string[] = [],
) {
  const service = await startChildService({
    name,
    command: process.execPath,
    args: [...nodeArgs, builtEntry(entry)],
    cwd: projectRoot,
    env,
    logFile: path.join(logsDir, `${name}.log`),
    isReady: () => httpOk(readyUrl),
    readyTimeoutMs: 120_000,
  });
  track(name, service);
}

/** Remembers a service for shutdown, and takes the platform down if it dies on its own. */
function track(name: string, service: ChildService): void {
  started.push({ name, stop: () => service.stop() });
  service.exited.then(({ code, signal }) => {
    if (shuttingDown) return;
    process.stderr.write(
      `skybridge: ${name} exited unexpectedly (code ${code}, signal ${signal}); see ${service.logFile}\n`,
    );
    shutdown('failure', 1);
  });
}

async function shutdown(reason: string, exitCode: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  say(`\nskybridge: stopping (${reason})...`);
  // Skybridge's own processes first, then what they depend on.
  for (const service of [...started].reverse()) {
    await service
      .stop()
      .catch((error: unknown) =>
        process.stderr.write(`skybridge: stopping ${service.name}: ${String(error)}\n`),
      );
  }
  if (dataDir) await stopDemoServices(dataDir);
  say('skybridge: stopped; data kept for the next start.');
  process.exit(exitCode);
}

const randomHex = () => randomBytes(32).toString('hex');

function newMasterKeyLine(): string {
  const { id, keyBase64 } = generateMasterKey();
  return `${id}:${keyBase64}`;
}

/** Reads a generated secret from the data folder, creating it (readable by the owner only) on first start. */
async function loadOrCreateSecret(file: string, generate: () => string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const secret = generate();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** 0.0.0.0 and :: are where a server listens, not an address to open in a browser. */
function reachableHost(listenHost: string): string {
  return listenHost === '0.0.0.0' || listenHost === '::' ? '127.0.0.1' : listenHost;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `skybridge: start failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  void shutdown('start failed', 1);
});
