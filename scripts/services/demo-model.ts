/**
 * The demo's stand-in for an AI provider: a tiny OpenAI-compatible server
 * (`/v1/models`, `/v1/chat/completions` as JSON or server-sent events) whose
 * one model, `skybridge-demo-echo`, is not a language model at all: it
 * answers with a fixed sentence quoting the prompt. `npm run demo` starts it
 * when no real provider is given (DEMO_OPENAI_BASE_URL), so the AI gateway
 * can be tried without an account; `npm start` stops it.
 *
 *   node scripts/services/demo-model.ts <port>
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export const demoModelId = 'skybridge-demo-echo';

interface ChatBody {
  messages?: { role?: string; content?: unknown }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

function answerTo(body: ChatBody): string {
  const lastUser = [...(body.messages ?? [])].reverse().find((message) => message.role === 'user');
  const said = typeof lastUser?.content === 'string' ? lastUser.content : '(no text)';
  return `Hello from Skybridge's local demo model (an echo, not an LLM). You said: ${said}`;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function chat(res: ServerResponse, body: ChatBody): void {
  const text = answerTo(body);
  const promptTokens = (body.messages ?? []).reduce(
    (sum, message) => sum + (typeof message.content === 'string' ? words(message.content) : 0),
    0,
  );
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: words(text),
    total_tokens: promptTokens + words(text),
  };
  const identity = {
    id: `chatcmpl-${randomUUID()}`,
    created: Math.floor(Date.now() / 1000),
    model: demoModelId,
  };
  if (!body.stream) {
    send(res, 200, {
      ...identity,
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      usage,
    });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const event = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
  const chunk = (delta: unknown, finish: string | null = null) =>
    event({
      ...identity,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
  chunk({ role: 'assistant', content: '' });
  for (const piece of text.match(/\S+\s*/g) ?? []) chunk({ content: piece });
  chunk({}, 'stop');
  if (body.stream_options?.include_usage)
    event({ ...identity, object: 'chat.completion.chunk', choices: [], usage });
  res.end('data: [DONE]\n\n');
}

async function readJson(req: IncomingMessage): Promise<ChatBody> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as ChatBody;
}

export function createDemoModelServer() {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/v1/models') {
      send(res, 200, {
        object: 'list',
        data: [{ id: demoModelId, object: 'model', created: 0, owned_by: 'skybridge-demo' }],
      });
      return;
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      readJson(req)
        .then((body) => chat(res, body))
        .catch(() =>
          send(res, 400, { error: { message: 'invalid JSON', type: 'invalid_request_error', code: null } }),
        );
      return;
    }
    req.resume();
    send(res, 404, {
      error: { message: `Unknown URL ${req.method} ${path}`, type: 'invalid_request_error', code: null },
    });
  });
}

if (import.meta.filename === process.argv[1]) {
  const port = Number(process.argv[2]);
  createDemoModelServer().listen(port, '127.0.0.1');
}
