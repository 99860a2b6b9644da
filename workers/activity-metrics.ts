/** Counts and times every activity the worker runs, labelled by activity type and outcome. */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { Histogram, type Registry } from 'prom-client';

export function activityMetricsInterceptor(registry: Registry): ActivityInterceptorsFactory {
  const duration = new Histogram({
    name: 'skybridge_activity_duration_seconds',
    help: 'Activity execution time by activity type and outcome',
    labelNames: ['activity', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
    registers: [registry],
  });
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const end = duration.startTimer({ activity: ctx.info.activityType });
        try {
          const result = await next(input);
          end({ outcome: 'completed' });
          return result;
        } catch (error) {
          end({ outcome: 'failed' });
          throw error;
        }
      },
    },
  });
}
