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

export const jobKinds = ['ping'] as const;
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
