/**
 * The outbound guard against real sockets: local HTTP servers on 127.0.0.1
 * stand in for a user-supplied endpoint, and a redirecting one for an
 * endpoint that tries to bounce the server to the cloud metadata service.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedAgents, guardedFetch, type OutboundPolicy } from '../../core/net/outbound-guard.ts';

const loopbackAllowed: OutboundPolicy = { allowLoopback: true, allowPrivateNetworks: false };
const publicOnly: OutboundPolicy = { allowLoopback: false, allowPrivateNetworks: false };

let target: http.Server;
let redirector: http.Server;
let targetUrl: string;
let redirectorUrl: string;

beforeAll(async () => {
  // Echoes what it received, so tests can see method, body and headers after redirects.
  target = await listen((request, response) => {
    if (request.url === '/hang') return; // never answers
    if (request.url === '/empty') {
      response.writeHead(204).end();
      return;
    }
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      response.setHeader('content-type', 'application/json');
      response.setHeader('set-cookie', ['a=1', 'b=2']);
      response.end(
        JSON.stringify({ method: request.method, url: request.url, headers: request.headers, body }),
      );
    });
  });
  targetUrl = `http://127.0.0.1:${port(target)}`;
  redirector = await listen((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    const to = url.searchParams.get('to');
    const status = Number(url.searchParams.get('status') ?? 302);
    if (url.pathname === '/metadata') {
      response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end();
    } else if (url.pathname === '/metadata-decimal') {
      response.writeHead(301, { location: 'http://2852039166/latest/meta-data' }).end();
    } else if (url.pathname === '/loop') {
      response.writeHead(302, { location: '/loop' }).end();
    } else if (url.pathname === '/echo') {
      response.end(JSON.stringify({ headers: request.headers }));
    } else if (url.pathname === '/file') {
      response.writeHead(302, { location: 'file:///etc/passwd' }).end();
    } else if (to) {
      response.writeHead(status, { location: to }).end('redirect body');
    } else {
      response.writeHead(404).end();
    }
  });
  redirectorUrl = `http://127.0.0.1:${port(redirector)}`;
});

afterAll(async () => {
  for (const server of [target, redirector]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('guardedFetch', () => {
  it('reaches a loopback server when the policy allows loopback', async () => {
    const response = await guardedFetch(`${targetUrl}/hello`, {}, loopbackAllowed);
    expect(response.status).toBe(200);
    expect(response.url).toBe(`${targetUrl}/hello`);
    expect(response.redirected).toBe(false);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await response.json()).toMatchObject({ method: 'GET', url: '/hello' });
  });

  it('refuses the same server when the policy does not allow loopback', async () => {
    await expect(guardedFetch(`${targetUrl}/hello`, {}, publicOnly)).rejects.toMatchObject({
      code: 'OUTBOUND_ADDRESS_REFUSED',
      address: '127.0.0.1',
      message: expect.stringContaining('127.0.0.1 is a loopback address'),
    });
  });

  it('checks the resolved addresses of a hostname: localhost is refused without loopback', async () => {
    const url = `http://localhost:${port(target)}/hello`;
    await expect(guardedFetch(url, {}, publicOnly)).rejects.toMatchObject({
      code: 'OUTBOUND_ADDRESS_REFUSED',
      host: `localhost:${port(target)}`,
      message: expect.stringMatching(/it resolves to (127\.0\.0\.1|::1) is a loopback address/),
    });
    const allowed = await guardedFetch(url.replace('localhost', '127.0.0.1'), {}, loopbackAllowed);
    expect(allowed.status).toBe(200);
    await allowed.arrayBuffer();
  });

  it('refuses a redirect to the cloud metadata service, even with loopback allowed', async () => {
    for (const path of ['/metadata', '/metadata-decimal']) {
      await expect(guardedFetch(`${redirectorUrl}${path}`, {}, loopbackAllowed)).rejects.toMatchObject({
        code: 'OUTBOUND_ADDRESS_REFUSED',
        address: '169.254.169.254',
        message: expect.stringContaining('169.254.169.254 is a link-local/cloud-metadata address'),
      });
    }
  });

  it('refuses a redirect to another scheme', async () => {
    await expect(guardedFetch(`${redirectorUrl}/file`, {}, loopbackAllowed)).rejects.toThrow(
      /scheme file: is not allowed/,
    );
  });

  it('follows allowed redirects, with fetch semantics for method, body and credentials', async () => {
    const to = encodeURIComponent(`${targetUrl}/landed`);
    const postThen302 = await guardedFetch(
      `${redirectorUrl}/?status=302&to=${to}`,
      {
        method: 'POST',
        body: '{"x":1}',
        headers: { authorization: 'Bearer sk-secret', 'content-type': 'application/json', 'x-trace': 't1' },
      },
      loopbackAllowed,
    );
    expect(postThen302.redirected).toBe(true);
    expect(postThen302.url).toBe(`${targetUrl}/landed`);
    const afterPost = (await postThen302.json()) as {
      method: string;
      body: string;
      headers: Record<string, string>;
    };
    expect(afterPost).toMatchObject({ method: 'GET', body: '' });
    // Another port is another origin: the provider key does not follow the redirect.
    expect(afterPost.headers.authorization).toBeUndefined();
    expect(afterPost.headers['content-type']).toBeUndefined();
    expect(afterPost.headers['x-trace']).toBe('t1');

    const putThen307 = await guardedFetch(
      `${redirectorUrl}/?status=307&to=${to}`,
      { method: 'PUT', body: 'payload' },
      loopbackAllowed,
    );
    expect(await putThen307.json()).toMatchObject({ method: 'PUT', body: 'payload' });
  });

  it('keeps credentials on a same-origin redirect', async () => {
    const response = await guardedFetch(
      `${redirectorUrl}/?status=302&to=/echo`,
      { headers: { authorization: 'Bearer sk-secret' } },
      loopbackAllowed,
    );
    expect(await response.json()).toMatchObject({ headers: { authorization: 'Bearer sk-secret' } });
  });

  it('gives up after 5 redirects, and obeys redirect: manual and error', async () => {
    await expect(guardedFetch(`${redirectorUrl}/loop`, {}, loopbackAllowed)).rejects.toMatchObject({
      code: 'OUTBOUND_TOO_MANY_REDIRECTS',
    });
    const manual = await guardedFetch(`${redirectorUrl}/metadata`, { redirect: 'manual' }, loopbackAllowed);
    expect(manual.status).toBe(302);
    expect(manual.headers.get('location')).toBe('http://169.254.169.254/latest/meta-data');
    await manual.arrayBuffer();
    await expect(
      guardedFetch(`${redirectorUrl}/loop`, { redirect: 'error' }, loopbackAllowed),
    ).rejects.toMatchObject({ code: 'OUTBOUND_REDIRECT_NOT_ALLOWED' });
  });

  it('times out', async () => {
    const started = Date.now();
    await expect(
      guardedFetch(`${targetUrl}/hang`, { timeoutMs: 200 }, loopbackAllowed),
    ).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('returns a null body for 204 and HEAD', async () => {
    const empty = await guardedFetch(`${targetUrl}/empty`, {}, loopbackAllowed);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    const head = await guardedFetch(`${targetUrl}/hello`, { method: 'HEAD' }, loopbackAllowed);
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
  });
});

describe('createGuardedAgents with node:http directly', () => {
  it('refuses an IP-literal loopback host and a hostname resolving to loopback', async () => {
    const { httpAgent } = createGuardedAgents(publicOnly);
    try {
      for (const host of ['127.0.0.1', 'localhost']) {
        await expect(
          get({ host, port: port(target), path: '/hello', agent: httpAgent }),
        ).rejects.toMatchObject({
          code: 'OUTBOUND_ADDRESS_REFUSED',
        });
      }
      // A caller-supplied lookup cannot switch the check off: the agent's own wins.
      await expect(
        get({
          host: 'localhost',
          port: port(target),
          agent: httpAgent,
          lookup: (_hostname, _options, callback) => callback(null, '127.0.0.1', 4),
        }),
      ).rejects.toMatchObject({ code: 'OUTBOUND_ADDRESS_REFUSED' });
    } finally {
      httpAgent.destroy();
    }
  });

  it('connects, with keep-alive, when the policy allows the destination', async () => {
    const { httpAgent } = createGuardedAgents(loopbackAllowed);
    try {
      const first = await get({ host: 'localhost', port: port(target), path: '/one', agent: httpAgent });
      const second = await get({ host: '127.0.0.1', port: port(target), path: '/two', agent: httpAgent });
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(JSON.parse(second.body)).toMatchObject({ url: '/two', headers: { connection: 'keep-alive' } });
    } finally {
      httpAgent.destroy();
    }
  });
});

function listen(handler: http.RequestListener): Promise<http.Server> {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function port(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}

function get(options: http.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
  });
}
