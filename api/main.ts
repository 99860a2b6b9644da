/** Control-plane process: `npm run api`. */
import type { AddressInfo } from 'node:net';
import { createChatEngine } from '../bridge/openai/gateway.ts';
import { ensureBootstrapAdmin, formatBootstrapCredential } from '../core/auth/bootstrap-admin.ts';
import { createTokenSigner } from '../core/auth/tokens.ts';
import { openMigratedDatabase } from '../core/db/migrate.ts';
import { UsageRecorder } from '../core/metering/usage-recorder.ts';
import { createMetricsRegistry } from '../core/observability/metrics.ts';
import { createOpsEndpoints } from '../core/observability/ops-endpoints.ts';
import { databaseReadiness } from '../core/observability/readiness.ts';
import { runProcess } from '../core/process.ts';
import { loadMasterKeyring } from '../core/secrets/load.ts';
import { openTemporalClient, temporalReadiness } from '../core/temporal-connection.ts';
import { createApiApp } from './app.ts';

await runProcess('api', ['database', 'temporal', 'jwt', 'masterKeys'], async (config, log) => {
  const orm = await openMigratedDatabase(config.database.url!, log);
  const credential = await ensureBootstrapAdmin(orm.em, config.auth.bootstrapAdminEmail);
  // Straight to the operator's terminal, never into the log stream.
  if (credential) process.stdout.write(`\n${formatBootstrapCredential(credential)}\n\n`);

  const temporal = openTemporalClient(config);
  const metrics = createMetricsRegistry('api');
  const ops = createOpsEndpoints({
    registry: metrics,
    readinessChecks: { database: databaseReadiness(orm), temporal: temporalReadiness(temporal.connection) },
  });
  const keyring = await loadMasterKeyring(config.secrets);
  const usage = new UsageRecorder({ em: orm.em, log, metrics });
  usage.start();
  const chat = createChatEngine({ em: orm.em, keyring, outboundPolicy: config.outbound, log });
  const app = createApiApp({
    em: orm.em,
    temporal: temporal.client,
    taskQueue: config.temporal.taskQueue,
    tokens: createTokenSigner(config.auth.jwtSecret!, config.auth.jwtTtlSeconds),
    signupMode: config.auth.signupMode,
    keyring,
    outboundPolicy: config.outbound,
    log,
    metrics,
    ops,
    chat: chat.engine,
    usage,
  });
  const server = app.listen(config.api.port, config.listenHost);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  log.info({ url: `http://${config.listenHost}:${port}` }, 'api listening');

  return {
    async stop() {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      chat.stop();
      await usage.stop();
      await temporal.close();
      await orm.close();
    },
  };
});
