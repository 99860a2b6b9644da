/**
 * Per-file isolation on top of the shared services: a fresh database, a
 * unique Temporal task queue, and an API (plus worker) assembled from the
 * production modules.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import type { DestinationStream } from 'pino';
import { inject } from 'vitest';
import type { ActivityDependencies } from '../../activities/index.ts';
import { type ApiDependencies, apiRoutes, createApiApp } from '../../api/app.ts';
import type { AnyRoute } from '../../api/routing/route.ts';
import { createChatEngine } from '../../bridge/openai/gateway.ts';
import { ensureBootstrapAdmin } from '../../core/auth/bootstrap-admin.ts';
import { createTokenSigner } from '../../core/auth/tokens.ts';
import { openMigratedDatabase } from '../../core/db/migrate.ts';
import type { MikroORM } from '../../core/db/orm.ts';
import { createLogger } from '../../core/logging.ts';
import { UsageRecorder } from '../../core/metering/usage-recorder.ts';
import { createGuardedAgents } from '../../core/net/outbound-guard.ts';
import { createMetricsRegistry } from '../../core/observability/metrics.ts';
import { createOpsEndpoints } from '../../core/observability/ops-endpoints.ts';
import { databaseReadiness } from '../../core/observability/readiness.ts';
import { startTracing } from '../../core/observability/tracing.ts';
import { generateMasterKey, type MasterKeyring, parseMasterKeyring } from '../../core/secrets/keyring.ts';
import { temporalReadiness } from '../../core/temporal-connection.ts';
import { ensureDatabase } from '../../scripts/services/embedded-postgres.ts';
import { createSkybridgeWorker } from '../../workers/skybridge-worker.ts';

export const services = () => inject('services');

export const quietLogger = () => createLogger({ level: 'silent', component: 'test' });

/** A new, empty database; its URL is returned. */
export async function createTestDatabase(): Promise<string> {
  const { adminUrl } = services().postgres;
  const name = `test_${randomUUID().replaceAll('-', '')}`;
  await ensureDatabase(adminUrl, name);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export const uniqueTaskQueue = () => `test-${randomUUID()}`;

/** The emulators listen on loopback; everything else stays refused. */
export const testOutboundPolicy = { allowLoopback: true, allowPrivateNetworks: false };

/** A fresh master keyring, and its text as `SKYBRIDGE_MASTER_KEYS` gives it to a child process. */
export function testKeyring(): { keyring: MasterKeyring; masterKeys: string } {
  const { id, keyBase64 } = generateMasterKey();
  const masterKeys = `${id}:${keyBase64}`;
  return { keyring: parseMasterKeyring(masterKeys, 'test keyring'), masterKeys };
}

export interface TestStack {
  baseUrl: string;
  orm: MikroORM;
  temporal: Client;
  taskQueue: string;
  admin: { email: string; password: string };
  keyring: MasterKeyring;
  /** The keyring as `SKYBRIDGE_MASTER_KEYS`, for bridge processes started on this stack's database. */
  masterKeys: string;
  databaseUrl: string;
  jwtSecret: string;
  routes: AnyRoute[];
  /** The API's usage recorder (conversations); not started: tests flush it. */
  apiUsage: UsageRecorder;
  /** Stops the stack's worker (if it has one) before `close`: jobs stay, nothing answers their queries. */
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The API and a worker on their own database and task queue, against the
 * shared Temporal. `worker: false` leaves the worker to the test (a worker
 * process it can kill: test/helpers/worker-process.ts).
 */
export async function startTestStack(
  options: {
    logDestination?: DestinationStream;
    signupMode?: ApiDependencies['signupMode'];
    worker?: boolean;
  } = {},
): Promise<TestStack> {
  const log = options.logDestination
    ? createLogger({ level: 'debug', component: 'api', destination: options.logDestination })
    : quietLogger();
  const databaseUrl = await createTestDatabase();
  const orm = await openMigratedDatabase(databaseUrl, log);
  const admin = await ensureBootstrapAdmin(orm.em, 'admin@skybridge.test');
  if (!admin) throw new Error('a fresh database must get a bootstrap admin');
  const { address, namespace } = services().temporal;
  const taskQueue = uniqueTaskQueue();
  const connection = await Connection.connect({ address });
  const temporal = new Client({ connection, namespace });
  const { keyring, masterKeys } = testKeyring();
  const jwtSecret = randomBytes(32).toString('hex');
  const worker =
    options.worker === false
      ? undefined
      : await startWorker(address, namespace, taskQueue, {
          em: orm.em,
          keyring,
          storageClientOptions: createGuardedAgents(testOutboundPolicy),
          outboundPolicy: testOutboundPolicy,
        });
  const metrics = createMetricsRegistry('api');
  const chat = createChatEngine({
    em: orm.em,
    keyring,
    outboundPolicy: testOutboundPolicy,
    log,
    configTtlMs: 0,
    fallback: {
      triesPerConfig: 2,
      baseDelayMs: 10,
      maxDelayMs: 50,
      failuresBeforeCooldown: 3,
      cooldownMs: 60_000,
    },
  });
  const usage = new UsageRecorder({ em: orm.em, log, flushIntervalMs: 3_600_000 });
  const apiDependencies: ApiDependencies = {
    em: orm.em,
    temporal,
    taskQueue,
    tokens: createTokenSigner(jwtSecret, 3600),
    signupMode: options.signupMode ?? 'open',
    keyring,
    outboundPolicy: testOutboundPolicy,
    log,
    metrics,
    ops: createOpsEndpoints({
      registry: metrics,
      readinessChecks: { database: databaseReadiness(orm), temporal: temporalReadiness(connection) },
    }),
    chat: chat.engine,
    usage,
  };
  const app = createApiApp(apiDependencies);
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    orm,
    temporal,
    taskQueue,
    admin,
    keyring,
    masterKeys,
    databaseUrl,
    jwtSecret,
    routes: apiRoutes(apiDependencies),
    apiUsage: usage,
    stopWorker: async () => {
      await worker?.stop();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      chat.stop();
      await usage.stop();
      await worker?.stop();
      await connection.close();
      await orm.close();
    },
  };
}

let runtimeInstalled = false;

/** The SDK logs worker state changes at INFO to the console; tests want only its warnings. */
function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  runtimeInstalled = true;
}

async function startWorker(
  address: string,
  namespace: string,
  taskQueue: string,
  activityDependencies: ActivityDependencies,
) {
  installQuietRuntime();
  const connection = await NativeConnection.connect({ address });
  const worker: Worker = await createSkybridgeWorker({
    connection,
    namespace,
    taskQueue,
    workflowBundle: { codePath: services().workflowBundlePath },
    tracing: await startTracing('worker', undefined),
    activityDependencies,
  });
  const running = worker.run();
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        worker.shutdown();
        await running;
        await connection.close();
      })();
      return stopped;
    },
  };
}

/** JSON over HTTP, as a client of the API would send it. */
export async function api(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string } = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests read response fields ad hoc
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined || options.rawBody !== undefined)
    headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

export async function login(
  baseUrl: string,
  credential: { email: string; password: string },
): Promise<string> {
  const response = await api(baseUrl, 'POST', '/auth/login', { body: credential });
  if (response.status !== 200)
    throw new Error(`login failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.token as string;
}

// biome-ignore lint/suspicious/noExplicitAny: API answers are read field by field in tests
type ApiAnswer = { status: number; body: any };
export type ApiCall = (method: string, path: string, body?: unknown) => Promise<ApiAnswer>;

/** The stack's API as its admin would call it. */
export async function adminApi(stack: TestStack): Promise<ApiCall> {
  const token = await login(stack.baseUrl, stack.admin);
  return (method, path, body) => api(stack.baseUrl, method, path, { token, body });
}
