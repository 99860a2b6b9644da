import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type MeasuredExchange, meterHttpExchange } from '../../core/metering/http-exchange-meter.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A server whose handler is metered; resolves with its endpoint and the next measurements. */
async function meteredServer(
  handler: (
    req: IncomingMessage,
    res: ServerResponse,
    countBody: (body: Readable) => Readable,
  ) => void | Promise<void>,
) {
  const measured: MeasuredExchange[] = [];
  const waiters: (() => void)[] = [];
  server = createServer((req, res) => {
    const meter = meterHttpExchange(res, (measurement) => {
      measured.push(measurement);
      waiters.shift()?.();
    });
    void handler(req, res, (body) => meter.countRequestBody(body));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server!.once('listening', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const next = () =>
    new Promise<MeasuredExchange>((resolve) => {
      if (measured.length > 0) return resolve(measured.shift()!);
      waiters.push(() => resolve(measured.shift()!));
    });
  return { endpoint, next };
}

describe('meterHttpExchange', () => {
  it('counts the request body as read and every response byte written, strings by their UTF-8 size', async () => {
    const { endpoint, next } = await meteredServer(async (req, res, countBody) => {
      let received = 0;
      for await (const chunk of countBody(req)) received += (chunk as Buffer).length;
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.write('héllo ');
      res.write(Buffer.alloc(1000));
      res.end(`${received}`, 'utf8');
    });
    const body = Buffer.alloc(300_000, 7);
    const response = await fetch(`${endpoint}/x`, { method: 'PUT', body });
    const text = await response.text();
    expect(text.endsWith('300000')).toBe(true);
    const measured = await next();
    expect(measured).toMatchObject({ status: 201, bytesIn: 300_000, bytesOut: 7 + 1000 + 6 });
    expect(measured.latencyMs).toBeGreaterThanOrEqual(0);
    expect(measured.occurredAt).toBeInstanceOf(Date);
  });

  it('counts bytes piped into the response', async () => {
    const { endpoint, next } = await meteredServer(async (_req, res) => {
      res.writeHead(200);
      await pipeline(Readable.from([Buffer.alloc(65_536), Buffer.alloc(65_536), Buffer.alloc(10)]), res);
    });
    const response = await fetch(endpoint);
    expect((await response.arrayBuffer()).byteLength).toBe(131_082);
    expect(await next()).toMatchObject({ status: 200, bytesIn: 0, bytesOut: 131_082 });
  });

  it('does not count a body the handler never reads', async () => {
    const { endpoint, next } = await meteredServer((_req, res) => {
      res.writeHead(403, { connection: 'close' }).end();
    });
    const response = await fetch(endpoint, { method: 'PUT', body: Buffer.alloc(10_000) });
    expect(response.status).toBe(403);
    expect(await next()).toMatchObject({ status: 403, bytesIn: 0, bytesOut: 0 });
  });

  it('passes the body stream error to the reader', async () => {
    const { endpoint, next } = await meteredServer(async (req, res, countBody) => {
      const failing = new Readable({ read() {} });
      const counted = countBody(failing);
      req.resume();
      failing.push(Buffer.alloc(5));
      failing.destroy(Object.assign(new Error('bad checksum'), { code: 'BadDigest' }));
      await expect(
        (async () => {
          for await (const _ of counted);
        })(),
      ).rejects.toMatchObject({ code: 'BadDigest' });
      res.writeHead(400).end('no');
    });
    await fetch(endpoint);
    expect(await next()).toMatchObject({ status: 400, bytesOut: 2 });
  });

  it('records 499 when the client leaves before any response', async () => {
    const { endpoint, next } = await meteredServer(() => {
      // never answers
    });
    const client = request(`${endpoint}/slow`);
    client.on('error', () => undefined);
    client.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.destroy();
    expect(await next()).toMatchObject({ status: 499, bytesOut: 0 });
  });
});
