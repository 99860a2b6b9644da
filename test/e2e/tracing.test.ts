/**
 * OBS-2 traces across processes: the real API, worker and bridge processes
 * export spans over OTLP/HTTP to a local collector. A request that arrives
 * with a W3C `traceparent` continues that trace through the API, into the
 * workflow it starts and the activity the workflow runs; a bridge request
 * does the same. Without an endpoint nothing is exported (the other tests).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';
import {
  type ProjectProcess,
  startApiProcess,
  startBridgeProcess,
  startWorkerProcess,
} from '../helpers/processes.ts';

interface CollectedSpan {
  service: string;
  name: string;
  traceId: string;
  parentSpanId?: string;
}

/** A minimal OTLP/HTTP JSON trace receiver (what a collector's otlp receiver accepts). */
async function startCollector(): Promise<{ url: string; spans: CollectedSpan[]; server: Server }> {
  const spans: CollectedSpan[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.url === '/v1/traces' && req.headers['content-type']?.includes('json')) {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const resourceSpans of body.resourceSpans ?? []) {
        const service = resourceSpans.resource?.attributes?.find(
          (attribute: { key: string }) => attribute.key === 'service.name',
        )?.value?.stringValue;
        for (const scope of resourceSpans.scopeSpans ?? [])
          for (const span of scope.spans ?? [])
            spans.push({ service, name: span.name, traceId: span.traceId, parentSpanId: span.parentSpanId });
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, server };
}

describe('OpenTelemetry traces across API, workflows and the bridge', () => {
  let stack: TestStack;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  const processes: ProjectProcess[] = [];
  let apiUrl: string;
  let openaiUrl: string;

  beforeAll(async () => {
    collector = await startCollector();
    stack = await startTestStack({ worker: false });
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url };
    const [worker, apiProcess, bridge] = await Promise.all([
      startWorkerProcess(stack, otel),
      startApiProcess(stack, otel),
      startBridgeProcess(stack, otel),
    ]);
    processes.push(worker, apiProcess, bridge);
    apiUrl = apiProcess.baseUrl;
    openaiUrl = bridge.openaiUrl;
  }, 180_000);
  afterAll(async () => {
    await Promise.all(processes.map((child) => child.stop()));
    collector?.server.close();
    await stack?.close();
  });

  const traceparent = () => {
    const traceId = randomBytes(16).toString('hex');
    return { traceId, header: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
  };

  async function spansOf(
    traceId: string,
    until: (spans: CollectedSpan[]) => boolean,
  ): Promise<CollectedSpan[]> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const found = collector.spans.filter((span) => span.traceId === traceId);
      if (until(found)) return found;
      await sleep(200);
    }
    return collector.spans.filter((span) => span.traceId === traceId);
  }

  it('continues a caller trace through the API, the workflow it starts and its activity', async () => {
    const token = await login(apiUrl, stack.admin);
    const { traceId, header } = traceparent();
    const started = await fetch(`${apiUrl}/jobs/ping`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', traceparent: header },
      body: JSON.stringify({ message: 'traced' }),
    });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as { id: string };
    for (let attempt = 0; attempt < 100; attempt++) {
      if ((await api(apiUrl, 'GET', `/jobs/${id}`, { token })).body.status === 'COMPLETED') break;
      await sleep(200);
    }
    const names = (spans: CollectedSpan[]) => spans.map((span) => `${span.service} ${span.name}`);
    const spans = await spansOf(traceId, (found) =>
      names(found).some((name) => name.includes('RunActivity')),
    );
    expect(names(spans)).toEqual(
      expect.arrayContaining([
        'skybridge-api POST /jobs/ping',
        'skybridge-api StartWorkflow:pingWorkflow',
        'skybridge-worker RunWorkflow:pingWorkflow',
        'skybridge-worker StartActivity:answerPing',
        'skybridge-worker RunActivity:answerPing',
      ]),
    );
  });

  it('traces bridge requests, named by operation and continuing the caller trace', async () => {
    const { traceId, header } = traceparent();
    const refused = await fetch(`${openaiUrl}/v1/models`, {
      headers: { authorization: 'Bearer not-a-key', traceparent: header },
    });
    expect(refused.status).toBe(401);
    const spans = await spansOf(traceId, (found) => found.length > 0);
    expect(spans).toEqual([expect.objectContaining({ service: 'skybridge-bridge', name: 'AI ListModels' })]);
  });
});
