/** Workflow-side reading of an activity's failure. */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** `Type: message` of the failure an activity raised, for a job's state and an operator. */
export function failureReason(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) return `${cause.type ?? 'Error'}: ${cause.message}`;
  return cause instanceof Error ? cause.message : String(cause);
}
