/** Worker process: `npm run worker`. Runs Skybridge's workflows and activities. */
import { createServer } from 'node:http';
import { NativeConnection, Runtime } from '@temporalio/worker';
import type { Config } from '../core/config.ts';
import { openMigratedDatabase } from '../core/db/migrate.ts';
import type { Logger } from '../core/logging.ts';
import { createGuardedAgents } from '../core/net/outbound-guard.ts';
import { createMetricsRegistry } from '../core/observability/metrics.ts';
import { createOpsEndpoints } from '../core/observability/ops-endpoints.ts';
import { databaseReadiness } from '../core/observability/readiness.ts';
import { runProcess } from '../core/process.ts';
import { loadMasterKeyring } from '../core/secrets/load.ts';
import { openTemporalClient, temporalConnectionSettings } from '../core/temporal-connection.ts';
import { ensureNodeProbeSchedule } from './node-probe-schedule.ts';
import { temporalSdkLogger } from './sdk-logger.ts';
import { createSkybridgeWorker } from './skybridge-worker.ts';
import { ensureUsageRollupSchedule } from './usage-rollup-schedule.ts';

await runProcess('worker', ['database', 'temporal', 'masterKeys'], async (config, log, tracing) => {
  // The SDK's own signal handling would race ours; runProcess owns shutdown.
  Runtime.install({ shutdownSignals: [], logger: temporalSdkLogger(log) });
  const orm = await openMigratedDatabase(config.database.url!, log);
  const settings = temporalConnectionSettings(config);
  const connection = await NativeConnection.connect({
    address: settings.address,
    tls: settings.tls,
    apiKey: settings.apiKey,
    metadata: settings.metadata,
  });
  const metrics = createMetricsRegistry('worker');
  const worker = await createSkybridgeWorker({
    connection,
    namespace: settings.namespace,
    taskQueue: config.temporal.taskQueue,
    metrics,
    tracing,
    workflowBundle: config.worker.workflowBundlePath
      ? { codePath: config.worker.workflowBundlePath }
      : undefined,
    activityDependencies: {
      em: orm.em,
      keyring: await loadMasterKeyring(config.secrets),
      storageClientOptions: createGuardedAgents(config.outbound),
      outboundPolicy: config.outbound,
    },
  });
  const ops = createOpsEndpoints({
    registry: metrics,
    readinessChecks: {
      database: databaseReadiness(orm),
      worker: async () => {
        if (worker.getState() !== 'RUNNING') throw new Error(`worker is ${worker.getState()}`);
      },
    },
  });
  const opsServer = createServer((req, res) => {
    if (!ops.handle(req, res)) res.writeHead(404).end();
  }).listen(config.worker.metricsPort, config.listenHost);
  await new Promise<void>((resolve, reject) => opsServer.once('listening', resolve).once('error', reject));

  const running = worker.run();
  log.info({ taskQueue: config.temporal.taskQueue, namespace: settings.namespace }, 'worker running');
  await setSchedules(config, log);
  running.catch((error: unknown) => {
    log.fatal({ err: error }, 'worker stopped unexpectedly');
    process.exit(1);
  });

  return {
    async stop() {
      worker.shutdown();
      await running;
      opsServer.close();
      await connection.close();
      await orm.close();
    },
  };
});

/** JOB-4's rollups and JOB-5's probes: created or updated by every worker start; a failure is logged, the worker still runs. */
async function setSchedules(config: Config, log: Logger): Promise<void> {
  const temporal = openTemporalClient(config);
  const { taskQueue } = config.temporal;
  try {
    await ensureUsageRollupSchedule(temporal.client, { taskQueue, ...config.usageRollup });
    log.info({ everySeconds: config.usageRollup.intervalSeconds }, 'usage rollup schedule set');
    await ensureNodeProbeSchedule(temporal.client, { taskQueue, ...config.nodeProbes });
    log.info({ everySeconds: config.nodeProbes.intervalSeconds }, 'node probe schedule set');
  } catch (error) {
    log.error({ err: error }, 'a schedule could not be set');
  } finally {
    await temporal.close();
  }
}
