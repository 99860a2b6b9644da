/**
 * The SSE reader under the provider adapters (providers/ai/http.ts), against a
 * local server that writes the event stream byte by byte as a provider might:
 * events and multi-byte characters split across reads, comments and retry
 * lines, a stream without newlines that never ends an event, a cut connection.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openProviderStream, serverSentEvents } from '../../providers/ai/http.ts';
import { AiProviderError } from '../../providers/ai/provider.ts';
import { testOutboundPolicy } from '../helpers/context.ts';

type Script = (res: http.ServerResponse) => Promise<void> | void;
const scripts = new Map<string, Script>();
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    void scripts.get(req.url ?? '')?.(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function eventsOf(path: string, script: Script) {
  scripts.set(path, script);
  const url = new URL(`${base}${path}`);
  const response = await openProviderStream(
    { url, headers: {}, method: 'GET' },
    { outboundPolicy: testOutboundPolicy, timeoutMs: 5_000 },
  );
  const events: { event?: string; data: string }[] = [];
  for await (const { event, data } of serverSentEvents(response, url, 5_000)) events.push({ event, data });
  return events;
}

describe('server-sent events from a provider', () => {
  it('parses events and UTF-8 characters cut anywhere by the network', async () => {
    const stream = Buffer.from(
      ': comment\nretry: 10\n\nevent: delta\ndata: {"t":"héllo 日本"}\n\ndata: [DONE]\n\n',
    );
    const events = await eventsOf('/split', async (res) => {
      for (const byte of stream) {
        res.write(Buffer.from([byte]));
        await new Promise((resolve) => setImmediate(resolve));
      }
      res.end();
    });
    expect(events).toEqual([
      { event: 'delta', data: '{"t":"héllo 日本"}' },
      { event: undefined, data: '[DONE]' },
    ]);
  });

  it('refuses an event over 8 M characters instead of buffering it without end', async () => {
    const failure = await eventsOf('/endless', async (res) => {
      const block = Buffer.alloc(1024 * 1024, 'a');
      res.write('data: ');
      for (let i = 0; i < 12 && !res.destroyed; i++) {
        res.write(block);
        await new Promise((resolve) => setImmediate(resolve));
      }
      res.end('\n\n');
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AiProviderError);
    expect(failure).toMatchObject({ code: 'Invalid' });
  });

  it('a connection cut in the middle of the stream is a Transient failure', async () => {
    const failure = await eventsOf('/cut', (res) => {
      res.write('data: {"first":true}\n\ndata: {"sec');
      setTimeout(() => res.socket?.destroy(), 20);
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AiProviderError);
    expect(failure).toMatchObject({ code: 'Transient' });
  });
});
