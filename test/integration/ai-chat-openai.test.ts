/**
 * What the OpenAI-compatible adapter does beyond the shared contract
 * (ai-chat-adapters.test.ts): it passes requests on as the app wrote them,
 * and completes the answers of compatible servers that leave fields out.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../providers/ai/chat.ts';
import { openAiAdapter } from '../../providers/ai/openai.ts';
import { AiProviderError } from '../../providers/ai/provider.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { fakeEmbedding } from '../fakes/openai.ts';
import { collectChunks } from '../helpers/ai-chat.ts';
import { testOutboundPolicy } from '../helpers/context.ts';

const options = { outboundPolicy: testOutboundPolicy, timeoutMs: 5_000 };
const request = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hello to Ada' }],
  ...overrides,
});

const failureOf = (promise: Promise<unknown>) =>
  promise.then(() => undefined).catch((error: unknown) => error);

/** A compatible server's streamed answer, exactly these `data:` events. */
const eventStream = (...events: string[]) => ({
  kind: 'respond' as const,
  response: {
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
    chunks: events.map((data) => `data: ${data}\n\n`),
  },
});

describe('OpenAI-compatible chat', () => {
  let fake: FakeProvider;
  const sentBody = (at = 0) => JSON.parse(fake.requests[at]?.body ?? '{}') as Record<string, unknown>;

  beforeAll(async () => {
    fake = await startFakeProvider('OPENAI', {
      credentials: { apiKey: 'org-fake', apiSecret: 'sk-fake-org-secret' },
    });
  });
  beforeEach(() => fake.reset());
  afterAll(() => fake?.close());

  it('passes the request on as written, fields it does not know included', async () => {
    const written = request({
      response_format: { type: 'json_object' },
      logit_bias: { '50256': -100 },
      parallel_tool_calls: false,
      seed: 7,
    });
    await openAiAdapter.chat(fake.connection(), written, options);
    const [sent] = fake.requests;
    expect(sent?.path).toBe('/v1/chat/completions');
    expect(sent?.headers.authorization).toBe('Bearer sk-fake-org-secret');
    expect(sent?.headers['openai-organization']).toBe('org-fake');
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(sentBody()).toEqual(written);
  });

  it('asks for a whole answer without the stream fields an app sent along', async () => {
    const completion = await openAiAdapter.chat(
      fake.connection(),
      request({ stream: true, stream_options: { include_usage: true } }),
      options,
    );
    expect(completion.choices[0]?.message.content).toBe('Fake answer to: Say hello to Ada');
    expect(sentBody()).not.toHaveProperty('stream');
    expect(sentBody()).not.toHaveProperty('stream_options');
  });

  it('streams with usage always asked for, keeping the stream options the app gave', async () => {
    await collectChunks(
      await openAiAdapter.chatStream(
        fake.connection(),
        request({ stream_options: { include_obfuscation: false } }),
        options,
      ),
    );
    expect(sentBody()).toMatchObject({
      stream: true,
      stream_options: { include_obfuscation: false, include_usage: true },
    });
    expect(fake.requests[0]?.headers.accept).toBe('text/event-stream');
  });

  it('completes a whole answer that leaves out id, created and usage', async () => {
    fake.script({
      kind: 'respond',
      response: {
        status: 200,
        json: { choices: [{ message: { content: 'hi' }, finish_reason: 'eos' }] },
      },
    });
    const completion = await openAiAdapter.chat(fake.connection(), request(), options);
    expect(completion).toMatchObject({
      id: expect.stringMatching(/^chatcmpl-/),
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    });
  });

  it("completes a compatible server's stream: the role first, tool call ids, usage in a chunk of its own", async () => {
    fake.script(
      eventStream(
        '{"choices":[{"index":0,"delta":{"content":"Hel"}}]}',
        '{"choices":[{"index":0,"delta":{"content":"lo","tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]}}]}',
        '{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}',
        '[DONE]',
      ),
    );
    const chunks = await collectChunks(await openAiAdapter.chatStream(fake.connection(), request(), options));
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.role)).toEqual([
      'assistant',
      undefined,
      undefined,
      undefined,
    ]);
    expect(chunks[1]?.choices[0]?.delta.tool_calls).toEqual([
      {
        index: 0,
        id: expect.stringMatching(/^call_/),
        type: 'function',
        function: { name: 'f', arguments: '{}' },
      },
    ]);
    expect(chunks[2]).not.toHaveProperty('usage');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 3, total_tokens: 5 } });
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
  });

  it('ends a stream without usage when the server reported none', async () => {
    fake.script(
      eventStream(
        '{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":"stop"}]}',
        '[DONE]',
      ),
    );
    const chunks = await collectChunks(await openAiAdapter.chatStream(fake.connection(), request(), options));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatchObject({ id: 'x', choices: [{ finish_reason: 'stop' }] });
  });

  it('maps an error event in the stream by its type: server errors are Transient, rate limits Throttled', async () => {
    fake.script({ kind: 'stream-error', afterPieces: 1, message: 'The engine crashed' });
    const crash = await failureOf(
      collectChunks(await openAiAdapter.chatStream(fake.connection(), request(), options)),
    );
    expect(crash).toMatchObject({
      code: 'Transient',
      vendorCode: 'server_error',
      providerMessage: 'The engine crashed',
    });

    fake.script(
      eventStream('{"error":{"message":"Slow down","type":"tokens","code":"rate_limit_exceeded"}}'),
    );
    const throttled = await failureOf(
      collectChunks(await openAiAdapter.chatStream(fake.connection(), request(), options)),
    );
    expect(throttled).toMatchObject({ code: 'Throttled', vendorCode: 'rate_limit_exceeded' });

    fake.script(
      eventStream('{"error":{"object":"error","message":"too long","type":"BadRequestError","code":400}}'),
    );
    const invalid = await failureOf(
      collectChunks(await openAiAdapter.chatStream(fake.connection(), request(), options)),
    );
    expect(invalid).toMatchObject({ code: 'Invalid', providerMessage: 'too long' });
  });

  it('counts a stream that ends without [DONE] as cut off', async () => {
    fake.script(eventStream('{"choices":[{"index":0,"delta":{"content":"a"}}]}'));
    const failure = await failureOf(
      collectChunks(await openAiAdapter.chatStream(fake.connection(), request(), options)),
    );
    expect(failure).toMatchObject({ code: 'Transient', message: expect.stringMatching(/cut off/) });
  });

  it('says Invalid, suggesting the base URL, when a 200 is a web page rather than a stream', async () => {
    fake.script({
      kind: 'respond',
      response: { status: 200, headers: { 'content-type': 'text/html' }, text: '<html>Welcome</html>' },
    });
    const failure = await failureOf(openAiAdapter.chatStream(fake.connection(), request(), options));
    expect(failure).toMatchObject({ code: 'Invalid', message: expect.stringMatching(/check the base URL/) });
  });

  it('says an unknown model is the model, not the base URL, and never shows the secret', async () => {
    const unknown = await failureOf(
      openAiAdapter.chat(fake.connection(), request({ model: 'gpt-9' }), options),
    );
    expect(unknown).toMatchObject({ code: 'NotFound', vendorCode: 'model_not_found' });
    expect((unknown as Error).message).toMatch(/check the model id/);

    const rejected = await failureOf(
      openAiAdapter.chatStream(fake.connection({ apiSecret: 'sk-wrong-secret-1234' }), request(), options),
    );
    expect(rejected).toMatchObject({ code: 'InvalidCredentials' });
    expect((rejected as Error).message).not.toContain('sk-wrong-secret-1234');
  });

  it('gives up on a stream that goes quiet for longer than idleTimeoutMs', async () => {
    fake.script({ kind: 'slow-stream', pieceDelayMs: 500 });
    const stream = await openAiAdapter.chatStream(fake.connection(), request(), {
      ...options,
      idleTimeoutMs: 200,
    });
    const failure = await failureOf(collectChunks(stream));
    expect(failure).toMatchObject({ code: 'Transient', message: expect.stringMatching(/sent nothing/) });
  });

  it("ends the iteration with the caller's abort reason", async () => {
    fake.script({ kind: 'slow-stream', pieceDelayMs: 300 });
    const controller = new AbortController();
    const stream = await openAiAdapter.chatStream(fake.connection(), request(), {
      ...options,
      signal: controller.signal,
    });
    const reason = new Error('the app went away');
    setTimeout(() => controller.abort(reason), 50);
    expect(await failureOf(collectChunks(stream))).toBe(reason);
    await expect(
      openAiAdapter.chat(fake.connection(), request(), { ...options, signal: controller.signal }),
    ).rejects.toBe(reason);
  });
});

describe('OpenAI-compatible embeddings', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider('OTHER');
  });
  afterAll(() => fake?.close());

  it('passes the request on and returns the vectors in order', async () => {
    const answer = await openAiAdapter.embeddings(
      fake.connection(),
      { model: 'text-embedding-3-small', input: ['hello world', 'bye'], dimensions: 4, user: 'u1' },
      options,
    );
    expect(JSON.parse(fake.requests.at(-1)?.body ?? '{}')).toEqual({
      model: 'text-embedding-3-small',
      input: ['hello world', 'bye'],
      dimensions: 4,
      user: 'u1',
    });
    expect(answer).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: fakeEmbedding('hello world', 4) },
        { object: 'embedding', index: 1, embedding: fakeEmbedding('bye', 4) },
      ],
      model: 'text-embedding-3-small',
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
  });

  it('passes base64 vectors through as the text the provider sent', async () => {
    const answer = await openAiAdapter.embeddings(
      fake.connection(),
      { model: 'text-embedding-3-small', input: 'hello', encoding_format: 'base64' },
      options,
    );
    const bytes = Buffer.from(answer.data[0]?.embedding as string, 'base64');
    const floats = [...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)];
    expect(floats).toEqual(fakeEmbedding('hello').map(Math.fround));
  });

  it('says NotFound for an unknown model and Invalid for an answer that is not embeddings', async () => {
    await expect(
      openAiAdapter.embeddings(fake.connection(), { model: 'nope', input: 'x' }, options),
    ).rejects.toMatchObject({ code: 'NotFound' });
    fake.script({ kind: 'respond', response: { status: 200, json: { data: [{ embedding: 'x'.length }] } } });
    const failure = await openAiAdapter
      .embeddings(fake.connection(), { model: 'text-embedding-3-small', input: 'x' }, options)
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AiProviderError);
    expect(failure).toMatchObject({ code: 'Invalid' });
  });
});
