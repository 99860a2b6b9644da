export { AiLimitCounter } from './ai-limit-counter.ts';
export { type AiLimits, type BudgetPeriod, budgetPeriods } from './ai-limits.ts';
export { AiLlmConfig, aiConfigStatuses, aiLlmTypes } from './ai-llm-config.ts';
export {
  AiPolicy,
  AiPolicyViolation,
  aiPolicyActions,
  aiPolicyScopes,
  aiPolicyTargets,
} from './ai-policy.ts';
export { AuditEvent, auditOutcomes } from './audit-event.ts';
export { BridgeNode } from './bridge-node.ts';
export { Bucket, type BucketStatus, bucketProviders, bucketStatuses } from './bucket.ts';
export { Budget, BudgetSpend, type BudgetSubject, budgetSubjects } from './budget.ts';
export { Conversation, ConversationMessage, conversationRoles } from './conversation.ts';
export { Group, GroupGrant, groupGrantAccess } from './group.ts';
export { Invitation } from './invitation.ts';
export { Membership, type OrganizationRole, organizationRoles, roleAtLeast } from './membership.ts';
export {
  MigrationItem,
  type MigrationItemAction,
  type MigrationItemState,
  migrationItemActions,
  migrationItemStates,
} from './migration-item.ts';
export { MultipartPart, MultipartUpload } from './multipart-upload.ts';
export { Organization } from './organization.ts';
export { type AiRates, Price, type PriceKind, priceKinds, type StorageRates } from './price.ts';
export { ProbeResult, type ProbeTargetKind, probeTargetKinds } from './probe-result.ts';
export { RepoAiKey } from './repo-ai-key.ts';
export { RepoStorageKey, type StorageKeyScope, storageKeyScopes } from './repo-storage-key.ts';
export { aiEndpointTypes, Repository, storageEndpointTypes } from './repository.ts';
export {
  BucketSla,
  ProviderSla,
  Reputation,
  SlaCompliance,
  type SlaWindow,
  slaWindows,
} from './sla.ts';
export { type UsageApi, UsageEvent, usageApis } from './usage-event.ts';
export {
  AiUsageDay,
  AiUsageMinute,
  StorageUsageDay,
  StorageUsageMinute,
  UsageRollupState,
} from './usage-rollups.ts';
export { User } from './user.ts';
export {
  VirtualBucket,
  VirtualBucketMember,
  VirtualBucketUpload,
  VirtualObject,
} from './virtual-bucket.ts';
export { Workspace } from './workspace.ts';

import { AiLimitCounter } from './ai-limit-counter.ts';
import { AiLlmConfig } from './ai-llm-config.ts';
import { AiPolicy, AiPolicyViolation } from './ai-policy.ts';
import { AuditEvent } from './audit-event.ts';
import { BridgeNode } from './bridge-node.ts';
import { Bucket } from './bucket.ts';
import { Budget, BudgetSpend } from './budget.ts';
import { Conversation, ConversationMessage } from './conversation.ts';
import { Group, GroupGrant } from './group.ts';
import { Invitation } from './invitation.ts';
import { Membership } from './membership.ts';
import { MigrationItem } from './migration-item.ts';
import { MultipartPart, MultipartUpload } from './multipart-upload.ts';
import { Organization } from './organization.ts';
import { Price } from './price.ts';
import { ProbeResult } from './probe-result.ts';
import { RepoAiKey } from './repo-ai-key.ts';
import { RepoStorageKey } from './repo-storage-key.ts';
import { Repository } from './repository.ts';
import { BucketSla, ProviderSla, Reputation, SlaCompliance } from './sla.ts';
import { UsageEvent } from './usage-event.ts';
import {
  AiUsageDay,
  AiUsageMinute,
  StorageUsageDay,
  StorageUsageMinute,
  UsageRollupState,
} from './usage-rollups.ts';
import { User } from './user.ts';
import { VirtualBucket, VirtualBucketMember, VirtualBucketUpload, VirtualObject } from './virtual-bucket.ts';
import { Workspace } from './workspace.ts';

export const allEntities = [
  Organization,
  Workspace,
  User,
  Membership,
  Invitation,
  Group,
  GroupGrant,
  Bucket,
  AiLlmConfig,
  Repository,
  RepoStorageKey,
  RepoAiKey,
  AiPolicy,
  AiPolicyViolation,
  AuditEvent,
  UsageEvent,
  MultipartUpload,
  MultipartPart,
  AiLimitCounter,
  Conversation,
  ConversationMessage,
  MigrationItem,
  StorageUsageMinute,
  StorageUsageDay,
  AiUsageMinute,
  AiUsageDay,
  UsageRollupState,
  VirtualBucket,
  VirtualBucketMember,
  VirtualObject,
  VirtualBucketUpload,
  BridgeNode,
  ProbeResult,
  BucketSla,
  ProviderSla,
  SlaCompliance,
  Reputation,
  Price,
  Budget,
  BudgetSpend,
];
