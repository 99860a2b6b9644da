/**
 * JOB-3 for bucket credentials: the I/O of a rotation. New credentials wait
 * in `pendingCredentials` until a probe with them succeeds; the switch keeps
 * the replaced ones in `previousCredentials` until a probe through the
 * bucket's stored connection confirms it, so a failure can roll back.
 */
import {
  bucketConnection,
  type CredentialsField,
  credentialsHint,
  credentialsTypeOf,
  openBucketCredentials,
  sealBucketCredentials,
} from '../core/buckets/credentials.ts';
import { Bucket } from '../core/db/entities/index.ts';
import type { EntityManager } from '../core/db/orm.ts';
import type { MasterKeyring } from '../core/secrets/keyring.ts';
import { createObjectStore, type StorageClientOptions } from '../providers/storage/index.ts';
import type { BucketProbeReport } from '../workflows/definitions.ts';
import { asActivityFailure, probe } from './buckets.ts';

export interface BucketCredentialActivityDependencies {
  em: EntityManager;
  keyring: MasterKeyring;
  storageClientOptions: StorageClientOptions;
}

const allCredentialFields = ['credentials', 'pendingCredentials', 'previousCredentials'] as const;

export function bucketCredentialActivities(deps: BucketCredentialActivityDependencies) {
  /** Runs `change` on the bucket with every sealed column loaded, in one transaction. */
  const changeBucket = (bucketId: string, change: (bucket: Bucket) => void) =>
    deps.em.fork().transactional(async (em) => {
      const bucket = await em.findOneOrFail(Bucket, bucketId, { populate: [...allCredentialFields] });
      change(bucket);
    });

  /** Moves the credentials of `from` into use, re-sealed for their new column. */
  const move = (bucket: Bucket, from: 'pendingCredentials' | 'previousCredentials', to: 'credentials') => {
    const credentials = openBucketCredentials(deps.keyring, bucket, from);
    bucket[to] = sealBucketCredentials(deps.keyring, bucket.id, credentials, to);
    bucket[from] = null;
    return credentials;
  };

  return {
    async probeCredentials(bucketId: string, field: CredentialsField): Promise<BucketProbeReport> {
      const bucket = await deps.em.fork().findOneOrFail(Bucket, bucketId, { populate: [field] });
      try {
        const store = await createObjectStore(
          bucketConnection(deps.keyring, bucket, field),
          deps.storageClientOptions,
        );
        return { latencyMs: await probe(store) };
      } catch (error) {
        throw asActivityFailure(error);
      }
    },

    /** Pending → in use; in use → previous. The bridges see a new `updatedAt` and reopen the bucket. */
    async switchToPendingCredentials(bucketId: string): Promise<void> {
      await changeBucket(bucketId, (bucket) => {
        const current = openBucketCredentials(deps.keyring, bucket, 'credentials');
        bucket.previousCredentials = sealBucketCredentials(
          deps.keyring,
          bucket.id,
          current,
          'previousCredentials',
        );
        const next = move(bucket, 'pendingCredentials', 'credentials');
        bucket.credentialsKind = credentialsTypeOf(next);
        bucket.credentialsHint = credentialsHint(next);
      });
    },

    /** Previous → in use: the switch was not confirmed. */
    async rollBackBucketCredentials(bucketId: string): Promise<void> {
      await changeBucket(bucketId, (bucket) => {
        if (!bucket.previousCredentials) return;
        const restored = move(bucket, 'previousCredentials', 'credentials');
        bucket.credentialsKind = credentialsTypeOf(restored);
        bucket.credentialsHint = credentialsHint(restored);
      });
    },

    /** The end of a rotation, whatever its outcome: nothing pending, nothing kept. */
    async clearRotatedCredentials(bucketId: string): Promise<void> {
      await changeBucket(bucketId, (bucket) => {
        bucket.pendingCredentials = null;
        bucket.previousCredentials = null;
      });
    },
  };
}
