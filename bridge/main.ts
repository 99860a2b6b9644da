/** Data-plane process: `npm run bridge`. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openMigratedDatabase } from '../core/db/migrate.ts';
import { createMetricsRegistry } from '../core/observability/metrics.ts';
import { createOpsEndpoints } from '../core/observability/ops-endpoints.ts';
import { databaseReadiness } from '../core/observability/readiness.ts';
import { runProcess } from '../core/process.ts';
import { openTemporalClient, temporalReadiness } from '../core/temporal-connection.ts';
import { createOpenAiServer, createS3Server } from './server.ts';

await runProcess('bridge', ['database', 'temporal'], async (config, log) => {
  const orm = await openMigratedDatabase(config.database.url!, log);
  const temporal = openTemporalClient(config);
  const ops = createOpsEndpoints({
    registry: createMetricsRegistry('bridge'),
    readinessChecks: { database: databaseReadiness(orm), temporal: temporalReadiness(temporal.connection) },
  });
  const s3 = await listen(createS3Server(), config.bridge.s3Port, config.listenHost);
  const openai = await listen(createOpenAiServer(ops), config.bridge.openaiPort, config.listenHost);
  log.info(
    { s3: urlOf(s3, config.listenHost), openai: `${urlOf(openai, config.listenHost)}/v1` },
    'bridge listening',
  );

  return {
    async stop() {
      await Promise.all([close(s3), close(openai)]);
      await temporal.close();
      await orm.close();
    },
  };
});

async function listen(server: Server, port: number, host: string): Promise<Server> {
  server.listen(port, host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return server;
}

function urlOf(server: Server, host: string): string {
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

function close(server: Server): Promise<void> {
  server.closeIdleConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
