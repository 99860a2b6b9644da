import { proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import {
  type CredentialRotationInput,
  type CredentialRotationState,
  credentialRotationStateQuery,
  probeActivityOptions,
  searchAttributes,
} from './definitions.ts';
import { failureReason } from './failures.ts';

type Activities = ReturnType<typeof createActivities>;

const { probeCredentials } = proxyActivities<Activities>(probeActivityOptions);

const { switchToPendingCredentials, rollBackBucketCredentials, clearRotatedCredentials } =
  proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { maximumInterval: '1 minute' } });

/**
 * JOB-3 for bucket credentials: probe the new credentials (nothing changes
 * if they fail), switch the bucket to them keeping the old ones, confirm
 * with a probe through the bucket's stored connection, and roll back to the
 * old ones if that fails.
 */
export async function rotateBucketCredentialsWorkflow(
  input: CredentialRotationInput,
): Promise<CredentialRotationState> {
  const state: CredentialRotationState = { phase: 'PROBING_NEW' };
  setHandler(credentialRotationStateQuery, () => state);
  const failure = await attempt(() => probeCredentials(input.bucketId, 'pendingCredentials'));
  if (failure) return finish(input, state, 'REJECTED', failure);
  state.phase = 'SWITCHING';
  await switchToPendingCredentials(input.bucketId);
  state.phase = 'CONFIRMING';
  const unconfirmed = await attempt(() => probeCredentials(input.bucketId, 'credentials'));
  if (unconfirmed) {
    state.phase = 'ROLLING_BACK';
    await rollBackBucketCredentials(input.bucketId);
    return finish(input, state, 'ROLLED_BACK', unconfirmed);
  }
  return finish(input, state, 'ROTATED');
}

/** Runs the probe; its failure's reason, or undefined when it succeeded. */
async function attempt(probe: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await probe();
    return undefined;
  } catch (error) {
    return failureReason(error);
  }
}

async function finish(
  input: CredentialRotationInput,
  state: CredentialRotationState,
  outcome: NonNullable<CredentialRotationState['outcome']>,
  reason?: string,
): Promise<CredentialRotationState> {
  await clearRotatedCredentials(input.bucketId);
  Object.assign(state, { phase: 'DONE', outcome, reason });
  upsertSearchAttributes([{ key: searchAttributes.status, value: outcome }]);
  return state;
}
