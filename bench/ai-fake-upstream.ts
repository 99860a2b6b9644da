/**
 * The fake LLM behind `npm run bench:ai`: a minimal OpenAI-compatible server
 * that answers at once, so what the bench measures is the gateway in front of
 * it. bench/ai.ts runs it as its own process (`node bench/ai-fake-upstream.ts
 * <port>`) so that it does not share an event loop with the load generator;
 * it listens on 127.0.0.1 only, prints LISTENING_LINE when ready, and exits
 * on SIGTERM or SIGINT. Importing the module only gives its constants.
 *
 * - `GET /v1/models`: one model, FAKE_MODEL.
 * - `POST /v1/chat/completions`: a chat.completion with FAKE_ANSWER, or with
 *   `stream: true` server-sent events: a role chunk, one chunk per word of
 *   FAKE_ANSWER, a finish chunk, a usage chunk when
 *   `stream_options.include_usage` is true, then `data: [DONE]`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export const FAKE_MODEL = 'bench-model';
export const FAKE_ANSWER = 'Hello from the fake upstream, answering at once.';
export const LISTENING_LINE = 'fake upstream listening';

const WORDS = FAKE_ANSWER.split(/(?<= )/);
const USAGE = { prompt_tokens: 12, completion_tokens: WORDS.length, total_tokens: 12 + WORDS.length };
const MODELS = JSON.stringify({
  object: 'list',
  data: [{ id: FAKE_MODEL, object: 'model', created: 1_700_000_000, owned_by: 'bench' }],
});
const MAX_BODY_BYTES = 1024 * 1024;

let counter = 0;

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function completion(model: string): string {
  return JSON.stringify({
    id: `chatcmpl-fake-${++counter}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: FAKE_ANSWER }, finish_reason: 'stop' }],
    usage: USAGE,
  });
}

function stream(res: ServerResponse, model: string, includeUsage: boolean): void {
  const identity = {
    id: `chatcmpl-fake-${++counter}`,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
  };
  const chunk = (delta: Record<string, string>, finish: string | null) =>
    `data: ${JSON.stringify({ ...identity, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(chunk({ role: 'assistant', content: '' }, null));
  for (const word of WORDS) res.write(chunk({ content: word }, null));
  res.write(chunk({}, 'stop'));
  if (includeUsage) res.write(`data: ${JSON.stringify({ ...identity, choices: [], usage: USAGE })}\n\n`);
  res.end('data: [DONE]\n\n');
}

function chat(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    let body: { model?: unknown; stream?: unknown; stream_options?: { include_usage?: unknown } | null };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      send(res, 400, JSON.stringify({ error: { message: 'invalid JSON', type: 'invalid_request_error' } }));
      return;
    }
    const model = typeof body.model === 'string' ? body.model : FAKE_MODEL;
    if (body.stream === true) stream(res, model, body.stream_options?.include_usage === true);
    else send(res, 200, completion(model));
  });
}

function serve(port: number): void {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/v1/chat/completions') return chat(req, res);
    req.resume();
    if (req.method === 'GET' && path === '/v1/models') return send(res, 200, MODELS);
    send(
      res,
      404,
      JSON.stringify({ error: { message: `no route ${req.method} ${path}`, type: 'not_found' } }),
    );
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1', () => process.stdout.write(`${LISTENING_LINE} on ${port}\n`));
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.once(signal, () => {
      server.closeAllConnections();
      server.close(() => process.exit(0));
    });
}

if (import.meta.main) {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0) throw new Error('usage: node bench/ai-fake-upstream.ts <port>');
  serve(port);
}
