/** JOB-4's I/O: one stats rollup run over every organization's usage events. */
import { heartbeat } from '@temporalio/activity';
import type { EntityManager } from '../core/db/orm.ts';
import { type RollupResult, type RollupSettings, rollUpUsage } from '../core/stats/rollup.ts';

export function rollupActivities(deps: { em: EntityManager }) {
  return {
    async rollUpUsageEvents(settings: RollupSettings): Promise<RollupResult> {
      return rollUpUsage(deps.em, settings, { onProgress: (done, total) => heartbeat({ done, total }) });
    },
  };
}
