import { proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import {
  type BucketValidationInput,
  type BucketValidationState,
  bucketValidationStateQuery,
  probeActivityOptions,
  searchAttributes,
} from './definitions.ts';
import { failureReason } from './failures.ts';

type Activities = ReturnType<typeof createActivities>;

const { probeBucket } = proxyActivities<Activities>(probeActivityOptions);

const { recordBucketValidation } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 10 },
});

/**
 * JOB-1: probe the bucket (access, list, write, read, delete a probe object),
 * retrying transient failures with backoff and failing fast on
 * authentication and permission errors, then record the outcome on the bucket.
 */
export async function validateBucketWorkflow(input: BucketValidationInput): Promise<BucketValidationState> {
  const state: BucketValidationState = { phase: 'PROBING' };
  setHandler(bucketValidationStateQuery, () => state);
  try {
    const report = await probeBucket(input.bucketId);
    Object.assign(state, { outcome: 'VALID', latencyMs: report.latencyMs });
  } catch (error) {
    Object.assign(state, { outcome: 'INVALID', reason: failureReason(error) });
  }
  state.phase = 'RECORDING';
  await recordBucketValidation(input.bucketId, {
    status: state.outcome ?? 'INVALID',
    reason: state.reason ?? null,
    latencyMs: state.latencyMs ?? null,
  });
  state.phase = 'DONE';
  upsertSearchAttributes([{ key: searchAttributes.status, value: state.outcome ?? 'INVALID' }]);
  return state;
}
