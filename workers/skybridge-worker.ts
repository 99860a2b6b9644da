/**
 * The one worker definition: which workflows and activities run on which task
 * queue, with metrics and tracing around them. Used by `workers/main.ts` and
 * by the tests.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { Resource } from '@opentelemetry/resources';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import {
  type ActivityInterceptorsFactory,
  type BundleOptions,
  type NativeConnection,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import type { Registry } from 'prom-client';
import { type ActivityDependencies, createActivities } from '../activities/index.ts';
import type { Tracing } from '../core/observability/tracing.ts';
import { activityMetricsInterceptor } from './activity-metrics.ts';

const resolve = createRequire(import.meta.url).resolve;
/** `index.ts` beside the sources, `index.js` when this file runs compiled from .build/ (scripts/build.ts). */
export const workflowsPath = resolve(`../workflows/index${path.extname(import.meta.filename)}`);

/**
 * What every workflow bundle holds (built at start, by `npm run
 * workflows:bundle`, or by the tests): the workflows and the tracing
 * interceptor that carries trace context into their activities and children.
 */
export const workflowBundleOptions: Pick<BundleOptions, 'workflowsPath' | 'workflowInterceptorModules'> = {
  workflowsPath,
  workflowInterceptorModules: [resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
};

export interface SkybridgeWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  metrics?: Registry;
  /** Workflow spans are exported through a sink to this process's span processor (a no-op when tracing is off). */
  tracing: Tracing;
  activityDependencies: ActivityDependencies;
  /** A pre-built workflow bundle (with `workflowBundleOptions`); otherwise the worker bundles `workflows/` itself. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export function createSkybridgeWorker(options: SkybridgeWorkerOptions): Promise<Worker> {
  const activityInterceptors: ActivityInterceptorsFactory[] = [
    (ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }),
  ];
  if (options.metrics) activityInterceptors.push(activityMetricsInterceptor(options.metrics));
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities(options.activityDependencies),
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: workflowBundleOptions.workflowsPath }),
    interceptors: {
      activity: activityInterceptors,
      ...(options.workflowBundle
        ? {}
        : { workflowModules: workflowBundleOptions.workflowInterceptorModules }),
    },
    sinks: { exporter: workflowSpanExporter(options.tracing) },
  });
}

/** The workflows' spans go where this process's spans go: nowhere when tracing is off. */
function workflowSpanExporter(tracing: Tracing) {
  return tracing.enabled
    ? makeWorkflowExporter(tracing.spanProcessor, tracing.resource)
    : makeWorkflowExporter(new NoopSpanProcessor(), Resource.empty());
}
