/**
 * What the Anthropic adapter sends to the Messages API and how it reads the
 * answers, beyond the contract every adapter passes (ai-chat-adapters): the
 * request the fake received, and Anthropic's own answers and failures.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OutboundPolicy } from '../../core/net/outbound-guard.ts';
import { anthropicAdapter } from '../../providers/ai/anthropic.ts';
import { defaultMaxTokens } from '../../providers/ai/anthropic-messages.ts';
import type { ChatCompletionChunk, ChatRequest } from '../../providers/ai/chat.ts';
import { type FakeProvider, type FakeResponse, startFakeProvider } from '../fakes/index.ts';

const outboundPolicy: OutboundPolicy = { allowLoopback: true, allowPrivateNetworks: false };
const options = { outboundPolicy, timeoutMs: 5_000 };
const model = 'claude-sonnet-4-5';

const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
};

let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider('ANTHROPIC');
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

/** The JSON body of the last request the fake received. */
function sentBody(): Record<string, unknown> {
  return JSON.parse(fake.requests.at(-1)?.body ?? '{}') as Record<string, unknown>;
}

async function chat(overrides: Partial<ChatRequest>) {
  const request = { model, messages: [{ role: 'user' as const, content: 'Hi' }], ...overrides };
  return anthropicAdapter.chat(fake.connection(), request, options);
}

async function collect(request: Partial<ChatRequest> = {}): Promise<ChatCompletionChunk[]> {
  const stream = await anthropicAdapter.chatStream(
    fake.connection(),
    { model, messages: [{ role: 'user', content: 'Hi' }], ...request },
    options,
  );
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** A streamed answer made of these Anthropic events, as the API frames them. */
function eventStream(...events: Record<string, unknown>[]): FakeResponse {
  return {
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
    chunks: events.map((event) => `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`),
  };
}

const messageStart = {
  type: 'message_start',
  message: {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model,
    content: [],
    usage: { input_tokens: 3 },
  },
};
const textDelta = { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } };

describe('Anthropic requests', () => {
  it('lifts system and developer messages to the top-level system and sets the default max_tokens', async () => {
    await chat({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hi' },
      ],
      stop: 'END',
      temperature: 0.2,
      user: 'app-user-7',
    });
    expect(sentBody()).toMatchObject({
      model,
      system: 'You are terse.\n\nAnswer in French.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      max_tokens: defaultMaxTokens,
      stop_sequences: ['END'],
      temperature: 0.2,
      metadata: { user_id: 'app-user-7' },
    });
  });

  it('prefers max_completion_tokens over max_tokens', async () => {
    await chat({ max_tokens: 100, max_completion_tokens: 50 });
    expect(sentBody().max_tokens).toBe(50);
  });

  it('sends tool calls as tool_use and tool results as one user turn, merging same-role turns', async () => {
    await chat({
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Weather in Paris' },
        { role: 'user', content: 'and Oslo?' },
        {
          role: 'assistant',
          content: 'Looking.',
          tool_calls: [
            {
              id: 'toolu_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: 'Oslo' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: '21 C' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: '9 C' }] },
        { role: 'user', content: 'Which is warmer?' },
      ],
    });
    expect(sentBody().messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather in Paris' },
          { type: 'text', text: 'and Oslo?' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Looking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { arguments: 'Oslo' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '21 C' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: '9 C' },
          { type: 'text', text: 'Which is warmer?' },
        ],
      },
    ]);
  });

  it('translates tools and each tool_choice', async () => {
    const choices: [ChatRequest['tool_choice'], unknown][] = [
      ['auto', { type: 'auto' }],
      ['required', { type: 'any' }],
      ['none', { type: 'none' }],
      [
        { type: 'function', function: { name: 'get_weather' } },
        { type: 'tool', name: 'get_weather' },
      ],
    ];
    for (const [tool_choice, expected] of choices) {
      await chat({ tools: [weatherTool], tool_choice });
      expect(sentBody().tool_choice).toEqual(expected);
    }
    expect(sentBody().tools).toEqual([
      { name: 'get_weather', input_schema: weatherTool.function.parameters },
    ]);
    await chat({ tools: [weatherTool], parallel_tool_calls: false });
    expect(sentBody().tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
  });

  it('asks for JSON in the system text, since Anthropic has no JSON mode', async () => {
    await chat({ response_format: { type: 'json_object' } });
    expect(sentBody().system).toMatch(/JSON/);
    const schema = { type: 'object', properties: { answer: { type: 'string' } } };
    await chat({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hi' },
      ],
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } },
    });
    const system = String(sentBody().system);
    expect(system.startsWith('You are terse.\n\n')).toBe(true);
    expect(system).toContain(JSON.stringify(schema));
  });

  it('sends data-URL images inline and other image URLs by URL', async () => {
    await chat({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(sentBody().messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compare' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
        ],
      },
    ]);
  });
});

describe('Anthropic answers', () => {
  it('reports a stop sequence as stop', async () => {
    fake.script({ kind: 'reply', reply: { text: 'one two END three' } });
    const completion = await chat({ stop: ['END'] });
    expect(completion.choices[0]).toMatchObject({ message: { content: 'one two ' }, finish_reason: 'stop' });
  });

  it('counts cached input tokens as prompt tokens', async () => {
    const usage = {
      input_tokens: 3,
      cache_read_input_tokens: 10,
      cache_creation_input_tokens: 5,
      output_tokens: 2,
    };
    const message = { id: 'msg_1', type: 'message', role: 'assistant', model, content: [], usage };
    fake.script({
      kind: 'respond',
      response: { status: 200, json: { ...message, stop_reason: 'end_turn' } },
    });
    expect((await chat({})).usage).toEqual({ prompt_tokens: 18, completion_tokens: 2, total_tokens: 20 });
  });

  it('says which model is unknown', async () => {
    await expect(chat({ model: 'claude-nope' })).rejects.toMatchObject({
      code: 'NotFound',
      vendorCode: 'not_found_error',
      message: expect.stringContaining('claude-nope'),
    });
  });

  it('maps in-stream error types: overloaded is Transient, rate limits are Throttled', async () => {
    const cases = [
      ['overloaded_error', 'Transient'],
      ['rate_limit_error', 'Throttled'],
      ['invalid_request_error', 'Invalid'],
    ];
    for (const [type, code] of cases) {
      const error = { type: 'error', error: { type, message: 'Nope' } };
      fake.script({ kind: 'respond', response: eventStream(messageStart, textDelta, error) });
      await expect(collect()).rejects.toMatchObject({ code, vendorCode: type, providerMessage: 'Nope' });
    }
  });

  it('says Transient when the stream ends without message_stop', async () => {
    fake.script({ kind: 'respond', response: eventStream(messageStart, textDelta) });
    await expect(collect()).rejects.toMatchObject({ code: 'Transient' });
  });

  it('says Invalid when a stream request is answered with something other than events', async () => {
    fake.script({ kind: 'respond', response: { status: 200, text: '<html>hello</html>' } });
    await expect(collect()).rejects.toMatchObject({ code: 'Invalid' });
  });

  it('indexes streamed tool calls apart from the text block before them', async () => {
    fake.script({
      kind: 'reply',
      reply: {
        text: 'Checking.',
        toolCalls: [{ id: 'toolu_9', name: 'get_weather', arguments: '{"city":"Rome"}' }],
      },
    });
    const chunks = await collect({ tools: [weatherTool] });
    const calls = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toEqual({
      index: 0,
      id: 'toolu_9',
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    expect(new Set(calls.map((call) => call.index))).toEqual(new Set([0]));
    expect(calls.map((call) => call.function?.arguments).join('')).toBe('{"city":"Rome"}');
    expect(sentBody().stream).toBe(true);
  });

  it('stops waiting for a whole answer when the caller aborts', async () => {
    fake.script({ kind: 'delay', ms: 2_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const request = { model, messages: [{ role: 'user' as const, content: 'Hi' }] };
    await expect(
      anthropicAdapter.chat(fake.connection(), request, { ...options, signal: controller.signal }),
    ).rejects.toBeDefined();
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('says Invalid for embeddings', async () => {
    await expect(
      anthropicAdapter.embeddings(fake.connection(), { model: 'any', input: 'hello' }, options),
    ).rejects.toMatchObject({ code: 'Invalid', message: expect.stringContaining('no embeddings') });
  });
});
