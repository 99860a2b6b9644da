import { defineEntity, p } from '@mikro-orm/core';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { Organization } from './organization.ts';
import { Repository } from './repository.ts';
import { Workspace } from './workspace.ts';

export const aiPolicyScopes = ['ORGANIZATION', 'WORKSPACE', 'REPOSITORY'] as const;
export const aiPolicyActions = ['LOG', 'ALERT', 'BLOCK'] as const;
export const aiPolicyTargets = ['PROMPT', 'RESPONSE', 'BOTH'] as const;

const AiPolicySchema = defineEntity({
  name: 'AiPolicy',
  tableName: 'ai_policies',
  properties: {
    id: uuidPrimaryKey(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    scope: p.enum(aiPolicyScopes),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade').nullable(),
    repository: () => p.manyToOne(Repository).deleteRule('cascade').nullable(),
    name: p.string().length(100),
    /** The rule in natural language, checked by the judge model when one is configured. */
    rule: p.text(),
    action: p.enum(aiPolicyActions),
    target: p.enum(aiPolicyTargets),
    enabled: p.boolean().default(true),
    /** Built-in detectors (core/ai/policy) the policy runs; none: the gateway infers them from the rule's words. */
    detectors: p.json<string[]>().nullable(),
    /** Mask what the detectors found in prompts before they leave (a BLOCK policy blocks instead). */
    redact: p.boolean().default(false),
    /**
     * A BLOCK policy on responses holds streamed text back until its detectors (and judge) have
     * cleared it, so a blocked value never reaches the app; false streams at once and may let part
     * of a value out before the stream ends with the error.
     */
    streamHoldBack: p.boolean().default(true),
    /**
     * An AI config of the same organization whose `judgeModel` checks the rule itself. A plain id, not a
     * foreign key: a deleted judge config makes the judge fail (open, with a warning), it does not cascade.
     */
    judgeConfigId: p.uuid().nullable(),
    judgeModel: p.string().length(200).nullable(),
    /** Where an ALERT policy posts its notifications. */
    webhookUrl: p.string().length(2048).nullable(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class AiPolicy extends AiPolicySchema.class {}
AiPolicySchema.setClass(AiPolicy);

const AiPolicyViolationSchema = defineEntity({
  name: 'AiPolicyViolation',
  tableName: 'ai_policy_violations',
  indexes: [{ properties: ['organization', 'createdAt'] }],
  properties: {
    id: uuidPrimaryKey(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    policy: () => p.manyToOne(AiPolicy).deleteRule('set null').nullable(),
    repository: () => p.manyToOne(Repository).deleteRule('set null').nullable(),
    direction: p.enum(['PROMPT', 'RESPONSE'] as const),
    detector: p.string().length(100),
    actionTaken: p.enum(aiPolicyActions),
    /** What matched, already redacted. */
    excerpt: p.text().nullable(),
    createdAt: createdAt(),
  },
});

export class AiPolicyViolation extends AiPolicyViolationSchema.class {}
AiPolicyViolationSchema.setClass(AiPolicyViolation);
