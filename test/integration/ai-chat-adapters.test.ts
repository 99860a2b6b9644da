/**
 * The chat, streaming and embeddings contract of every AI provider adapter,
 * each against its wire-compatible fake (test/fakes): OpenAI's vocabulary on
 * this side, the provider's own API on the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChatRequest } from '../../providers/ai/chat.ts';
import { AiProviderError, type AiProviderType, adapterFor } from '../../providers/ai/index.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { collectChunks, weatherTool } from '../helpers/ai-chat.ts';
import { testOutboundPolicy } from '../helpers/context.ts';

const providers: AiProviderType[] = ['OPENAI', 'ANTHROPIC', 'GOOGLE', 'AWS'];
const models: Record<string, string> = {
  OPENAI: 'gpt-4o-mini',
  ANTHROPIC: 'claude-sonnet-4-5',
  GOOGLE: 'gemini-2.5-flash',
  AWS: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
};
const options = { outboundPolicy: testOutboundPolicy, timeoutMs: 5_000 };

const contentOf = (chunks: ChatCompletionChunk[]) =>
  chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');

describe.each(providers)('%s adapter', (type) => {
  let fake: FakeProvider;
  const adapter = adapterFor(type);
  const request = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
    model: models[type]!,
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Say hello to Ada' },
    ],
    ...overrides,
  });

  beforeAll(async () => {
    fake = await startFakeProvider(type);
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('answers a chat with the text, stop reason and usage', async () => {
    const completion = await adapter.chat(fake.connection(), request(), options);
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message).toMatchObject({
      role: 'assistant',
      content: 'Fake answer to: Say hello to Ada',
    });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    // The fakes count words: "You are terse." + "Say hello to Ada" in, "Fake answer to: Say hello to Ada" out.
    expect(completion.usage).toEqual({ prompt_tokens: 7, completion_tokens: 7, total_tokens: 14 });
  });

  it('carries a multi-turn conversation with a tool call and its result, and returns tool calls', async () => {
    fake.script({
      kind: 'reply',
      reply: { toolCalls: [{ id: 'call_2', name: 'get_weather', arguments: '{"city":"Oslo"}' }] },
    });
    const completion = await adapter.chat(
      fake.connection(),
      request({
        tools: [weatherTool],
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Weather in Paris, then Oslo?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '{"temperature":21}' },
        ],
      }),
      options,
    );
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.tool_calls).toEqual([
      {
        id: expect.any(String),
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
      },
    ]);
  });

  it('reports a length stop', async () => {
    fake.script({ kind: 'reply', reply: { text: 'cut', finishReason: 'length' } });
    const completion = await adapter.chat(fake.connection(), request({ max_tokens: 1 }), options);
    expect(completion.choices[0]?.finish_reason).toBe('length');
  });

  it('streams text in OpenAI chunks: role first, the pieces, a finish reason, then usage', async () => {
    const chunks = await collectChunks(await adapter.chatStream(fake.connection(), request(), options));
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(contentOf(chunks)).toBe('Fake answer to: Say hello to Ada');
    expect(chunks.filter((chunk) => chunk.choices[0]?.delta.content).length).toBeGreaterThan(1);
    const finishes = chunks
      .flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason))
      .filter(Boolean);
    expect(finishes).toEqual(['stop']);
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 7, completion_tokens: 7, total_tokens: 14 },
    });
  });

  it('streams tool calls as indexed deltas whose arguments join up', async () => {
    fake.script({
      kind: 'reply',
      reply: {
        text: '',
        toolCalls: [
          { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
          { id: 'call_b', name: 'get_weather', arguments: '{"city":"Oslo","unit":"celsius"}' },
        ],
      },
    });
    const chunks = await collectChunks(
      await adapter.chatStream(fake.connection(), request({ tools: [weatherTool] }), options),
    );
    const calls = new Map<number, { id?: string; name?: string; arguments: string }>();
    for (const delta of chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])) {
      const call = calls.get(delta.index) ?? { arguments: '' };
      call.id ??= delta.id;
      call.name ??= delta.function?.name;
      call.arguments += delta.function?.arguments ?? '';
      calls.set(delta.index, call);
    }
    expect([...calls.values()]).toEqual([
      { id: expect.any(String), name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
      { id: expect.any(String), name: 'get_weather', arguments: '{"city":"Oslo","unit":"celsius"}' },
    ]);
    const finishes = chunks
      .flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason))
      .filter(Boolean);
    expect(finishes).toEqual(['tool_calls']);
  });

  it('maps the provider refusing the credentials, throttling and failing', async () => {
    await expect(
      adapter.chat(fake.connection({ apiSecret: 'definitely-wrong-secret' }), request(), options),
    ).rejects.toMatchObject({ code: 'InvalidCredentials' });
    fake.script({ kind: 'error', status: 429, retryAfterSeconds: 7 });
    await expect(adapter.chat(fake.connection(), request(), options)).rejects.toMatchObject({
      code: 'Throttled',
      retryAfterSeconds: 7,
    });
    fake.script({ kind: 'error', status: 503 });
    await expect(adapter.chatStream(fake.connection(), request(), options)).rejects.toMatchObject({
      code: 'Transient',
    });
    await expect(
      adapter.chat(fake.connection(), request({ model: 'no-such-model' }), options),
    ).rejects.toMatchObject({ code: 'NotFound' });
  });

  it('throws from the stream on an error event in the middle of it, after the content before it', async () => {
    fake.script({
      kind: 'stream-error',
      afterPieces: 2,
      reply: { text: 'one two three four five six seven' },
    });
    const stream = await adapter.chatStream(fake.connection(), request(), options);
    const seen: ChatCompletionChunk[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) seen.push(chunk);
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AiProviderError);
    expect(contentOf(seen).length).toBeGreaterThan(0);
  });

  it('throws Transient from a stream whose connection drops', async () => {
    fake.script({ kind: 'stream-drop', afterPieces: 2 });
    const stream = await adapter.chatStream(fake.connection(), request(), options);
    await expect(collectChunks(stream)).rejects.toMatchObject({ code: 'Transient' });
  });

  it('gives up on a slow first byte after timeoutMs, streamed or not', async () => {
    fake.script({ kind: 'delay', ms: 2_000 }, { kind: 'delay', ms: 2_000 });
    await expect(
      adapter.chat(fake.connection(), request(), { ...options, timeoutMs: 300 }),
    ).rejects.toMatchObject({ code: 'Transient' });
    await expect(
      adapter.chatStream(fake.connection(), request(), { ...options, timeoutMs: 300 }),
    ).rejects.toMatchObject({ code: 'Transient' });
  });

  it('stops reading when the caller aborts mid-stream', async () => {
    fake.script({
      kind: 'slow-stream',
      pieceDelayMs: 200,
      reply: { text: 'a long answer that takes a while to stream' },
    });
    const controller = new AbortController();
    const stream = await adapter.chatStream(fake.connection(), request(), {
      ...options,
      signal: controller.signal,
    });
    const started = Date.now();
    const failure = await (async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content) controller.abort();
    })().catch((error: unknown) => error);
    expect(failure).toBeDefined();
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('embeds text where the provider has embeddings, and says Invalid where it has none', async () => {
    const embeddingModel: Record<string, string> = {
      OPENAI: 'text-embedding-3-small',
      GOOGLE: 'text-embedding-004',
      AWS: 'amazon.titan-embed-text-v2:0',
    };
    const model = embeddingModel[type];
    if (!model) {
      await expect(
        adapter.embeddings(fake.connection(), { model: 'any', input: 'hello' }, options),
      ).rejects.toMatchObject({ code: 'Invalid' });
      return;
    }
    const answer = await adapter.embeddings(
      fake.connection(),
      { model, input: ['hello world', 'bye'] },
      options,
    );
    expect(answer.object).toBe('list');
    expect(answer.data.map((item) => item.index)).toEqual([0, 1]);
    expect((answer.data[0]!.embedding as number[]).length).toBeGreaterThan(0);
    expect(answer.usage.prompt_tokens).toBeGreaterThan(0);
  });
});
