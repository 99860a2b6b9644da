import { proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import {
  type PingInput,
  type PingReply,
  type PingState,
  pingStateQuery,
  searchAttributes,
} from './definitions.ts';

const { answerPing } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 5 },
});

/** The smallest real job: one activity round trip, with its state readable by a query. */
export async function pingWorkflow(input: PingInput): Promise<PingReply> {
  const state: PingState = { phase: 'WAITING_FOR_WORKER', message: input.message };
  setHandler(pingStateQuery, () => state);
  state.reply = await answerPing(input.message);
  state.phase = 'COMPLETED';
  upsertSearchAttributes([{ key: searchAttributes.status, value: 'COMPLETED' }]);
  return state.reply;
}
