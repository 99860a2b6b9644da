import { defineEntity, p } from '@mikro-orm/core';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { sealedSecret } from './sealed-secret-property.ts';
import { Workspace } from './workspace.ts';

export const aiLlmTypes = ['OPENAI', 'GOOGLE', 'ANTHROPIC', 'AWS', 'OTHER'] as const;
export const aiConfigStatuses = ['UNVALIDATED', 'VALID', 'INVALID'] as const;

const AiLlmConfigSchema = defineEntity({
  name: 'AiLlmConfig',
  tableName: 'ai_llm_configs',
  uniques: [{ properties: ['workspace', 'name'] }],
  properties: {
    id: uuidPrimaryKey(),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade'),
    name: p.string().length(100),
    type: p.enum(aiLlmTypes),
    apiEndpoint: p.string().length(2048),
    apiKey: sealedSecret().nullable(),
    apiSecret: sealedSecret(),
    status: p.enum(aiConfigStatuses).default('UNVALIDATED'),
    statusReason: p.text().nullable(),
    lastValidatedAt: p.datetime().nullable(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class AiLlmConfig extends AiLlmConfigSchema.class {}
AiLlmConfigSchema.setClass(AiLlmConfig);
