/**
 * The Gemini adapter's translation, checked on what the fake Gemini API
 * received: system instructions, roles, function calls and their results,
 * JSON mode and schemas, tools, images, streaming errors and embeddings.
 * The behaviour every adapter shares is in ai-chat-adapters.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../providers/ai/chat.ts';
import { geminiAdapter } from '../../providers/ai/gemini.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { collectChunks } from '../helpers/ai-chat.ts';
import { testOutboundPolicy } from '../helpers/context.ts';

const options = { outboundPolicy: testOutboundPolicy, timeoutMs: 5_000 };
type Json = Record<string, unknown>;

const weatherCall = {
  id: 'call_1',
  type: 'function' as const,
  function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
};

const sse = (...events: unknown[]) => ({
  kind: 'respond' as const,
  response: {
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
    chunks: events.map((event) => `data: ${JSON.stringify(event)}\r\n\r\n`),
  },
});

describe('Gemini chat translation', () => {
  let fake: FakeProvider;
  const chat = (request: Partial<ChatRequest>) =>
    geminiAdapter.chat(
      fake.connection(),
      { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }], ...request },
      options,
    );
  /** The body of the last request the fake received. */
  const sent = (): Json => JSON.parse(fake.requests.at(-1)!.body) as Json;

  beforeAll(async () => {
    fake = await startFakeProvider('GOOGLE');
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it('puts system and developer messages in systemInstruction and assistant turns in role model', async () => {
    await chat({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Bonjour' },
        { role: 'user', content: 'Again' },
        { role: 'user', content: [{ type: 'text', text: 'please' }] },
      ],
    });
    const request = fake.requests[0]!;
    expect(request.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(request.headers['x-goog-api-key']).toBe(fake.credentials.apiSecret);
    expect(request.rawQuery).not.toContain('key=');
    expect(sent()).toMatchObject({
      systemInstruction: { parts: [{ text: 'You are terse.' }, { text: 'Answer in French.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'Hi' }] },
        { role: 'model', parts: [{ text: 'Bonjour' }] },
        // Consecutive user messages merge into one turn.
        { role: 'user', parts: [{ text: 'Again' }, { text: 'please' }] },
      ],
    });
  });

  it('sends tool calls as functionCall parts and their results as functionResponse parts named after the call', async () => {
    await chat({
      messages: [
        { role: 'user', content: 'Weather in Paris and Oslo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            weatherCall,
            { ...weatherCall, id: 'call_2', function: { name: 'get_time', arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_2', content: '{"time":"12:00"}' },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
    });
    expect(sent().contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and Oslo?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
          { functionCall: { name: 'get_time', args: { city: 'Oslo' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_time', response: { time: '12:00' } } },
          // A result that is not a JSON object is wrapped in one.
          { functionResponse: { name: 'get_weather', response: { content: 'sunny' } } },
        ],
      },
    ]);
  });

  it('refuses a tool result for a call no assistant message made, without calling Gemini', async () => {
    await expect(
      chat({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'tool', tool_call_id: 'call_unknown', content: '{}' },
        ],
      }),
    ).rejects.toMatchObject({ code: 'Invalid', message: expect.stringContaining('call_unknown') });
    expect(fake.requests).toHaveLength(0);
  });

  it('asks for JSON, with the schema reduced to the fields Gemini knows', async () => {
    await chat({ response_format: { type: 'json_object' } });
    expect(sent().generationConfig).toEqual({ responseMimeType: 'application/json' });

    const completion = await chat({
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'city',
          strict: true,
          schema: {
            $schema: 'http://json-schema.org/draft-07/schema#',
            type: 'object',
            additionalProperties: false,
            properties: {
              name: { type: 'string', description: 'The name' },
              // A property may be named like a JSON Schema keyword; it stays.
              additionalProperties: { type: 'string' },
              population: { type: ['integer', 'null'] },
              tags: { type: 'array', items: { type: 'string', additionalProperties: false } },
            },
            required: ['name'],
          },
        },
      },
    });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(sent().generationConfig).toEqual({
      responseMimeType: 'application/json',
      responseSchema: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'The name' },
          additionalProperties: { type: 'string' },
          population: { type: 'integer', nullable: true },
          tags: { type: 'array', items: { type: 'string' } },
        },
        required: ['name'],
      },
    });
  });

  it('maps the generation options', async () => {
    await chat({
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 50,
      max_completion_tokens: 100,
      stop: 'END',
      seed: 7,
    });
    expect(sent().generationConfig).toEqual({
      temperature: 0.2,
      topP: 0.9,
      maxOutputTokens: 100,
      stopSequences: ['END'],
      seed: 7,
    });
  });

  it('declares tools with Gemini schemas and maps tool_choice to functionCallingConfig', async () => {
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'get_weather',
          description: 'The weather in a city',
          parameters: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
            additionalProperties: false,
          },
          strict: true,
        },
      },
      {
        type: 'function' as const,
        function: { name: 'now', parameters: { type: 'object', properties: {} } },
      },
    ];
    await chat({ tools, tool_choice: 'required' });
    expect(sent()).toMatchObject({
      tools: [
        {
          functionDeclarations: [
            {
              name: 'get_weather',
              description: 'The weather in a city',
              parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            },
            // Gemini refuses an object schema without properties.
            { name: 'now' },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: 'ANY' } },
    });
    await chat({ tools, tool_choice: { type: 'function', function: { name: 'now' } } });
    expect(sent().toolConfig).toEqual({
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['now'] },
    });
    await chat({ tools, tool_choice: 'none' });
    expect(sent().toolConfig).toEqual({ functionCallingConfig: { mode: 'NONE' } });
  });

  it('sends data-URL images inline and refuses image links', async () => {
    await chat({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          ],
        },
      ],
    });
    expect(sent().contents).toEqual([
      {
        role: 'user',
        parts: [{ text: 'What is this?' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }],
      },
    ]);
    await expect(
      chat({
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
        ],
      }),
    ).rejects.toMatchObject({ code: 'Invalid' });
  });

  it("reports Gemini's filters as content_filter, including a prompt it blocked", async () => {
    fake.script({ kind: 'reply', reply: { text: '', finishReason: 'content_filter' } });
    const filtered = await chat({});
    expect(filtered.choices[0]).toMatchObject({
      finish_reason: 'content_filter',
      message: { content: null },
    });

    fake.script({
      kind: 'respond',
      response: {
        status: 200,
        json: {
          promptFeedback: { blockReason: 'PROHIBITED_CONTENT' },
          usageMetadata: { promptTokenCount: 3 },
        },
      },
    });
    const blocked = await chat({});
    expect(blocked.choices[0]?.finish_reason).toBe('content_filter');
    expect(blocked.usage).toEqual({ prompt_tokens: 3, completion_tokens: 0, total_tokens: 3 });
  });

  it('gives each function call of an answer its own id', async () => {
    fake.script({
      kind: 'reply',
      reply: {
        toolCalls: [
          { name: 'get_weather', arguments: '{"city":"Paris"}' },
          { name: 'get_weather', arguments: '{"city":"Oslo"}' },
        ],
      },
    });
    const completion = await chat({});
    const ids = completion.choices[0]?.message.tool_calls?.map((call) => call.id);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect(ids?.[0]).toMatch(/^call_0_/);
  });

  it('stops waiting for a whole answer when the caller aborts', async () => {
    fake.script({ kind: 'delay', ms: 2_000 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('client went away')), 100);
    await expect(
      geminiAdapter.chat(
        fake.connection(),
        { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }] },
        { ...options, signal: controller.signal },
      ),
    ).rejects.toThrow('client went away');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('names the model when Gemini does not know it', async () => {
    await expect(chat({ model: 'gemini-0.1-nope' })).rejects.toMatchObject({
      code: 'NotFound',
      message: expect.stringContaining('"gemini-0.1-nope"'),
    });
  });
});

describe('Gemini streams', () => {
  let fake: FakeProvider;
  const stream = async () =>
    collectChunks(
      await geminiAdapter.chatStream(
        fake.connection(),
        { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }] },
        options,
      ),
    );

  beforeAll(async () => {
    fake = await startFakeProvider('GOOGLE');
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it('asks for server-sent events', async () => {
    await stream();
    expect(fake.requests[0]?.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent');
    expect(fake.requests[0]?.query.get('alt')).toBe('sse');
  });

  it('maps an error event by its status: RESOURCE_EXHAUSTED is Throttled', async () => {
    fake.script(
      sse(
        { candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] } }] },
        { error: { code: 429, message: 'Resource has been exhausted', status: 'RESOURCE_EXHAUSTED' } },
      ),
    );
    await expect(stream()).rejects.toMatchObject({ code: 'Throttled', vendorCode: 'RESOURCE_EXHAUSTED' });
  });

  it('throws Transient when the stream ends without a finish reason', async () => {
    fake.script(sse({ candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] } }] }));
    await expect(stream()).rejects.toMatchObject({ code: 'Transient' });
  });

  it('reports a filtered stream as content_filter, with thinking tokens counted as output', async () => {
    fake.script(
      sse(
        { candidates: [{ content: { role: 'model', parts: [{ text: 'Once' }] } }] },
        {
          candidates: [{ finishReason: 'RECITATION' }],
          usageMetadata: { promptTokenCount: 2, candidatesTokenCount: 1, thoughtsTokenCount: 5 },
        },
      ),
    );
    const chunks = await stream();
    expect(chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason))).toContain(
      'content_filter',
    );
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 2, completion_tokens: 6, total_tokens: 8 });
  });
});

describe('Gemini embeddings', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider('GOOGLE');
  });
  afterAll(() => fake.close());

  it('embeds through batchEmbedContents, with the requested dimensions and an estimated usage', async () => {
    const answer = await geminiAdapter.embeddings(
      fake.connection(),
      { model: 'text-embedding-004', input: 'hello world', dimensions: 8 },
      options,
    );
    const request = fake.requests.at(-1)!;
    expect(request.path).toBe('/v1beta/models/text-embedding-004:batchEmbedContents');
    expect(JSON.parse(request.body)).toEqual({
      requests: [
        {
          model: 'models/text-embedding-004',
          content: { parts: [{ text: 'hello world' }] },
          outputDimensionality: 8,
        },
      ],
    });
    expect(answer.data).toHaveLength(1);
    expect(answer.data[0]?.embedding).toHaveLength(8);
    // 11 characters ≈ 3 tokens.
    expect(answer.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });

  it("returns base64 float32 vectors when asked, like OpenAI's encoding_format", async () => {
    const request = { model: 'text-embedding-004', input: ['hello'], dimensions: 4 };
    const floats = await geminiAdapter.embeddings(fake.connection(), request, options);
    const encoded = await geminiAdapter.embeddings(
      fake.connection(),
      { ...request, encoding_format: 'base64' },
      options,
    );
    const bytes = Buffer.from(encoded.data[0]!.embedding as string, 'base64');
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    expect(decoded).toEqual((floats.data[0]!.embedding as number[]).map(Math.fround));
  });
});
