/** The AI gateway assembled from its production modules, on a test stack's database, with the `openai` SDK as client. */
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import type { Registry } from 'prom-client';
import type { FallbackPolicy } from '../../bridge/openai/fallback.ts';
import { createAiGateway } from '../../bridge/openai/gateway.ts';
import { UsageRecorder } from '../../core/metering/usage-recorder.ts';
import { createMetricsRegistry } from '../../core/observability/metrics.ts';
import { OrganizationPriceCache } from '../../core/pricing/organization-prices.ts';
import type { FakeProvider } from '../fakes/index.ts';
import { type ApiCall, quietLogger, type TestStack, testOutboundPolicy } from './context.ts';

export interface TestAiGateway {
  /** What apps set as the openai SDK's `baseURL` (`FB_OPENAI_BASE_URL`). */
  baseURL: string;
  /** The process's Prometheus registry, as `/metrics` would render it. */
  metrics: Registry;
  /** Not started: tests call `usage.flush()` when they want the events written. */
  usage: UsageRecorder;
  client(apiKey: string, options?: { maxRetries?: number }): OpenAI;
  close(): Promise<void>;
}

/** Quick retries so fallback tests do not wait on real backoff. */
export const testFallbackPolicy: FallbackPolicy = {
  triesPerConfig: 2,
  baseDelayMs: 10,
  maxDelayMs: 50,
  failuresBeforeCooldown: 3,
  cooldownMs: 60_000,
};

export async function startTestAiGateway(
  stack: TestStack,
  options: { fallback?: FallbackPolicy; providerTimeoutMs?: number } = {},
): Promise<TestAiGateway> {
  const usage = new UsageRecorder({ em: stack.orm.em, log: quietLogger(), flushIntervalMs: 3_600_000 });
  const metrics = createMetricsRegistry('bridge');
  const gateway = await createAiGateway({
    em: stack.orm.em,
    keyring: stack.keyring,
    databaseUrl: stack.databaseUrl,
    outboundPolicy: testOutboundPolicy,
    log: quietLogger(),
    metrics,
    usage,
    fallback: options.fallback ?? testFallbackPolicy,
    providerTimeoutMs: options.providerTimeoutMs ?? 5_000,
    configTtlMs: 0,
    policyCacheTtlMs: 0,
    prices: new OrganizationPriceCache({ em: stack.orm.em, ttlMs: 0 }),
  });
  gateway.server.listen(0, '127.0.0.1');
  await new Promise((resolve) => gateway.server.once('listening', resolve));
  const baseURL = `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}/v1`;
  return {
    baseURL,
    metrics,
    usage,
    client: (apiKey, clientOptions = {}) =>
      new OpenAI({ apiKey, baseURL, maxRetries: clientOptions.maxRetries ?? 0 }),
    async close() {
      gateway.server.closeAllConnections();
      await new Promise((resolve) => gateway.server.close(resolve));
      await gateway.close();
    },
  };
}

/** Registers `fake` through the API as an AI LLM config named `name`; its id. */
export async function registerFakeConfig(call: ApiCall, name: string, fake: FakeProvider): Promise<string> {
  const created = await call('POST', '/ai/llm', {
    name,
    type: fake.type,
    apiEndpoint: fake.baseUrl,
    ...fake.credentials,
  });
  if (created.status !== 201)
    throw new Error(`registering the AI config ${name} failed: ${JSON.stringify(created.body)}`);
  return created.body.id;
}
