/**
 * /healthz (the process answers), /readyz (its dependencies answer) and
 * /metrics (Prometheus), as a plain node:http handler every process mounts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export type ReadinessCheck = () => Promise<void>;

const CHECK_TIMEOUT_MS = 3_000;

export interface OpsEndpoints {
  /** Answers and returns true when the request is for an ops endpoint. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

export function createOpsEndpoints(options: {
  registry: Registry;
  readinessChecks: Record<string, ReadinessCheck>;
  /** The text /metrics answers, when it is not this registry's own (a bridge of several processes sums theirs). */
  metricsText?: () => Promise<string>;
}): OpsEndpoints {
  const metricsText = options.metricsText ?? (() => options.registry.metrics());
  const routes: Record<string, (res: ServerResponse) => Promise<void>> = {
    '/healthz': async (res) => sendJson(res, 200, { status: 'ok' }),
    '/readyz': async (res) => {
      const checks = await runChecks(options.readinessChecks);
      const ready = Object.values(checks).every((result) => result === 'ok');
      sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
    },
    '/metrics': async (res) => {
      const text = await metricsText();
      res.writeHead(200, { 'content-type': options.registry.contentType });
      res.end(text);
    },
  };
  return {
    handle(req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const route = routes[(req.url ?? '').split('?')[0] ?? ''];
      if (!route) return false;
      route(res).catch((error: unknown) => sendJson(res, 500, { status: 'error', detail: String(error) }));
      return true;
    },
  };
}

async function runChecks(checks: Record<string, ReadinessCheck>): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withTimeout(check(), CHECK_TIMEOUT_MS);
        return [name, 'ok'] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message : String(error)] as const;
      }
    }),
  );
  return Object.fromEntries(entries);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
