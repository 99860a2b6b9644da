import { defineEntity, p } from '@mikro-orm/core';
import { aiLimitsProperty } from './ai-limits.ts';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { Repository } from './repository.ts';

const RepoAiKeySchema = defineEntity({
  name: 'RepoAiKey',
  tableName: 'repo_ai_keys',
  properties: {
    id: uuidPrimaryKey(),
    repository: () => p.manyToOne(Repository).deleteRule('cascade'),
    name: p.string().length(100),
    /** The key's first characters, shown in listings and used to find it. */
    prefix: p.string().length(24).unique(),
    /** SHA-256 of the whole key: the key is high-entropy, so a fast hash is enough and lookup stays cheap. */
    secretHash: p.string().length(64).hidden().lazy(),
    expiresAt: p.datetime().nullable(),
    aiLimits: aiLimitsProperty(),
    revokedAt: p.datetime().nullable(),
    lastUsedAt: p.datetime().nullable(),
    createdBy: p.uuid().nullable(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class RepoAiKey extends RepoAiKeySchema.class {}
RepoAiKeySchema.setClass(RepoAiKey);
