import { defineEntity, p } from '@mikro-orm/core';
import { aiLimitsProperty } from './ai-limits.ts';
import { AiLlmConfig } from './ai-llm-config.ts';
import { Bucket } from './bucket.ts';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { Workspace } from './workspace.ts';

export const storageEndpointTypes = ['S3', 'GCS', 'AZURE'] as const;
export const aiEndpointTypes = ['OPENAI'] as const;

const RepositorySchema = defineEntity({
  name: 'Repository',
  tableName: 'repositories',
  uniques: [{ properties: ['workspace', 'name'] }],
  properties: {
    id: uuidPrimaryKey(),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade'),
    name: p.string().length(100),
    description: p.string().length(1000).nullable(),
    storageEndpointType: p.enum(storageEndpointTypes).nullable(),
    aiEndpointType: p.enum(aiEndpointTypes).nullable(),
    buckets: () => p.manyToMany(Bucket).pivotTable('repository_buckets'),
    aiConfigs: () => p.manyToMany(AiLlmConfig).pivotTable('repository_ai_configs'),
    aiLimits: aiLimitsProperty(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class Repository extends RepositorySchema.class {}
RepositorySchema.setClass(Repository);
