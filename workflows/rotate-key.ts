import {
  ApplicationFailure,
  condition,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import {
  type KeyRotationInput,
  type KeyRotationState,
  keyRotationStateQuery,
  maxGraceSeconds,
  searchAttributes,
  setGracePeriodUpdate,
} from './definitions.ts';

type Activities = ReturnType<typeof createActivities>;

const { revokeRotatedKey } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/**
 * JOB-3: both keys work until the grace period ends (an update may move its
 * end, counted from the start), then the old key is revoked on every bridge.
 */
export async function rotateKeyWorkflow(input: KeyRotationInput): Promise<KeyRotationState> {
  const startedAt = Date.now();
  let deadline = startedAt + input.graceSeconds * 1000;
  const state: KeyRotationState = {
    phase: 'GRACE',
    keyKind: input.keyKind,
    oldKeyId: input.oldKeyId,
    newKeyId: input.newKeyId,
    graceEndsAt: new Date(deadline).toISOString(),
  };
  setHandler(keyRotationStateQuery, () => state);
  setHandler(
    setGracePeriodUpdate,
    ({ graceSeconds }) => {
      deadline = startedAt + graceSeconds * 1000;
      state.graceEndsAt = new Date(deadline).toISOString();
      return state;
    },
    {
      validator: ({ graceSeconds }) => {
        if (state.phase !== 'GRACE')
          throw ApplicationFailure.nonRetryable('The grace period is already over');
        if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > maxGraceSeconds)
          throw ApplicationFailure.nonRetryable(
            `graceSeconds must be a whole number from 0 to ${maxGraceSeconds}`,
          );
      },
    },
  );
  while (Date.now() < deadline) {
    const waitingFor = deadline;
    await condition(() => deadline !== waitingFor, waitingFor - Date.now());
  }
  state.phase = 'REVOKING';
  state.revokedAt = new Date(await revokeRotatedKey(input.keyKind, input.oldKeyId)).toISOString();
  state.phase = 'DONE';
  upsertSearchAttributes([{ key: searchAttributes.status, value: 'COMPLETED' }]);
  return state;
}
