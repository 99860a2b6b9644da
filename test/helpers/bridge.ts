/** The S3 bridge assembled from its production modules, on a test stack's database. */
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
import type { Registry } from 'prom-client';
import { createS3Authenticator } from '../../bridge/s3/authenticate.ts';
import { MultipartUploads } from '../../bridge/s3/multipart-uploads.ts';
import { RepositoryBuckets } from '../../bridge/s3/repository-buckets.ts';
import { createS3Server } from '../../bridge/s3/server.ts';
import { S3Spending } from '../../bridge/s3/spending.ts';
import { VirtualBuckets } from '../../bridge/s3/virtual-buckets.ts';
import { BucketCaps } from '../../core/buckets/caps.ts';
import { BudgetGuard } from '../../core/credits/budgets.ts';
import { StorageKeyResolver } from '../../core/keys/storage-key-resolver.ts';
import {
  type UsageEventInput,
  UsageRecorder,
  type UsageRecorderOptions,
} from '../../core/metering/usage-recorder.ts';
import { createGuardedAgents } from '../../core/net/outbound-guard.ts';
import { createMetricsRegistry } from '../../core/observability/metrics.ts';
import { OrganizationPriceCache } from '../../core/pricing/organization-prices.ts';
import { slaReputationSource } from '../../core/routing/sla-reputation.ts';
import { quietLogger, type TestStack, testOutboundPolicy } from './context.ts';
import { S3OperationLog } from './s3-operation-log.ts';

/** The production recorder, also telling the operation log what it meters. */
class ObservedUsageRecorder extends UsageRecorder {
  readonly #operations: S3OperationLog;
  constructor(options: UsageRecorderOptions, operations: S3OperationLog) {
    super(options);
    this.#operations = operations;
  }
  override record(event: UsageEventInput): void {
    this.#operations.observe(event);
    super.record(event);
  }
}

export interface TestBridge {
  endpoint: string;
  keys: StorageKeyResolver;
  /** The bridge's own bucket stores, for tests that watch what the bridge asks of a backend. */
  buckets: RepositoryBuckets;
  /** The process's Prometheus registry, as `/metrics` would render it. */
  metrics: Registry;
  /** Not started: tests call `usage.flush()` when they want the events written. */
  usage: UsageRecorder;
  client(credentials: { accessKeyId: string; secretAccessKey: string }): S3Client;
  close(): Promise<void>;
}

export async function startTestBridge(
  stack: TestStack,
  options: { virtualHostSuffix?: string } = {},
): Promise<TestBridge> {
  const keys = new StorageKeyResolver({ em: stack.orm.em, keyring: stack.keyring });
  await keys.listen(stack.databaseUrl);
  const caps = new BucketCaps({ em: stack.orm.em });
  const buckets = new RepositoryBuckets({
    em: stack.orm.em,
    keyring: stack.keyring,
    clientOptions: createGuardedAgents(testOutboundPolicy),
    virtualBuckets: new VirtualBuckets({
      em: stack.orm.em,
      caps,
      reputation: slaReputationSource(stack.orm.em),
    }),
    ttlMs: 0,
  });
  const operations = new S3OperationLog();
  const metrics = createMetricsRegistry('bridge');
  const usage = new ObservedUsageRecorder({ em: stack.orm.em, log: quietLogger() }, operations);
  const budgets = new BudgetGuard({
    em: stack.orm.em,
    outboundPolicy: testOutboundPolicy,
    log: quietLogger(),
  });
  await budgets.listen(stack.databaseUrl);
  const prices = new OrganizationPriceCache({ em: stack.orm.em, ttlMs: 0 });
  const server = createS3Server({
    authenticate: createS3Authenticator(keys),
    buckets,
    uploads: new MultipartUploads(stack.orm.em),
    caps,
    spending: new S3Spending({ guard: budgets, prices, log: quietLogger() }),
    virtualHostSuffix: options.virtualHostSuffix,
    log: quietLogger(),
    metrics,
    usage,
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: S3Client[] = [];
  return {
    endpoint,
    keys,
    buckets,
    metrics,
    usage,
    client(credentials) {
      const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) client.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await usage.stop();
      await keys.close();
      await budgets.close();
      await operations.write(stack.orm.em);
    },
  };
}
