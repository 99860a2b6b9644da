/** JOB-1's I/O: probe a bucket through providers/storage and record the outcome. */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/activity';
import { bucketConnection } from '../core/buckets/credentials.ts';
import { Bucket, type BucketStatus } from '../core/db/entities/index.ts';
import type { EntityManager } from '../core/db/orm.ts';
import { SecretDecryptionError } from '../core/secrets/errors.ts';
import type { MasterKeyring } from '../core/secrets/keyring.ts';
import { createObjectStore, type StorageClientOptions } from '../providers/storage/index.ts';
import { type ObjectStore, StorageError } from '../providers/storage/object-store.ts';
import type { BucketProbeReport } from '../workflows/definitions.ts';

export interface BucketActivityDependencies {
  em: EntityManager;
  keyring: MasterKeyring;
  /** Imposes the outbound-address policy on every connection to a user-supplied endpoint. */
  storageClientOptions: StorageClientOptions;
}

const PROBE_PREFIX = '.skybridge-probe/';

export function bucketActivities(deps: BucketActivityDependencies) {
  return {
    async probeBucket(bucketId: string): Promise<BucketProbeReport> {
      const bucket = await deps.em.fork().findOneOrFail(Bucket, bucketId, { populate: ['credentials'] });
      try {
        const store = await createObjectStore(
          bucketConnection(deps.keyring, bucket),
          deps.storageClientOptions,
        );
        return { latencyMs: await probe(store) };
      } catch (error) {
        throw asActivityFailure(error);
      }
    },

    async recordBucketValidation(
      bucketId: string,
      outcome: { status: BucketStatus; reason: string | null; latencyMs: Record<string, number> | null },
    ): Promise<void> {
      const em = deps.em.fork();
      const bucket = await em.findOne(Bucket, bucketId);
      if (!bucket) return; // deleted while being validated
      bucket.status = outcome.status;
      bucket.statusReason = outcome.reason;
      bucket.validationLatencyMs = outcome.latencyMs;
      bucket.lastValidatedAt = new Date();
      await em.flush();
    },
  };
}

/** Access, list, write, read back and delete one small object, timing each step. */
export async function probe(store: ObjectStore): Promise<Record<string, number>> {
  const latencyMs: Record<string, number> = {};
  const timed = async <T>(step: string, action: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await action();
    latencyMs[step] = Math.round((performance.now() - started) * 10) / 10;
    return result;
  };
  const key = `${PROBE_PREFIX}${randomUUID()}`;
  const content = `skybridge probe ${new Date().toISOString()}`;
  await timed('access', () => store.checkAccess());
  await timed('list', () => store.list({ maxKeys: 1 }));
  await timed('put', () =>
    store.put(key, Buffer.from(content), {
      contentLength: Buffer.byteLength(content),
      contentType: 'text/plain',
    }),
  );
  const readBack = await timed('get', async () => {
    const { body } = await store.get(key);
    return (await Readable.from(body).toArray()).map(String).join('');
  });
  await timed('delete', () => store.delete(key));
  if (readBack !== content)
    throw new StorageError('Invalid', 'the probe object read back differs from what was written');
  return latencyMs;
}

/** Storage errors keep their code as the failure type, so the workflow knows which ones not to retry. */
export function asActivityFailure(error: unknown): Error {
  if (error instanceof StorageError) {
    return ApplicationFailure.create({
      type: error.code,
      message: error.message,
      nonRetryable: !error.retryable,
      details: [{ vendorCode: error.vendorCode ?? null, httpStatus: error.httpStatus ?? null }],
    });
  }
  if (error instanceof SecretDecryptionError) {
    // The master key that sealed these credentials is not in this worker's keyring: no retry will help.
    return ApplicationFailure.create({
      type: 'SecretUnavailable',
      message: error.message,
      nonRetryable: true,
    });
  }
  return error instanceof Error ? error : new Error(String(error));
}
