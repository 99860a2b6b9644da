/**
 * Starts every real service the tests need, once per run: PostgreSQL, the
 * Temporal dev server, MinIO, fake-gcs-server and Azurite, on free ports, with
 * their data in a temporary folder. Test files get isolated state on top
 * (their own database, task queue, buckets) through test/helpers/context.ts.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../scripts/services/embedded-postgres.ts';
import { startAzurite, startFakeGcsServer, startMinio } from '../../scripts/services/emulators.ts';
import { freePort } from '../../scripts/services/free-port.ts';
import { makeScratchDir } from '../../scripts/services/scratch-dir.ts';
import { startTemporalDevServer } from '../../scripts/services/temporal-dev-server.ts';
import { ensureGoTool, projectRoot } from '../../scripts/tools.ts';
import { workflowBundleOptions } from '../../workers/skybridge-worker.ts';
import { s3OperationsDir } from './s3-operation-log.ts';
import type { HarnessServices } from './services.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await rm(s3OperationsDir, { recursive: true, force: true });
  const root = await makeScratchDir('skybridge-test-');
  const logs = path.join(root, 'logs');
  const [temporalBinary, minioBinary, gcsBinary] = await Promise.all([
    ensureGoTool('temporal'),
    ensureGoTool('minio'),
    ensureGoTool('fake-gcs-server'),
  ]);
  const stops: (() => Promise<void>)[] = [];
  const teardown = async () => {
    await Promise.allSettled(stops.map((stop) => stop()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    const [postgres, temporal, minio, gcs, azurite, workflowBundlePath] = await Promise.all([
      startEmbeddedPostgres({
        rootDir: path.join(root, 'postgres'),
        port: await freePort(),
        logFile: path.join(logs, 'postgres.log'),
      }).then(track),
      startTemporalDevServer({
        temporalBinary,
        port: await freePort(),
        dbFile: path.join(root, 'temporal.db'),
        namespace: 'default',
        logFile: path.join(logs, 'temporal.log'),
      }).then(track),
      startMinio({
        binary: minioBinary,
        port: await freePort(),
        consolePort: await freePort(),
        dataDir: path.join(root, 'minio'),
        logFile: path.join(logs, 'minio.log'),
      }).then(track),
      startFakeGcsServer({
        binary: gcsBinary,
        port: await freePort(),
        dataDir: path.join(root, 'gcs'),
        logFile: path.join(logs, 'fake-gcs-server.log'),
      }).then(track),
      startAzurite({
        projectRoot,
        port: await freePort(),
        dataDir: path.join(root, 'azurite'),
        logFile: path.join(logs, 'azurite.log'),
      }).then(track),
      bundleWorkflows(root),
    ]);
    const services: HarnessServices = {
      rootDir: root,
      postgres: { adminUrl: postgres.databaseUrl('postgres') },
      temporal: { address: temporal.address, namespace: 'default' },
      minio: {
        endpoint: minio.endpoint,
        accessKeyId: minio.accessKeyId,
        secretAccessKey: minio.secretAccessKey,
      },
      gcs: { endpoint: gcs.endpoint },
      azurite: { endpoint: azurite.endpoint, connectionString: azurite.connectionString },
      workflowBundlePath,
    };
    project.provide('services', services);
    return teardown;
  } catch (error) {
    await teardown();
    throw error;
  }

  function track<T extends { stop(): Promise<void> }>(service: T): T {
    stops.push(() => service.stop());
    return service;
  }
}

async function bundleWorkflows(root: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ ...workflowBundleOptions, logger: silentLogger });
  const file = path.join(root, 'workflow-bundle.js');
  await writeFile(file, code);
  return file;
}

const silentLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
