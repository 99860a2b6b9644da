/**
 * Bedrock specifics beyond the adapter contract (ai-chat-adapters.test.ts):
 * what the Converse request looks like on the wire, the event-stream frames
 * the fake sends, Bedrock's in-stream exceptions, and Titan embeddings.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bedrockAdapter, bedrockEndpoint } from '../../providers/ai/bedrock.ts';
import type { ChatCompletionChunk, ChatRequest } from '../../providers/ai/chat.ts';
import { decodeEventStream, eventFrame, exceptionFrame } from '../fakes/event-stream.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { collectChunks, failureOf, weatherTool } from '../helpers/ai-chat.ts';
import { testOutboundPolicy } from '../helpers/context.ts';
import { signHeaders } from '../helpers/signed-request.ts';

const model = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const options = { outboundPolicy: testOutboundPolicy, timeoutMs: 5_000 };

const toolConversation: ChatRequest['messages'] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'developer', content: 'Use metric units.' },
  { role: 'user', content: 'Weather in Paris and Oslo?' },
  {
    role: 'assistant',
    content: 'Looking.',
    tool_calls: [
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
    ],
  },
  { role: 'tool', tool_call_id: 'call_1', content: '{"temperature":21}' },
  { role: 'tool', tool_call_id: 'call_2', content: '{"temperature":9}' },
  { role: 'user', content: 'And tomorrow?' },
];

describe('Bedrock Converse', () => {
  let fake: FakeProvider;
  const lastBody = () => JSON.parse(fake.requests.at(-1)?.body ?? '{}');
  const chat = (overrides: Partial<ChatRequest>) =>
    bedrockAdapter.chat(
      fake.connection(),
      { model, messages: [{ role: 'user', content: 'Hi' }], ...overrides },
      options,
    );

  beforeAll(async () => {
    fake = await startFakeProvider('AWS');
  });
  afterAll(() => fake.close());
  beforeEach(() => fake.reset());

  it('sends system blocks, alternating turns with tool results first, inference and tool config', async () => {
    await chat({
      messages: toolConversation,
      tools: [weatherTool],
      tool_choice: 'required',
      max_tokens: 50,
      max_completion_tokens: 100,
      temperature: 0.2,
      top_p: 0.9,
      stop: 'END',
    });
    const request = fake.requests[0]!;
    expect(request.path).toBe(`/model/${encodeURIComponent(model)}/converse`);
    expect(request.headers.authorization).toMatch(/Credential=\w+\/\d{8}\/us-east-1\/bedrock\/aws4_request/);
    const body = lastBody();
    expect(body.system).toEqual([{ text: 'You are terse.' }, { text: 'Use metric units.' }]);
    expect(body.messages).toEqual([
      { role: 'user', content: [{ text: 'Weather in Paris and Oslo?' }] },
      {
        role: 'assistant',
        content: [
          { text: 'Looking.' },
          { toolUse: { toolUseId: 'call_1', name: 'get_weather', input: { city: 'Paris' } } },
          { toolUse: { toolUseId: 'call_2', name: 'get_weather', input: { city: 'Oslo' } } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'call_1', content: [{ text: '{"temperature":21}' }] } },
          { toolResult: { toolUseId: 'call_2', content: [{ text: '{"temperature":9}' }] } },
          { text: 'And tomorrow?' },
        ],
      },
    ]);
    expect(body.inferenceConfig).toEqual({
      maxTokens: 100,
      temperature: 0.2,
      topP: 0.9,
      stopSequences: ['END'],
    });
    expect(body.toolConfig).toEqual({
      tools: [
        {
          toolSpec: {
            name: 'get_weather',
            description: 'The weather in a city',
            inputSchema: { json: weatherTool.function.parameters },
          },
        },
      ],
      toolChoice: { any: {} },
    });
  });

  it('keeps a toolConfig without a choice for tool_choice none when the conversation holds tool calls', async () => {
    await chat({ messages: toolConversation, tools: [weatherTool], tool_choice: 'none' });
    expect(lastBody().toolConfig).toEqual({
      tools: [expect.objectContaining({ toolSpec: expect.anything() })],
    });
    await chat({ messages: toolConversation });
    expect(lastBody().toolConfig.tools).toEqual([
      { toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object', properties: {} } } } },
    ]);
    await chat({ tools: [weatherTool], tool_choice: 'none' });
    expect(lastBody().toolConfig).toBeUndefined();
  });

  it('asks for JSON in a system block, as Converse has no JSON mode', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } } };
    await chat({ response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } } });
    const system: { text: string }[] = lastBody().system;
    expect(system.at(-1)?.text).toMatch(/JSON value only/);
    expect(system.at(-1)?.text).toContain(JSON.stringify(schema));
  });

  it('sends data-URL images as bytes and refuses linked ones before any request', async () => {
    const png = Buffer.from('fake png bytes').toString('base64');
    await chat({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
          ],
        },
      ],
    });
    expect(lastBody().messages[0].content[1]).toEqual({ image: { format: 'png', source: { bytes: png } } });
    fake.reset();
    const error = await failureOf(
      chat({
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
        ],
      }),
    );
    expect(error.code).toBe('Invalid');
    expect(fake.requests).toHaveLength(0);
  });

  it("reports Bedrock's invalid model identifier as NotFound, naming the model", async () => {
    const error = await failureOf(chat({ model: 'anthropic.no-such-model' }));
    expect(error).toMatchObject({ code: 'NotFound', httpStatus: 400, vendorCode: 'ValidationException' });
    expect(error.message).toContain('"anthropic.no-such-model"');
  });

  it('streams as event-stream frames that decode to the documented events', async () => {
    const path = '/model/amazon.titan-text-express-v1/converse-stream';
    const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Say hello' }] }] });
    const credentials = {
      accessKeyId: fake.credentials.apiKey!,
      secretAccessKey: fake.credentials.apiSecret,
    };
    const headers = await signHeaders(fake.origin, credentials, {
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json' },
      body,
    });
    const answer = await postForBytes(fake.origin, path, headers, body);
    expect(answer.contentType).toBe('application/vnd.amazon.eventstream');
    const frames = decodeEventStream(answer.body);
    expect(frames.every((frame) => frame.headers[':message-type'] === 'event')).toBe(true);
    expect(frames.every((frame) => frame.headers[':content-type'] === 'application/json')).toBe(true);
    const types = frames.map((frame) => frame.headers[':event-type']);
    expect(types[0]).toBe('messageStart');
    expect(types.slice(-3)).toEqual(['contentBlockStop', 'messageStop', 'metadata']);
    expect(types.filter((type) => type === 'contentBlockDelta').length).toBeGreaterThan(1);
    expect(frames.at(-1)?.payload).toMatchObject({
      usage: { inputTokens: 2, outputTokens: 5, totalTokens: 7 },
    });
  });

  it("throws a throttlingException frame from the stream's iteration as Throttled", async () => {
    fake.script({
      kind: 'respond',
      response: {
        status: 200,
        headers: { 'content-type': 'application/vnd.amazon.eventstream' },
        chunks: [
          eventFrame('messageStart', { role: 'assistant' }),
          eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' } }),
          exceptionFrame('throttlingException', {
            message: 'Too many tokens, please wait before trying again.',
          }),
        ],
      },
    });
    const stream = await bedrockAdapter.chatStream(fake.connection(), { model, messages: [] }, options);
    const seen: ChatCompletionChunk[] = [];
    const error = await failureOf(
      (async () => {
        for await (const chunk of stream) seen.push(chunk);
      })(),
    );
    expect(seen.map((chunk) => chunk.choices[0]?.delta.content)).toEqual(['', 'Hel']);
    expect(error).toMatchObject({ code: 'Throttled', vendorCode: 'ThrottlingException' });
    expect(error.providerMessage).toMatch(/Too many tokens/);
  });

  it('reports a modelStreamErrorException as Transient and a stream that ends early as cut off', async () => {
    fake.script({ kind: 'stream-error', afterPieces: 1 });
    const failed = await bedrockAdapter.chatStream(
      fake.connection(),
      { model, messages: toolConversation.slice(2, 3) },
      options,
    );
    await expect(collectChunks(failed)).rejects.toMatchObject({
      code: 'Transient',
      vendorCode: 'ModelStreamErrorException',
    });
    fake.script({
      kind: 'respond',
      response: { status: 200, chunks: [eventFrame('messageStart', { role: 'assistant' })] },
    });
    const cut = await bedrockAdapter.chatStream(fake.connection(), { model, messages: [] }, options);
    await expect(collectChunks(cut)).rejects.toThrow(/cut off/);
  });

  it('delivers the pieces before a dropped connection, then throws Transient "cut off"', async () => {
    fake.script({ kind: 'stream-drop', afterPieces: 2 });
    const stream = await bedrockAdapter.chatStream(
      fake.connection(),
      { model, messages: [{ role: 'user', content: 'Say hello to Ada' }] },
      options,
    );
    const seen: ChatCompletionChunk[] = [];
    const error = await failureOf(
      (async () => {
        for await (const chunk of stream) seen.push(chunk);
      })(),
    );
    expect(seen.map((chunk) => chunk.choices[0]?.delta.content).join('')).toBe('Fake answer to: ');
    expect(error).toMatchObject({ code: 'Transient', message: /cut off/ });
  });

  it('gives up on a stream that goes quiet for idleTimeoutMs', async () => {
    fake.script({ kind: 'slow-stream', pieceDelayMs: 400 });
    const stream = await bedrockAdapter.chatStream(
      fake.connection(),
      { model, messages: [{ role: 'user', content: 'Hi' }] },
      { ...options, idleTimeoutMs: 100 },
    );
    await expect(collectChunks(stream)).rejects.toMatchObject({
      code: 'Transient',
      message: /sent nothing for 0.1 s/,
    });
  });

  it('embeds with Titan: one call per input, dimensions and normalize sent, base64 on request', async () => {
    const answer = await bedrockAdapter.embeddings(
      fake.connection(),
      {
        model: 'amazon.titan-embed-text-v2:0',
        input: ['hello world', 'bye'],
        dimensions: 256,
        encoding_format: 'base64',
      },
      options,
    );
    const bodies = fake.requests.map((request) => JSON.parse(request.body));
    expect(bodies.sort((a, b) => a.inputText.localeCompare(b.inputText))).toEqual([
      { inputText: 'bye', dimensions: 256, normalize: true },
      { inputText: 'hello world', dimensions: 256, normalize: true },
    ]);
    expect(fake.requests[0]?.path).toBe(
      `/model/${encodeURIComponent('amazon.titan-embed-text-v2:0')}/invoke`,
    );
    const vector = Buffer.from(answer.data[0]!.embedding as string, 'base64');
    expect(vector.length).toBe(256 * 4);
    expect(answer.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });
});

describe('Bedrock runtime endpoint', () => {
  it.each([
    ['https://bedrock.eu-west-3.amazonaws.com', 'https://bedrock-runtime.eu-west-3.amazonaws.com/'],
    ['https://bedrock-fips.us-east-1.amazonaws.com', 'https://bedrock-runtime-fips.us-east-1.amazonaws.com/'],
    ['cn-north-1', 'https://bedrock-runtime.cn-north-1.amazonaws.com/'],
    ['http://127.0.0.1:4566', 'http://127.0.0.1:4566/'],
  ])('%j → %s', (written, runtime) => {
    const endpoint = bedrockEndpoint({ type: 'AWS', apiEndpoint: written, apiKey: 'AKIA', apiSecret: 's' });
    expect(endpoint.runtime.href).toBe(runtime);
  });
});

/** POSTs with node:http, keeping the answer's bytes as they came. */
function postForBytes(
  origin: string,
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ contentType?: string; body: Buffer }> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: url.hostname, port: url.port, method: 'POST', path, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ contentType: response.headers['content-type'], body: Buffer.concat(chunks) }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}
