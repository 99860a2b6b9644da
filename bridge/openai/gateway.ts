/** The AI gateway assembled from its parts, for the bridge process and for tests. */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { BudgetGuard } from '../../core/credits/budgets.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { AiKeyResolver } from '../../core/keys/ai-key-resolver.ts';
import type { Logger } from '../../core/logging.ts';
import type { UsageRecorder } from '../../core/metering/usage-recorder.ts';
import type { OutboundPolicy } from '../../core/net/outbound-guard.ts';
import type { OpsEndpoints } from '../../core/observability/ops-endpoints.ts';
import { OrganizationPriceCache } from '../../core/pricing/organization-prices.ts';
import type { MasterKeyring } from '../../core/secrets/keyring.ts';
import { ChatEngine } from './chat-engine.ts';
import type { FallbackPolicy } from './fallback.ts';
import { AiLimiter } from './limits.ts';
import { PolicyEngine } from './policies.ts';
import { RepositoryModels } from './repository-models.ts';
import { createOpenAiServer } from './server.ts';
import { AiSpending } from './spending.ts';

export interface ChatEngineOptions {
  em: EntityManager;
  keyring: MasterKeyring;
  outboundPolicy: OutboundPolicy;
  log: Logger;
  fallback?: FallbackPolicy;
  providerTimeoutMs?: number;
  /** How long the repositories' config lists are kept (0 in tests that change them). */
  configTtlMs?: number;
  /** How long the repositories' AI policies are kept (0 in tests that change them). */
  policyCacheTtlMs?: number;
  /** Shared with the S3 bridge in the bridge process; a guard of its own (re-reading budgets every 30 s) otherwise. */
  budgets?: BudgetGuard;
  prices?: OrganizationPriceCache;
}

export interface AiGatewayOptions extends ChatEngineOptions {
  databaseUrl: string;
  metrics?: Registry;
  usage?: UsageRecorder;
  ops?: OpsEndpoints;
}

export interface AiGateway {
  server: Server;
  engine: ChatEngine;
  /** Stops listening for key changes and pruning counters (the caller closes the server). */
  close(): Promise<void>;
}

/** The answering machinery, for the gateway here and for the API's conversations. */
export function createChatEngine(options: ChatEngineOptions): { engine: ChatEngine; stop(): void } {
  const models = new RepositoryModels({
    em: options.em,
    keyring: options.keyring,
    outboundPolicy: options.outboundPolicy,
    configTtlMs: options.configTtlMs,
  });
  const limiter = new AiLimiter({ em: options.em });
  const pruning = setInterval(() => limiter.prune().catch(() => {}), 10 * 60_000);
  pruning.unref();
  const policies = new PolicyEngine({
    em: options.em,
    keyring: options.keyring,
    outboundPolicy: options.outboundPolicy,
    log: options.log,
    cacheTtlMs: options.policyCacheTtlMs,
  });
  const spending = new AiSpending({
    guard: options.budgets ?? new BudgetGuard(options),
    prices: options.prices ?? new OrganizationPriceCache(options),
    log: options.log,
  });
  const engine = new ChatEngine({ ...options, models, limiter, policies, spending });
  return { engine, stop: () => clearInterval(pruning) };
}

export async function createAiGateway(options: AiGatewayOptions): Promise<AiGateway> {
  const keys = new AiKeyResolver({ em: options.em });
  await keys.listen(options.databaseUrl);
  const ownBudgets = options.budgets ? undefined : new BudgetGuard(options);
  await ownBudgets?.listen(options.databaseUrl);
  const { engine, stop } = createChatEngine({ ...options, budgets: options.budgets ?? ownBudgets });
  const server = createOpenAiServer({ ...options, keys, engine });
  return {
    server,
    engine,
    close: async () => {
      stop();
      await keys.close();
      await ownBudgets?.close();
    },
  };
}
