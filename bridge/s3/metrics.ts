/**
 * The S3 bridge's Prometheus series (OBS-2). Labels: the repository id (a
 * configured thing, so bounded; `none` before a key is known), the operation
 * name and the status code; never a bucket-relative key.
 */
import { Counter, type Registry } from 'prom-client';
import { childPerLabels, createGatewayRequestMetrics } from '../../core/observability/metrics.ts';

export interface S3Metrics {
  /** One finished request. */
  observe(repositoryId: string | undefined, operation: string, status: number, seconds: number): void;
  /** Object bytes received from and sent to the client. */
  countBytes(repositoryId: string | undefined, operation: string, bytesIn: number, bytesOut: number): void;
}

export function createS3Metrics(registry: Registry): S3Metrics {
  const observe = createGatewayRequestMetrics(registry, {
    prefix: 'skybridge_s3',
    what: 'S3',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
  });
  const bytes = new Counter({
    name: 'skybridge_s3_bytes_total',
    help: 'Bytes received from (in) and sent to (out) S3 clients, by repository and operation',
    labelNames: ['repository', 'operation', 'direction'],
    registers: [registry],
  });
  const bytesOf = childPerLabels((repository, operation, direction) =>
    bytes.labels({ repository, operation, direction }),
  );
  return {
    observe,
    countBytes(repositoryId, operation, bytesIn, bytesOut) {
      if (bytesIn > 0) bytesOf(repositoryId ?? 'none', operation, 'in').inc(bytesIn);
      if (bytesOut > 0) bytesOf(repositoryId ?? 'none', operation, 'out').inc(bytesOut);
    },
  };
}
