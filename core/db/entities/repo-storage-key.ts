import { defineEntity, p } from '@mikro-orm/core';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { Repository } from './repository.ts';
import { sealedSecret } from './sealed-secret-property.ts';

export const storageKeyScopes = ['READ', 'WRITE', 'READ_WRITE', 'ADMIN'] as const;
export type StorageKeyScope = (typeof storageKeyScopes)[number];

const RepoStorageKeySchema = defineEntity({
  name: 'RepoStorageKey',
  tableName: 'repo_storage_keys',
  properties: {
    id: uuidPrimaryKey(),
    repository: () => p.manyToOne(Repository).deleteRule('cascade'),
    name: p.string().length(100),
    /** Looks like an AWS access key id; public. */
    accessKeyId: p.string().length(20).unique(),
    /** Sealed, not hashed: SigV4 verification needs the secret itself. */
    secret: sealedSecret(),
    scope: p.enum(storageKeyScopes),
    expiresAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    lastUsedAt: p.datetime().nullable(),
    createdBy: p.uuid().nullable(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class RepoStorageKey extends RepoStorageKeySchema.class {}
RepoStorageKeySchema.setClass(RepoStorageKey);
