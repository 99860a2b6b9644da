/**
 * AI limits hold across bridges: two real bridge processes (`bridge/main.ts`)
 * on one database, hammered at once. A token budget is overshot by at most
 * the requests in flight when it was reached; a per-minute request limit is
 * shared.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/services/free-port.ts';
import { projectRoot } from '../../scripts/tools.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { registerFakeConfig } from '../helpers/ai-gateway.ts';
import { api, login, services, startTestStack, type TestStack } from '../helpers/context.ts';

const TOKENS_PER_REQUEST = 14; // the fake's word count for the prompt below and its answer
const WORKERS_PER_BRIDGE = 4;

async function startBridge(stack: TestStack): Promise<{ process: ChildProcess; baseURL: string }> {
  const openaiPort = await freePort();
  const { address, namespace } = services().temporal;
  const child = spawn(process.execPath, [path.join(projectRoot, 'bridge', 'main.ts')], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      SKYBRIDGE_MASTER_KEYS: stack.masterKeys,
      BRIDGE_S3_PORT: String(await freePort()),
      BRIDGE_OPENAI_PORT: String(openaiPort),
      OUTBOUND_ALLOW_LOOPBACK: 'true',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const origin = `http://127.0.0.1:${openaiPort}`;
  for (let tries = 0; tries < 300; tries++) {
    if (child.exitCode !== null) throw new Error(`the bridge exited with ${child.exitCode}`);
    const ready = await fetch(`${origin}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return { process: child, baseURL: `${origin}/v1` };
    await sleep(100);
  }
  child.kill();
  throw new Error('the bridge did not become ready');
}

describe('AI limits across two bridge processes', () => {
  let stack: TestStack;
  let fake: FakeProvider;
  let bridges: { process: ChildProcess; baseURL: string }[] = [];
  let repoId: string;
  const call = async (method: string, route: string, body?: unknown) =>
    api(stack.baseUrl, method, route, { token: await login(stack.baseUrl, stack.admin), body });

  beforeAll(async () => {
    stack = await startTestStack();
    fake = await startFakeProvider('OPENAI');
    const configId = await registerFakeConfig(call, 'openai', fake);
    repoId = (await call('POST', '/repo', { name: 'limited', aiConfigIds: [configId] })).body.id;
    bridges = await Promise.all([startBridge(stack), startBridge(stack)]);
  }, 120_000);
  afterAll(async () => {
    for (const bridge of bridges) bridge.process.kill('SIGTERM');
    await fake?.close();
    await stack?.close();
  });

  const ask = {
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'Say hello to Ada' },
    ],
  };
  const clientsFor = (apiKey: string) =>
    bridges.map((bridge) => new OpenAI({ apiKey, baseURL: bridge.baseURL, maxRetries: 0 }));

  it('stops a token budget shared by both bridges within the requests in flight', async () => {
    const budget = 200;
    const key = await call('POST', `/repo/${repoId}/ai/apikey`, {
      name: 'budgeted',
      limits: { tokenBudget: budget, budgetPeriod: 'TOTAL' },
    });
    let succeeded = 0;
    const refusals: InstanceType<typeof OpenAI.APIError>[] = [];
    const worker = async (client: OpenAI) => {
      for (;;) {
        try {
          await client.chat.completions.create(ask);
          succeeded += 1;
        } catch (error) {
          refusals.push(error as InstanceType<typeof OpenAI.APIError>);
          return;
        }
      }
    };
    const clients = clientsFor(key.body.key);
    await Promise.all(
      clients.flatMap((client) => Array.from({ length: WORKERS_PER_BRIDGE }, () => worker(client))),
    );
    const used = succeeded * TOKENS_PER_REQUEST;
    const inFlight = clients.length * WORKERS_PER_BRIDGE;
    expect(used).toBeGreaterThanOrEqual(budget);
    // Each bridge counting alone would let about twice the budget through.
    expect(used - budget).toBeLessThanOrEqual(inFlight * TOKENS_PER_REQUEST);
    expect(refusals).toHaveLength(inFlight);
    for (const refusal of refusals) {
      expect(refusal.status).toBe(429);
      expect(refusal.code).toBe('budget_exceeded');
    }
    // Spent: every later request on either bridge is refused.
    for (const client of clients)
      await expect(client.chat.completions.create(ask)).rejects.toMatchObject({ status: 429 });
  });

  it('shares a per-minute request limit between both bridges, with Retry-After', async () => {
    const key = await call('POST', `/repo/${repoId}/ai/apikey`, {
      name: 'rpm',
      limits: { requestsPerMinute: 6 },
    });
    const [first, second] = clientsFor(key.body.key);
    // All seven requests must fall in one minute window.
    const untilNextMinute = 60_000 - (Date.now() % 60_000);
    if (untilNextMinute < 5_000) await sleep(untilNextMinute + 100);
    for (let index = 0; index < 3; index++) {
      await first!.chat.completions.create(ask);
      await second!.chat.completions.create(ask);
    }
    const refused = await first!.chat.completions
      .create(ask)
      .catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const retryAfter = Number((refused as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });
});
