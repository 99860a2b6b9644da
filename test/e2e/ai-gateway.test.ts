/**
 * The AI gateway with the official `openai` SDK as the client, in front of
 * wire-compatible fakes of every provider: plain and streamed chat, tools,
 * JSON mode, embeddings, models, retry and fallback, and the errors an app
 * must get for bad input.
 */
import { request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageEvent } from '../../core/db/entities/index.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { registerFakeConfig, startTestAiGateway, type TestAiGateway } from '../helpers/ai-gateway.ts';
import { type ApiCall, adminApi, startTestStack, type TestStack } from '../helpers/context.ts';

const chatModels = {
  OPENAI: 'gpt-4o-mini',
  ANTHROPIC: 'claude-sonnet-4-5-20250929',
  GOOGLE: 'gemini-2.5-flash',
  AWS: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
} as const;
type Provider = keyof typeof chatModels;
const providers = Object.keys(chatModels) as Provider[];

describe('AI gateway with the openai SDK', () => {
  let stack: TestStack;
  let gateway: TestAiGateway;
  let call: ApiCall;
  const fakes = {} as Record<Provider | 'BACKUP', FakeProvider>;
  let client: OpenAI;
  let otherRepoClient: OpenAI;
  let aiKeyId: string;
  let repoId: string;

  beforeAll(async () => {
    stack = await startTestStack();
    gateway = await startTestAiGateway(stack);
    call = await adminApi(stack);
    for (const type of providers) fakes[type] = await startFakeProvider(type);
    fakes.BACKUP = await startFakeProvider('OPENAI');
    const ids = [
      await registerFakeConfig(call, 'openai-primary', fakes.OPENAI),
      await registerFakeConfig(call, 'anthropic', fakes.ANTHROPIC),
      await registerFakeConfig(call, 'gemini', fakes.GOOGLE),
      await registerFakeConfig(call, 'bedrock', fakes.AWS),
      await registerFakeConfig(call, 'openai-backup', fakes.BACKUP),
    ];
    const repo = await call('POST', '/repo', { name: 'ai', aiConfigIds: ids });
    repoId = repo.body.id;
    const key = await call('POST', `/repo/${repoId}/ai/apikey`, { name: 'app' });
    aiKeyId = key.body.id;
    client = gateway.client(key.body.key);
    const other = await call('POST', '/repo', { name: 'other', aiConfigIds: [ids[1]] });
    otherRepoClient = gateway.client(
      (await call('POST', `/repo/${other.body.id}/ai/apikey`, { name: 'x' })).body.key,
    );
    // The gateway lists each config's models once (then keeps them): do it before tests script the fakes.
    await client.models.list();
  });
  afterAll(async () => {
    await gateway?.close();
    await Promise.all(Object.values(fakes).map((fake) => fake.close()));
    await stack?.close();
  });

  const ask = (model: string, text = 'Say hello to Ada') => ({
    model,
    messages: [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: text },
    ],
  });

  it("lists the models of the repository's configs, bare and as <config>/<model>", async () => {
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    for (const model of Object.values(chatModels)) expect(ids).toContain(model);
    expect(ids).toContain('openai-backup/gpt-4o-mini');
    expect((await client.models.retrieve('gemini/gemini-2.5-flash')).owned_by).toBe('gemini');
  });

  it.each(providers)('answers a chat through %s', async (provider) => {
    const completion = await client.chat.completions.create(ask(chatModels[provider]));
    expect(completion.choices[0]?.message.content).toBe('Fake answer to: Say hello to Ada');
    expect(completion.model).toBe(chatModels[provider]);
    expect(completion.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 7, total_tokens: 14 });
  });

  it.each(providers)('streams a chat through %s, with usage when asked', async (provider) => {
    const stream = await client.chat.completions.create({
      ...ask(chatModels[provider]),
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe('Fake answer to: Say hello to Ada');
    expect(usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 7 });
  });

  it.each(providers)('streams tool calls from %s that the SDK reassembles', async (provider) => {
    fakes[provider].script({
      kind: 'reply',
      reply: { toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
    });
    const runner = client.chat.completions.stream({
      ...ask(chatModels[provider], 'Weather in Paris?'),
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    const toolCall = final.choices[0]?.message.tool_calls?.[0];
    expect(toolCall?.type === 'function' && toolCall.function).toEqual({
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
    });
  });

  it('passes JSON mode on, and embeds text', async () => {
    fakes.OPENAI.script({ kind: 'reply', reply: { text: '{"ok":true}' } });
    const json = await client.chat.completions.create({
      ...ask('gpt-4o-mini'),
      response_format: { type: 'json_object' },
    });
    expect(JSON.parse(json.choices[0]?.message.content ?? '')).toEqual({ ok: true });
    expect(JSON.parse(fakes.OPENAI.requests.at(-1)!.body).response_format).toEqual({ type: 'json_object' });
    const embedded = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(embedded.data).toHaveLength(2);
    expect(embedded.data[0]?.embedding.length).toBeGreaterThan(0);
  });

  it('retries a failing config, then falls back to the next one, and records every attempt', async () => {
    fakes.OPENAI.script({ kind: 'error', status: 503 }, { kind: 'error', status: 500 });
    const backupBefore = fakes.BACKUP.requests.length;
    const completion = await client.chat.completions.create(ask('gpt-4o-mini', 'fallback please'));
    expect(completion.choices[0]?.message.content).toBe('Fake answer to: fallback please');
    expect(fakes.BACKUP.requests.length).toBe(backupBefore + 1);
    await gateway.usage.flush();
    const events = await stack.orm.em
      .fork()
      .find(UsageEvent, { keyId: aiKeyId, operation: 'ChatCompletions' });
    const event = events.find((candidate) =>
      (candidate.attempts as { outcome: string }[] | null)?.some(
        (attempt) => attempt.outcome === 'Transient',
      ),
    );
    expect(event?.attempts).toEqual([
      expect.objectContaining({ configName: 'openai-primary', outcome: 'Transient' }),
      expect.objectContaining({ configName: 'openai-primary', outcome: 'Transient' }),
      expect.objectContaining({ configName: 'openai-backup', outcome: 'ok' }),
    ]);
    expect(event).toMatchObject({ provider: 'OPENAI', status: 200, tokensIn: 5, tokensOut: 5 });
  });

  it('falls back when a stream fails before its first content; ends the stream with an error after it', async () => {
    fakes.OPENAI.script({ kind: 'stream-error', afterPieces: 0 }, { kind: 'stream-drop', afterPieces: 0 });
    const stream = await client.chat.completions.create({ ...ask('gpt-4o-mini', 'stream on'), stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Fake answer to: stream on');

    fakes.ANTHROPIC.script({ kind: 'stream-error', afterPieces: 2 });
    const broken = await client.chat.completions.create({ ...ask(chatModels.ANTHROPIC), stream: true });
    const failure = await (async () => {
      for await (const _chunk of broken);
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
  });

  it('answers 429 with Retry-After when every config serving the model is throttled', async () => {
    fakes.GOOGLE.script(
      { kind: 'error', status: 429, retryAfterSeconds: 1 },
      { kind: 'error', status: 429, retryAfterSeconds: 1 },
    );
    const failure = await client.chat.completions
      .create(ask(chatModels.GOOGLE))
      .catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
    expect(failure).toBeInstanceOf(OpenAI.RateLimitError);
    expect((failure as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('1');
  });

  it('routes <config>/<model> to that config only', async () => {
    const primaryBefore = fakes.OPENAI.requests.length;
    await client.chat.completions.create(ask('openai-backup/gpt-4o-mini'));
    expect(fakes.OPENAI.requests.length).toBe(primaryBefore);
    expect(JSON.parse(fakes.BACKUP.requests.at(-1)!.body).model).toBe('gpt-4o-mini');
  });

  describe('bad input', () => {
    const raw = (path: string, init: RequestInit & { auth?: string } = {}) =>
      fetch(`${gateway.baseURL}${path}`, {
        ...init,
        headers: {
          'content-type': 'application/json',
          authorization: init.auth ?? `Bearer ${client.apiKey}`,
          ...init.headers,
        },
      });
    const errorOf = async (response: Response) => [
      response.status,
      ((await response.json()) as { error: { code: string } }).error.code,
    ];

    it('answers malformed JSON, missing messages, unknown and foreign models with OpenAI errors', async () => {
      expect(await errorOf(await raw('/chat/completions', { method: 'POST', body: '{"model":' }))).toEqual([
        400,
        'invalid_json',
      ]);
      const missing = await raw('/chat/completions', { method: 'POST', body: '{"model":"gpt-4o-mini"}' });
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as { error: { param: string } }).error.param).toBe('messages');
      await expect(client.chat.completions.create(ask('no-such-model'))).rejects.toBeInstanceOf(
        OpenAI.NotFoundError,
      );
      // The other repository has only the Anthropic config.
      await expect(otherRepoClient.chat.completions.create(ask('gpt-4o-mini'))).rejects.toBeInstanceOf(
        OpenAI.NotFoundError,
      );
      await expect(otherRepoClient.chat.completions.create(ask(chatModels.ANTHROPIC))).resolves.toBeDefined();
      expect(await errorOf(await raw('/nothing/here'))).toEqual([404, 'unknown_url']);
    });

    it('refuses missing, unknown, storage and revoked keys with 401', async () => {
      expect(await errorOf(await raw('/models', { auth: '' }))).toEqual([401, 'invalid_api_key']);
      expect(await errorOf(await raw('/models', { auth: 'Bearer sbk_AAAAAAAAAAAA.nope' }))).toEqual([
        401,
        'invalid_api_key',
      ]);
      const storageKey = await call('POST', `/repo/${repoId}/apikey`, { name: 's3', scope: 'READ' });
      const storage = await raw('/models', { auth: `Bearer ${storageKey.body.accessKeyId}` });
      expect(storage.status).toBe(401);
      expect(((await storage.json()) as { error: { message: string } }).error.message).toContain(
        'storage key',
      );
      const doomed = await call('POST', `/repo/${repoId}/ai/apikey`, { name: 'doomed' });
      const doomedClient = gateway.client(doomed.body.key);
      await expect(doomedClient.models.list()).resolves.toBeDefined();
      expect((await call('DELETE', `/repo/${repoId}/ai/apikey/${doomed.body.id}`)).status).toBe(204);
      await expect(doomedClient.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    });

    it('refuses an oversized body with 413', async () => {
      const big = JSON.stringify({ ...ask('gpt-4o-mini'), padding: 'x'.repeat(9 * 1024 * 1024) });
      expect(await errorOf(await raw('/chat/completions', { method: 'POST', body: big }))).toEqual([
        413,
        'request_too_large',
      ]);
    });

    it('aborts the upstream request when the app disconnects mid-stream, and still records the usage', async () => {
      fakes.OPENAI.script({
        kind: 'slow-stream',
        pieceDelayMs: 300,
        reply: { text: 'a long answer that streams slowly to the app' },
      });
      const url = new URL(`${gateway.baseURL}/chat/completions`);
      await new Promise<void>((resolve) => {
        const request = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${client.apiKey}` },
          },
          (response) => {
            response.once('data', () => {
              request.destroy();
              resolve();
            });
          },
        );
        request.end(JSON.stringify({ ...ask('gpt-4o-mini', 'disconnect me'), stream: true }));
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await gateway.usage.flush();
      const events = await stack.orm.em
        .fork()
        .find(UsageEvent, { keyId: aiKeyId, operation: 'ChatCompletions' });
      expect(events.some((event) => event.provider === 'OPENAI' && event.timeToFirstTokenMs !== null)).toBe(
        true,
      );
      // The gateway still answers afterwards.
      await expect(client.chat.completions.create(ask('gpt-4o-mini'))).resolves.toBeDefined();
    });
  });
});
