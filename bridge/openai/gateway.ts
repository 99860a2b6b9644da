/** The AI gateway assembled from its parts, for the bridge process and for tests. */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { EntityManager } from '../../core/db/orm.ts';
import { AiKeyResolver } from '../../core/keys/ai-key-resolver.ts';
import type { Logger } from '../../core/logging.ts';
import type { UsageRecorder } from '../../core/metering/usage-recorder.ts';
import type { OutboundPolicy } from '../../core/net/outbound-guard.ts';
import type { OpsEndpoints } from '../../core/observability/ops-endpoints.ts';
import type { MasterKeyring } from '../../core/secrets/keyring.ts';
import type { FallbackPolicy } from './fallback.ts';
import { AiLimiter } from './limits.ts';
import { RepositoryModels } from './repository-models.ts';
import { createOpenAiServer } from './server.ts';

export interface AiGatewayOptions {
  em: EntityManager;
  keyring: MasterKeyring;
  databaseUrl: string;
  outboundPolicy: OutboundPolicy;
  log: Logger;
  metrics?: Registry;
  usage?: UsageRecorder;
  ops?: OpsEndpoints;
  fallback?: FallbackPolicy;
  providerTimeoutMs?: number;
  /** How long the repositories' config lists are kept (0 in tests that change them). */
  configTtlMs?: number;
}

export interface AiGateway {
  server: Server;
  models: RepositoryModels;
  /** Stops listening for key changes (the caller closes the server). */
  close(): Promise<void>;
}

export async function createAiGateway(options: AiGatewayOptions): Promise<AiGateway> {
  const keys = new AiKeyResolver({ em: options.em });
  await keys.listen(options.databaseUrl);
  const models = new RepositoryModels({
    em: options.em,
    keyring: options.keyring,
    outboundPolicy: options.outboundPolicy,
    configTtlMs: options.configTtlMs,
  });
  const limiter = new AiLimiter({ em: options.em });
  const pruning = setInterval(() => limiter.prune().catch(() => {}), 10 * 60_000);
  pruning.unref();
  const server = createOpenAiServer({ ...options, keys, models, limiter });
  return {
    server,
    models,
    close: async () => {
      clearInterval(pruning);
      await keys.close();
    },
  };
}
