/**
 * AI policies (AI-4) as the gateway enforces them, with the official `openai`
 * SDK as the app: built-in detectors on prompts and on answers (whole and
 * streamed), LOG / ALERT / BLOCK, redaction before the provider, the three
 * scopes, a judge model for natural-language rules, and the violations the
 * API lists.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageEvent } from '../../core/db/entities/index.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { startTestAiGateway, type TestAiGateway } from '../helpers/ai-gateway.ts';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';

const card = '4111 1111 1111 1111';
const email = 'ada.lovelace@example.com';
const phone = '+44 20 7946 0958';
const iban = 'GB82 WEST 1234 5698 7654 32';
const privateKey = [
  '-----BEGIN RSA PRIVATE KEY-----',
  'MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MmZ5Q7p7K2bqVvY0',
  'q0p9sKx7T1sQ2Fw1c8mQm9h3X0XkZJ7pYt5rD1vW2bQ9mZ3tY0HnF4kR8s7c6QJ',
  '-----END RSA PRIVATE KEY-----',
].join('\n');

interface Violation {
  policyId: string | null;
  repositoryId: string | null;
  direction: string;
  detector: string;
  actionTaken: string;
  excerpt: string | null;
}

type ApiError = InstanceType<typeof OpenAI.APIError>;

/** A local webhook endpoint that keeps every JSON body posted to it. */
async function startWebhookReceiver() {
  const received: { contentType?: string; body: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ contentType: req.headers['content-type'], body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/ai`,
    received,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe('AI policies in the gateway', () => {
  let stack: TestStack;
  let gateway: TestAiGateway;
  let token: string;
  let provider: FakeProvider;
  let judge: FakeProvider;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let client: OpenAI;
  let otherClient: OpenAI;
  let aiKeyId: string;
  let repoId: string;
  let otherRepoId: string;
  let workspaceId: string;
  let judgeConfigId: string;
  const call = (method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });

  async function registerConfig(name: string, fake: FakeProvider): Promise<string> {
    const created = await call('POST', '/ai/llm', {
      name,
      type: 'OPENAI',
      apiEndpoint: fake.baseUrl,
      ...fake.credentials,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id;
  }

  async function repositoryWithKey(name: string, configId: string) {
    const repo = (await call('POST', '/repo', { name, aiConfigIds: [configId] })).body;
    const key = (await call('POST', `/repo/${repo.id}/ai/apikey`, { name: 'app' })).body;
    return { repo, key, client: gateway.client(key.key) };
  }

  beforeAll(async () => {
    stack = await startTestStack();
    gateway = await startTestAiGateway(stack);
    token = await login(stack.baseUrl, stack.admin);
    provider = await startFakeProvider('OPENAI');
    judge = await startFakeProvider('OPENAI');
    webhook = await startWebhookReceiver();
    const configId = await registerConfig('main', provider);
    judgeConfigId = await registerConfig('judge', judge);
    const policed = await repositoryWithKey('policed', configId);
    const other = await repositoryWithKey('other', configId);
    ({ client } = policed);
    otherClient = other.client;
    aiKeyId = policed.key.id;
    repoId = policed.repo.id;
    workspaceId = policed.repo.workspaceId;
    otherRepoId = other.repo.id;
    // The gateway lists each config's models once (then keeps them): do it before tests script the fakes.
    await client.models.list();
  });
  afterEach(async () => {
    for (const policy of (await call('GET', '/ai/policy')).body)
      await call('DELETE', `/ai/policy/${policy.id}`);
  });
  afterAll(async () => {
    await gateway?.close();
    await Promise.all([provider?.close(), judge?.close(), webhook?.close()]);
    await stack?.close();
  });

  const ask = (text: string) => ({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: text },
    ],
  });

  async function createPolicy(fields: Record<string, unknown>): Promise<string> {
    const created = await call('POST', '/ai/policy', {
      name: 'policy',
      rule: 'No PII',
      scope: 'ORGANIZATION',
      action: 'BLOCK',
      target: 'PROMPT',
      ...fields,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id;
  }

  const listViolations = async (query: string): Promise<Violation[]> =>
    (await call('GET', `/ai/policy/violations?${query}`)).body;

  /** Violations are written off the request path: waits until the policy has `count` of them. */
  async function violationsOf(policyId: string, count = 1): Promise<Violation[]> {
    let listed: Violation[] = [];
    await vi.waitFor(
      async () => {
        listed = await listViolations(`policyId=${policyId}`);
        expect(listed).toHaveLength(count);
      },
      { timeout: 5_000 },
    );
    return listed;
  }

  async function failureOf(request: Promise<unknown>): Promise<ApiError> {
    const failure = await request.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    return failure as ApiError;
  }

  async function outcomesOfUsage(): Promise<(string | null | undefined)[]> {
    await gateway.usage.flush();
    const events = await stack.orm.em
      .fork()
      .find(UsageEvent, { keyId: aiKeyId, operation: 'ChatCompletions' });
    return events.map((event) => event.policyOutcome);
  }

  it('accepts and presents detectors, redaction, a judge and a webhook, and refuses invalid ones', async () => {
    const fields = {
      detectors: ['email', 'card', 'email'],
      redact: true,
      judgeConfigId,
      judgeModel: 'gpt-4o-mini',
      webhookUrl: 'https://hooks.example.com/ai',
    };
    const created = await call('POST', '/ai/policy', {
      name: 'full',
      rule: 'No PII',
      scope: 'ORGANIZATION',
      action: 'ALERT',
      target: 'BOTH',
      ...fields,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ ...fields, detectors: ['email', 'card'] });
    const plain = (
      await call('POST', '/ai/policy', {
        name: 'plain',
        rule: 'No PII',
        scope: 'ORGANIZATION',
        action: 'LOG',
        target: 'BOTH',
      })
    ).body;
    expect(plain).toMatchObject({
      detectors: null,
      redact: false,
      judgeConfigId: null,
      judgeModel: null,
      webhookUrl: null,
    });
    const base = { name: 'bad', rule: 'x', scope: 'ORGANIZATION', action: 'LOG', target: 'BOTH' };
    const refused: [Record<string, unknown>, number][] = [
      [{ detectors: ['telepathy'] }, 400],
      [{ webhookUrl: 'ftp://hooks.example.com/ai' }, 400],
      [{ webhookUrl: 'not a url' }, 400],
      // The cloud metadata service is never a webhook.
      [{ webhookUrl: 'http://169.254.169.254/latest' }, 400],
      [{ judgeConfigId }, 400],
      [{ judgeModel: 'gpt-4o-mini' }, 400],
      [{ judgeConfigId: randomUUID(), judgeModel: 'gpt-4o-mini' }, 404],
    ];
    for (const [body, status] of refused)
      expect((await call('POST', '/ai/policy', { ...base, ...body })).status, JSON.stringify(body)).toBe(
        status,
      );
    const cleared = await call('PUT', `/ai/policy/${created.body.id}`, {
      judgeConfigId: null,
      judgeModel: null,
      detectors: null,
    });
    expect(cleared.body).toMatchObject({
      judgeConfigId: null,
      judgeModel: null,
      detectors: null,
      redact: true,
    });
    expect((await call('PUT', `/ai/policy/${created.body.id}`, { judgeModel: 'gpt-4o' })).status).toBe(400);
    expect(
      (await call('PUT', `/ai/policy/${plain.id}`, { judgeConfigId, judgeModel: 'gpt-4o' })).status,
    ).toBe(200);
  });

  it('blocks a prompt with a card number before it reaches the provider, and records it masked', async () => {
    const policyId = await createPolicy({ name: 'no cards', rule: 'Never send credit card numbers' });
    const sent = provider.requests.length;
    const failure = await failureOf(client.chat.completions.create(ask(`Charge ${card} today`)));
    expect(failure.status).toBe(400);
    expect(failure.code).toBe('policy_violation');
    expect(failure.message).toContain('The request was blocked by the AI policy "no cards" (card)');
    expect(provider.requests).toHaveLength(sent);
    const [violation] = await violationsOf(policyId);
    expect(violation).toMatchObject({
      policyId,
      repositoryId: repoId,
      direction: 'PROMPT',
      detector: 'card',
      actionTaken: 'BLOCK',
      excerpt: '41** **** **** **11',
    });
    expect(JSON.stringify(violation)).not.toContain(card);
    expect(await outcomesOfUsage()).toContain('blocked');
  });

  it('LOG lets the request through and records the violation', async () => {
    const policyId = await createPolicy({ action: 'LOG', rule: 'Flag customer emails' });
    const completion = await client.chat.completions.create(ask(`Write to ${email}`));
    expect(completion.choices[0]?.message.content).toBe(`Fake answer to: Write to ${email}`);
    const [violation] = await violationsOf(policyId);
    expect(violation).toMatchObject({ detector: 'email', actionTaken: 'LOG', excerpt: 'a***@example.com' });
    expect(await outcomesOfUsage()).toContain('logged');
  });

  it('ALERT posts a webhook with the masked excerpt, never the value', async () => {
    const policyId = await createPolicy({
      name: 'alert on emails',
      action: 'ALERT',
      detectors: ['email'],
      webhookUrl: webhook.url,
    });
    await client.chat.completions.create(ask(`Write to ${email}`));
    await vi.waitFor(() => expect(webhook.received).toHaveLength(1), { timeout: 5_000 });
    const [delivery] = webhook.received;
    expect(delivery?.contentType).toBe('application/json');
    expect(delivery?.body).toMatchObject({
      policy: { id: policyId, name: 'alert on emails' },
      action: 'ALERT',
      direction: 'PROMPT',
      detector: 'email',
      repositoryId: repoId,
      keyId: aiKeyId,
      excerpt: 'a***@example.com',
    });
    expect(Date.parse(String(delivery?.body.occurredAt))).toBeGreaterThan(Date.now() - 60_000);
    expect(JSON.stringify(delivery)).not.toContain(email);
    expect((await violationsOf(policyId))[0]?.actionTaken).toBe('ALERT');
  });

  it('redacts the prompt before it leaves, keeping its structure and earlier answers', async () => {
    await createPolicy({ action: 'LOG', redact: true, detectors: ['email'] });
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: `Answer for ${email} only.` },
        { role: 'assistant', content: 'Earlier I wrote to grace@example.org.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: `Write to ${email}` },
            { type: 'text', text: ' and bob@example.net' },
          ],
        },
      ],
    });
    expect(completion.choices[0]?.message.content).toBe(
      'Fake answer to: Write to [REDACTED:email] and [REDACTED:email]',
    );
    const received = JSON.parse(provider.requests.at(-1)?.body ?? '{}');
    expect(received.messages).toEqual([
      { role: 'system', content: 'Answer for [REDACTED:email] only.' },
      { role: 'assistant', content: 'Earlier I wrote to grace@example.org.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Write to [REDACTED:email]' },
          { type: 'text', text: ' and [REDACTED:email]' },
        ],
      },
    ]);
    expect(await outcomesOfUsage()).toContain('redacted');
  });

  it('blocks a whole answer that carries a private key', async () => {
    const policyId = await createPolicy({
      name: 'no keys out',
      target: 'RESPONSE',
      detectors: ['private-key'],
    });
    provider.script({ kind: 'reply', reply: { text: `Here it is:\n${privateKey}` } });
    const failure = await failureOf(client.chat.completions.create(ask('Make me a key')));
    expect(failure.status).toBe(400);
    expect(failure.message).toContain('blocked by the AI policy "no keys out" (private-key)');
    const [violation] = await violationsOf(policyId);
    expect(violation).toMatchObject({ direction: 'RESPONSE', excerpt: '-----BEGIN RSA PRIVATE KEY----- …' });
  });

  it('ends a streamed answer with the policy error once a private key has gone by', async () => {
    const policyId = await createPolicy({
      name: 'no keys out',
      target: 'RESPONSE',
      detectors: ['private-key'],
    });
    const answer = `Here it is:\n${privateKey}\n${'Keep it somewhere safe. '.repeat(100)}`;
    provider.script({ kind: 'reply', reply: { text: answer } });
    const stream = await client.chat.completions.create({ ...ask('Make me a key'), stream: true });
    let received = '';
    const failure = await failureOf(
      (async () => {
        for await (const chunk of stream) received += chunk.choices[0]?.delta.content ?? '';
      })(),
    );
    expect(failure.code).toBe('policy_violation');
    expect(failure.message).toContain('blocked by the AI policy "no keys out" (private-key)');
    expect(answer.startsWith(received)).toBe(true);
    expect(received.length).toBeLessThan(answer.length);
    // The chunk that completes the key's BEGIN marker is checked before it is written, and withheld.
    expect(received).not.toContain('PRIVATE KEY-----');
    expect((await violationsOf(policyId))[0]).toMatchObject({ direction: 'RESPONSE', actionTaken: 'BLOCK' });
  });

  it('scans tool-call arguments in whole and streamed answers', async () => {
    await createPolicy({ name: 'no cards out', target: 'RESPONSE', detectors: ['card'] });
    const toolCall = { name: 'pay', arguments: '{"card":"4111 1111 1111 1111","amount":12}' };
    const tools = [
      {
        type: 'function' as const,
        function: { name: 'pay', parameters: { type: 'object', properties: {} } },
      },
    ];
    provider.script({ kind: 'reply', reply: { toolCalls: [toolCall] } });
    const whole = await failureOf(client.chat.completions.create({ ...ask('Pay for me'), tools }));
    expect(whole.status).toBe(400);
    expect(whole.message).toContain('blocked by the AI policy "no cards out" (card)');

    provider.script({ kind: 'reply', reply: { toolCalls: [toolCall] } });
    const stream = await client.chat.completions.create({ ...ask('Pay for me'), tools, stream: true });
    let argumentsReceived = '';
    const failure = await failureOf(
      (async () => {
        for await (const chunk of stream)
          argumentsReceived += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
      })(),
    );
    expect(failure.code).toBe('policy_violation');
    expect(failure.message).toContain('blocked by the AI policy "no cards out" (card)');
    // Held back until the detector cleared it (streamHoldBack, the default): no digit of the card went out.
    expect(argumentsReceived).not.toContain('4111');
  });

  it('holds streamed text back until a BLOCK policy cleared it, unless the policy streams at once', async () => {
    const answer = `Write to ${email} today. ${'Then carry on with the rest of the letter. '.repeat(40)}`;
    const streamed = async () => {
      provider.script({ kind: 'reply', reply: { text: answer } });
      const stream = await client.chat.completions.create({ ...ask('Who do I write to?'), stream: true });
      let received = '';
      const failure = await failureOf(
        (async () => {
          for await (const chunk of stream) received += chunk.choices[0]?.delta.content ?? '';
        })(),
      );
      expect(failure.code).toBe('policy_violation');
      return received;
    };
    const holding = await createPolicy({ name: 'no emails out', target: 'RESPONSE', detectors: ['email'] });
    expect((await call('GET', `/ai/policy/${holding}`)).body.streamHoldBack).toBe(true);
    expect(await streamed()).not.toContain('ada.lovelace');

    // An email is only certain once enough text follows it: streaming at once lets it out before the error.
    expect((await call('PUT', `/ai/policy/${holding}`, { streamHoldBack: false })).status).toBe(200);
    const received = await streamed();
    expect(received).toContain(email);
    expect(received.length).toBeLessThan(answer.length);

    // Text a holding policy cleared is sent before the answer ends.
    expect((await call('PUT', `/ai/policy/${holding}`, { streamHoldBack: true })).status).toBe(200);
    provider.script({ kind: 'reply', reply: { text: answer.replace(email, 'the registry') } });
    const stream = await client.chat.completions.create({ ...ask('Who do I write to?'), stream: true });
    const chunks: string[] = [];
    for await (const chunk of stream) chunks.push(chunk.choices[0]?.delta.content ?? '');
    expect(chunks.join('')).toBe(answer.replace(email, 'the registry'));
    expect(chunks.filter(Boolean).length).toBeGreaterThan(1);
  });

  it("applies the organization's, the workspace's and the repository's policies, not another repository's", async () => {
    await createPolicy({ name: 'organization', detectors: ['email'] });
    await createPolicy({ name: 'workspace', scope: 'WORKSPACE', workspaceId, detectors: ['phone'] });
    await createPolicy({
      name: 'repository',
      scope: 'REPOSITORY',
      repositoryId: repoId,
      detectors: ['iban'],
    });
    const otherPolicy = await createPolicy({
      name: 'other repository',
      scope: 'REPOSITORY',
      repositoryId: otherRepoId,
      detectors: ['card'],
    });
    for (const [text, policy] of [
      [email, 'organization'],
      [phone, 'workspace'],
      [iban, 'repository'],
    ] as const) {
      const failure = await failureOf(client.chat.completions.create(ask(`Note: ${text}`)));
      expect(failure.message).toContain(`"${policy}"`);
    }
    await expect(client.chat.completions.create(ask(`Pay with ${card}`))).resolves.toBeDefined();
    const failure = await failureOf(otherClient.chat.completions.create(ask(`Pay with ${card}`)));
    expect(failure.message).toContain('"other repository" (card)');
    await violationsOf(otherPolicy);
    expect(await listViolations(`repositoryId=${otherRepoId}`)).toEqual([
      expect.objectContaining({ policyId: otherPolicy, detector: 'card' }),
    ]);
  });

  it('blocks what a judge model finds against a natural-language rule', async () => {
    const rule = 'Never discuss our competitor Globex';
    const policyId = await createPolicy({
      name: 'no competitors',
      rule,
      judgeConfigId,
      judgeModel: 'gpt-4o-mini',
    });
    judge.script({ kind: 'reply', reply: { text: '{"violates":true,"reason":"mentions a competitor"}' } });
    const sent = provider.requests.length;
    const failure = await failureOf(client.chat.completions.create(ask('Is Globex cheaper than us?')));
    expect(failure.code).toBe('policy_violation');
    expect(failure.message).toContain('"no competitors" (judge)');
    expect(provider.requests).toHaveLength(sent);
    const asked = JSON.parse(judge.requests.at(-1)?.body ?? '{}');
    expect(asked).toMatchObject({ model: 'gpt-4o-mini', response_format: { type: 'json_object' } });
    expect(asked.messages[0].content).toContain(rule);
    expect(asked.messages[1].content).toContain('Is Globex cheaper than us?');
    expect((await violationsOf(policyId))[0]).toMatchObject({
      detector: 'judge',
      excerpt: 'mentions a competitor',
    });
  });

  it('lets the request through, recording nothing, when the judge fails or answers no verdict', async () => {
    const judged = await createPolicy({ name: 'judged', judgeConfigId, judgeModel: 'gpt-4o-mini' });
    // Recorded in the same batch as the judge's verdict would be: once it is there, so would that be.
    const marker = await createPolicy({ name: 'marker', action: 'LOG', detectors: ['email'] });
    judge.script({ kind: 'error', status: 500 }, { kind: 'reply', reply: { text: 'It looks fine to me.' } });
    const asked = judge.requests.length;
    for (const count of [1, 2]) {
      await expect(client.chat.completions.create(ask(`Write to ${email}`))).resolves.toBeDefined();
      await violationsOf(marker, count);
    }
    expect(judge.requests).toHaveLength(asked + 2);
    expect(await listViolations(`policyId=${judged}`)).toEqual([]);
  });
});
