/** Prometheus metrics: one registry per process, default process metrics included. */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export function createMetricsRegistry(component: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Request latency by method, route template (never the raw path: unbounded) and status. */
export function createHttpRequestHistogram(registry: Registry): Histogram<'method' | 'route' | 'status'> {
  return new Histogram({
    name: 'skybridge_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
}

/**
 * prom-client hashes a label set on every call; each set's child is looked up
 * here once. Label values must come from bounded sets (ids of configured
 * things, operation names, status codes), never from request input such as
 * object keys or model names a client typed.
 */
export function childPerLabels<Child>(make: (...values: string[]) => Child): (...values: string[]) => Child {
  const children = new Map<string, Child>();
  return (...values) => {
    const key = values.join('\0');
    let child = children.get(key);
    if (!child) {
      child = make(...values);
      children.set(key, child);
    }
    return child;
  };
}

/**
 * A gateway's request series: `<prefix>_requests_total{repository,operation,status}`
 * (repository `none` before a key is known) and
 * `<prefix>_request_duration_seconds{operation}`.
 */
export function createGatewayRequestMetrics(
  registry: Registry,
  options: { prefix: string; what: string; buckets: number[] },
): (repositoryId: string | undefined, operation: string, status: number, seconds: number) => void {
  const requests = new Counter({
    name: `${options.prefix}_requests_total`,
    help: `${options.what} requests by repository, operation and status`,
    labelNames: ['repository', 'operation', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: `${options.prefix}_request_duration_seconds`,
    help: `${options.what} request latency by operation`,
    labelNames: ['operation'],
    buckets: options.buckets,
    registers: [registry],
  });
  const requestsOf = childPerLabels((repository, operation, status) =>
    requests.labels({ repository, operation, status }),
  );
  const latencyOf = childPerLabels((operation) => latency.labels({ operation }));
  return (repositoryId, operation, status, seconds) => {
    latencyOf(operation).observe(seconds);
    requestsOf(repositoryId ?? 'none', operation, String(status)).inc();
  };
}
