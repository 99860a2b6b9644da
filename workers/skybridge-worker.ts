/**
 * The one worker definition: which workflows and activities run on which task
 * queue. Used by `workers/main.ts` and by the tests.
 */
import { createRequire } from 'node:module';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Registry } from 'prom-client';
import { type ActivityDependencies, createActivities } from '../activities/index.ts';
import { activityMetricsInterceptor } from './activity-metrics.ts';

export const workflowsPath = createRequire(import.meta.url).resolve('../workflows/index.ts');

export interface SkybridgeWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  metrics?: Registry;
  activityDependencies: ActivityDependencies;
  /** A pre-built workflow bundle (tests share one); otherwise the worker bundles `workflows/` itself. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export function createSkybridgeWorker(options: SkybridgeWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities(options.activityDependencies),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    interceptors: options.metrics ? { activity: [activityMetricsInterceptor(options.metrics)] } : {},
  });
}
