/**
 * Everything callers and workflows share: workflow names, signals, queries,
 * updates, search attributes and payload types. Imported by workflow code, so
 * it must stay deterministic and free of I/O.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery } from '@temporalio/workflow';

/** Custom search attributes registered on the namespace so operators can filter jobs in the Temporal UI. */
export const searchAttributes = {
  kind: defineSearchAttributeKey('SkybridgeKind', SearchAttributeType.KEYWORD),
  workspace: defineSearchAttributeKey('SkybridgeWorkspace', SearchAttributeType.KEYWORD),
  repository: defineSearchAttributeKey('SkybridgeRepository', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('SkybridgeStatus', SearchAttributeType.KEYWORD),
} as const;

export const jobKinds = ['ping', 'bucket-validation'] as const;
export type JobKind = (typeof jobKinds)[number];

/** Kept in each job's memo: who may read or steer it. */
export interface JobMemo {
  organizationId: string;
  startedBy: string;
}

export interface PingInput {
  message: string;
}

export interface PingReply {
  echo: string;
  workerHost: string;
  answeredAt: string;
}

export interface PingState {
  phase: 'WAITING_FOR_WORKER' | 'COMPLETED';
  message: string;
  reply?: PingReply;
}

export const pingStateQuery = defineQuery<PingState>('pingState');

/** JOB-1: checks one bucket's credentials and reachability and records the result on the bucket. */
export interface BucketValidationInput {
  bucketId: string;
}

export interface BucketProbeReport {
  /** Milliseconds per step: access, list, put, get, delete. */
  latencyMs: Record<string, number>;
}

export interface BucketValidationState {
  phase: 'PROBING' | 'RECORDING' | 'DONE';
  outcome?: 'VALID' | 'INVALID';
  reason?: string;
  latencyMs?: Record<string, number>;
}

export const bucketValidationStateQuery = defineQuery<BucketValidationState>('bucketValidationState');

/** Failure types the probe raises that no retry can fix. */
export const permanentProbeFailures = [
  'InvalidCredentials',
  'AccessDenied',
  'NotFound',
  'SecretUnavailable',
  'Invalid',
  'QuotaExceeded',
];
