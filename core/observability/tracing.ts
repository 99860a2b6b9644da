/**
 * OpenTelemetry traces (OBS-2). Each process registers a tracer provider
 * that exports over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; the
 * code everywhere else uses the global `@opentelemetry/api` tracer, which is
 * a no-op (and almost free) when tracing is off. Trace context crosses
 * processes in W3C `traceparent` headers (HTTP) and Temporal headers
 * (workflows and activities, through @temporalio/interceptors-opentelemetry).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';

export type Tracing =
  | { readonly enabled: false; shutdown(): Promise<void> }
  | {
      readonly enabled: true;
      /** Where workflow spans (exported by the worker through a sink) go too. */
      readonly spanProcessor: SpanProcessor;
      readonly resource: Resource;
      /** Flushes what is buffered; the process is ending. */
      shutdown(): Promise<void>;
    };

/**
 * Registers this process's tracer provider; without an endpoint, nothing is recorded or sent,
 * and the SDK (about 4 MB of heap, most of it semantic-convention tables) is not even loaded.
 */
export async function startTracing(component: string, otlpEndpoint: string | undefined): Promise<Tracing> {
  if (!otlpEndpoint) return { enabled: false, shutdown: async () => {} };
  const [{ Resource }, { BatchSpanProcessor }, { OTLPTraceExporter }, { NodeTracerProvider }] =
    await Promise.all([
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/sdk-trace-node'),
    ]);
  const resource = new Resource({
    'service.name': `skybridge-${component}`,
    'service.namespace': 'skybridge',
  });
  const exporter = new OTLPTraceExporter({ url: `${otlpEndpoint.replace(/\/$/, '')}/v1/traces` });
  const spanProcessor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  return { enabled: true, spanProcessor, resource, shutdown: () => provider.shutdown() };
}

const tracer = () => trace.getTracer('skybridge');

/**
 * Runs `handle` in a server span that continues the caller's trace (its
 * `traceparent` header, if any). `describe` names the span and adds
 * attributes once the request is understood (route, operation, status).
 */
export async function withServerSpan<T>(
  headers: IncomingHttpHeaders,
  handle: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  return tracer().startActiveSpan('request', { kind: SpanKind.SERVER }, parent, async (span) => {
    try {
      return await handle(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Names a bridge request's span once its operation is known; never an object key (unbounded, and private). */
export function describeSpan(
  span: Span,
  name: string,
  repositoryId: string | undefined,
  status: number,
): void {
  if (!span.isRecording()) return;
  span.updateName(name);
  span.setAttributes({ 'http.response.status_code': status, 'skybridge.repository': repositoryId ?? '' });
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
}
