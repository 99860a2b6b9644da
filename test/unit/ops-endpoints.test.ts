import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpsEndpoints } from '../../core/observability/ops-endpoints.ts';

let server: Server | undefined;

async function serve(ops: ReturnType<typeof createOpsEndpoints>): Promise<string> {
  server = createServer((req, res) => {
    if (!ops.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('ops endpoints', () => {
  it("serves the registry's metrics, or the text it is given instead (a bridge of several processes)", async () => {
    const registry = new Registry();
    new Counter({ name: 'own_total', help: 'this process', registers: [registry] }).inc(3);
    const own = await serve(createOpsEndpoints({ registry, readinessChecks: {} }));
    const ownPage = await fetch(`${own}/metrics`);
    expect(ownPage.headers.get('content-type')).toBe(registry.contentType);
    expect(await ownPage.text()).toContain('own_total 3');
    await new Promise((resolve) => server?.close(resolve));

    const summed = await serve(
      createOpsEndpoints({ registry, readinessChecks: {}, metricsText: async () => 'own_total 7\n' }),
    );
    expect(await (await fetch(`${summed}/metrics`)).text()).toBe('own_total 7\n');
  });

  it('answers 500 with a JSON body when the metrics cannot be had', async () => {
    const base = await serve(
      createOpsEndpoints({
        registry: new Registry(),
        readinessChecks: {},
        metricsText: () => Promise.reject(new Error('no answer from process 42 within 5000 ms')),
      }),
    );
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({
      status: 'error',
      detail: 'Error: no answer from process 42 within 5000 ms',
    });
  });
});
