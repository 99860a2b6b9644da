/**
 * One bridge: the S3 and OpenAI-compatible listeners on the database, the
 * master keys and the caches they share. It starts no job and reads none, so
 * it needs no Temporal (nor the ~18 MB its client keeps).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BucketCaps } from '../core/buckets/caps.ts';
import type { Config } from '../core/config.ts';
import { BudgetGuard } from '../core/credits/budgets.ts';
import { openMigratedDatabase } from '../core/db/migrate.ts';
import { StorageKeyResolver } from '../core/keys/storage-key-resolver.ts';
import type { Logger } from '../core/logging.ts';
import { UsageRecorder } from '../core/metering/usage-recorder.ts';
import { createGuardedAgents } from '../core/net/outbound-guard.ts';
import { BridgeNodeRegistration, bridgeNodeIdentity, listenerUrl } from '../core/nodes/registration.ts';
import { createMetricsRegistry } from '../core/observability/metrics.ts';
import { createOpsEndpoints } from '../core/observability/ops-endpoints.ts';
import { databaseReadiness } from '../core/observability/readiness.ts';
import { OrganizationPriceCache } from '../core/pricing/organization-prices.ts';
import type { Started } from '../core/process.ts';
import { slaReputationSource } from '../core/routing/sla-reputation.ts';
import { loadMasterKeyring } from '../core/secrets/load.ts';
import { createAiGateway } from './openai/gateway.ts';
import { announceReady, clusterMetricsOf, isBridgeProcessOfMany } from './processes.ts';
import { createS3Authenticator } from './s3/authenticate.ts';
import { MultipartUploads } from './s3/multipart-uploads.ts';
import { RepositoryBuckets } from './s3/repository-buckets.ts';
import { createS3Server } from './s3/server.ts';
import { S3Spending } from './s3/spending.ts';
import { VirtualBuckets } from './s3/virtual-buckets.ts';

export async function serveBridge(config: Config, log: Logger): Promise<Started> {
  const oneOfMany = isBridgeProcessOfMany();
  const orm = await openMigratedDatabase(config.database.url!, log);
  const keyring = await loadMasterKeyring(config.secrets);
  const metrics = createMetricsRegistry('bridge');
  const ops = createOpsEndpoints({
    registry: metrics,
    readinessChecks: { database: databaseReadiness(orm) },
    metricsText: oneOfMany ? clusterMetricsOf(metrics) : undefined,
  });
  const usage = new UsageRecorder({ em: orm.em, log, metrics });
  usage.start();
  const keys = new StorageKeyResolver({ em: orm.em, keyring });
  await keys.listen(config.database.url!);
  const budgets = new BudgetGuard({ em: orm.em, outboundPolicy: config.outbound, log });
  await budgets.listen(config.database.url!);
  const prices = new OrganizationPriceCache({ em: orm.em });
  const caps = new BucketCaps({ em: orm.em });
  const buckets = new RepositoryBuckets({
    em: orm.em,
    keyring,
    clientOptions: createGuardedAgents(config.outbound),
    virtualBuckets: new VirtualBuckets({ em: orm.em, caps, reputation: slaReputationSource(orm.em) }),
  });
  const s3Server = createS3Server({
    authenticate: createS3Authenticator(keys),
    buckets,
    uploads: new MultipartUploads(orm.em),
    caps,
    spending: new S3Spending({ guard: budgets, prices, log }),
    virtualHostSuffix: config.bridge.s3VirtualHostSuffix,
    log,
    metrics,
    usage,
  });
  const s3 = await listen(s3Server, config.bridge.s3Port, config.listenHost);
  const gateway = await createAiGateway({
    em: orm.em,
    keyring,
    databaseUrl: config.database.url!,
    outboundPolicy: config.outbound,
    log,
    metrics,
    usage,
    ops,
    budgets,
    prices,
  });
  const openai = await listen(gateway.server, config.bridge.openaiPort, config.listenHost);
  const identity = bridgeNodeIdentity(config.bridgeNode, {
    s3Url: listenerUrl(config.listenHost, portOf(s3)),
    openaiUrl: listenerUrl(config.listenHost, portOf(openai)),
  });
  const node = await BridgeNodeRegistration.register(orm.em, identity, log);
  log.info({ node: node.label, s3: identity.address, openai: identity.openaiAddress }, 'bridge listening');
  if (oneOfMany) announceReady();

  return {
    async stop() {
      await Promise.all([close(s3), close(openai)]);
      await node.stop();
      await usage.stop();
      await keys.close();
      await budgets.close();
      await gateway.close();
      await orm.close();
    },
  };
}

async function listen(server: Server, port: number, host: string): Promise<Server> {
  server.listen(port, host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return server;
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function close(server: Server): Promise<void> {
  server.closeIdleConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
