import { defineEntity, p } from '@mikro-orm/core';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { sealedSecret } from './sealed-secret-property.ts';
import { Workspace } from './workspace.ts';

export const bucketProviders = ['S3', 'S3_COMPATIBLE', 'GCS', 'AZURE'] as const;
export const bucketStatuses = ['PENDING', 'VALIDATING', 'VALID', 'INVALID'] as const;
export type BucketStatus = (typeof bucketStatuses)[number];

const BucketSchema = defineEntity({
  name: 'Bucket',
  tableName: 'buckets',
  uniques: [{ properties: ['workspace', 'name'] }],
  properties: {
    id: uuidPrimaryKey(),
    workspace: () => p.manyToOne(Workspace).deleteRule('cascade'),
    /** The name clients see through the bridge. */
    name: p.string().length(63),
    provider: p.enum(bucketProviders),
    /** The bucket (or Azure container) at the provider. */
    bucketName: p.string().length(255),
    region: p.string().length(64).nullable(),
    endpoint: p.string().length(2048).nullable(),
    forcePathStyle: p.boolean().default(false),
    credentialsKind: p.string().length(40),
    credentials: sealedSecret(),
    /** JOB-3: credentials being rotated in, probed before they replace `credentials`. */
    pendingCredentials: sealedSecret().nullable(),
    /** JOB-3: the credentials just replaced, kept until the switch is confirmed (for a roll-back). */
    previousCredentials: sealedSecret().nullable(),
    /** Non-secret identifier of the credentials (access key id, account name, client email), for display. */
    credentialsHint: p.string().length(255).nullable(),
    storageCapBytes: p.bigint('number').nullable(),
    egressCapBytesPerDay: p.bigint('number').nullable(),
    requestsPerMinuteCap: p.integer().nullable(),
    status: p.enum(bucketStatuses).default('PENDING'),
    statusReason: p.text().nullable(),
    lastValidatedAt: p.datetime().nullable(),
    /** Milliseconds per probe step of the last validation: list, put, get, delete. */
    validationLatencyMs: p.json<Record<string, number>>().nullable(),
    validationJobId: p.string().length(100).nullable(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class Bucket extends BucketSchema.class {}
BucketSchema.setClass(Bucket);
