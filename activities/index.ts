/** Every activity the worker registers, built from the process's dependencies. */

import { auditActivities } from './audit.ts';
import { bucketCredentialActivities } from './bucket-credentials.ts';
import { type BucketActivityDependencies, bucketActivities } from './buckets.ts';
import { keyActivities } from './keys.ts';
import { migrationActivities } from './migrations.ts';
import { answerPing } from './ping.ts';
import { probeActivities } from './probes.ts';
import { type RebalancingActivityDependencies, rebalancingActivities } from './rebalancing.ts';
import { rollupActivities } from './rollups.ts';

export type ActivityDependencies = BucketActivityDependencies & RebalancingActivityDependencies;

export function createActivities(deps: ActivityDependencies) {
  return {
    answerPing,
    ...auditActivities(deps),
    ...bucketActivities(deps),
    ...keyActivities(deps),
    ...bucketCredentialActivities(deps),
    ...migrationActivities(deps),
    ...rebalancingActivities(deps),
    ...rollupActivities(deps),
    ...probeActivities(deps),
  };
}
