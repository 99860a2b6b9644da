/**
 * Everything callers and workflows share: workflow names, signals, queries,
 * updates, search attributes and payload types. Imported by workflow code, so
 * it must stay deterministic and free of I/O.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';

/** Custom search attributes registered on the namespace so operators can filter jobs in the Temporal UI. */
export const searchAttributes = {
  kind: defineSearchAttributeKey('SkybridgeKind', SearchAttributeType.KEYWORD),
  workspace: defineSearchAttributeKey('SkybridgeWorkspace', SearchAttributeType.KEYWORD),
  repository: defineSearchAttributeKey('SkybridgeRepository', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('SkybridgeStatus', SearchAttributeType.KEYWORD),
} as const;

export const jobKinds = ['ping', 'bucket-validation', 'key-rotation', 'credential-rotation'] as const;
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

/**
 * JOB-3: a repo key's rotation. The successor is issued by the API (its
 * secret must never enter workflow history); the workflow keeps both keys
 * valid for the grace period, then revokes the old one.
 */
export interface KeyRotationInput {
  keyKind: 'storage' | 'ai';
  oldKeyId: string;
  newKeyId: string;
  graceSeconds: number;
}

export interface KeyRotationState {
  phase: 'GRACE' | 'REVOKING' | 'DONE';
  keyKind: 'storage' | 'ai';
  oldKeyId: string;
  newKeyId: string;
  /** When the old key stops working (ISO 8601). */
  graceEndsAt: string;
  revokedAt?: string;
}

/** The longest grace period a rotation may have. */
export const maxGraceSeconds = 30 * 24 * 3600;

export const keyRotationStateQuery = defineQuery<KeyRotationState>('keyRotationState');

/** Shortens or extends the grace period, counted from the rotation's start (0 ends it now). */
export const setGracePeriodUpdate = defineUpdate<KeyRotationState, [{ graceSeconds: number }]>(
  'setGracePeriod',
);

/** JOB-3 for a bucket's credentials: the new ones are already sealed in the bucket's pending column. */
export interface CredentialRotationInput {
  bucketId: string;
}

export interface CredentialRotationState {
  phase: 'PROBING_NEW' | 'SWITCHING' | 'CONFIRMING' | 'ROLLING_BACK' | 'DONE';
  outcome?: 'ROTATED' | 'REJECTED' | 'ROLLED_BACK';
  reason?: string;
}

export const credentialRotationStateQuery = defineQuery<CredentialRotationState>('credentialRotationState');
