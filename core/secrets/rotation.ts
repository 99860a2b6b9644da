/**
 * Master-key rotation: every sealed value in the database is re-wrapped under
 * the keyring's active key (only its data key changes; the ciphertext stays).
 * Run it after putting a new key first in the keyring; once it reports
 * nothing left under the old key, the old key can leave the keyring.
 */

import type { EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { bucketSealingContext } from '../buckets/credentials.ts';
import { AiLlmConfig, Bucket, RepoStorageKey } from '../db/entities/index.ts';
import { needsRewrap, parseSealedSecret, rewrapSecret, type SealedSecret } from './envelope.ts';
import type { MasterKeyring } from './keyring.ts';

interface SealedColumn<T> {
  entity: EntityName<T>;
  field: string;
  /** The sealing context (AAD) of one row's value. */
  context(row: T): string;
}

const column = <T>(spec: SealedColumn<T>) => spec as unknown as SealedColumn<object>;

/** Every column that holds a sealed secret, with the context it was sealed under. */
export const sealedColumns: SealedColumn<object>[] = [
  ...(['credentials', 'pendingCredentials', 'previousCredentials'] as const).map((field) =>
    column<Bucket>({ entity: Bucket, field, context: (bucket) => bucketSealingContext(bucket.id, field) }),
  ),
  column<AiLlmConfig>({
    entity: AiLlmConfig,
    field: 'apiKey',
    context: (config) => `ai-config:${config.id}:apiKey`,
  }),
  column<AiLlmConfig>({
    entity: AiLlmConfig,
    field: 'apiSecret',
    context: (config) => `ai-config:${config.id}:apiSecret`,
  }),
  column<RepoStorageKey>({
    entity: RepoStorageKey,
    field: 'secret',
    context: (key) => `storage-key:${key.accessKeyId}:secret`,
  }),
];

const BATCH = 200;

export interface RotationReport {
  rewrapped: number;
  alreadyCurrent: number;
}

export async function rewrapAllSecrets(
  rootEm: EntityManager,
  keyring: MasterKeyring,
): Promise<RotationReport> {
  const report: RotationReport = { rewrapped: 0, alreadyCurrent: 0 };
  for (const sealed of sealedColumns) {
    for (let offset = 0; ; offset += BATCH) {
      const em = rootEm.fork();
      const rows = (await em.find(sealed.entity, {}, {
        populate: [sealed.field],
        orderBy: { id: 'asc' },
        limit: BATCH,
        offset,
      } as never)) as Record<string, unknown>[];
      for (const row of rows) rewrapRow(row, sealed, keyring, report);
      await em.flush();
      if (rows.length < BATCH) break;
    }
  }
  return report;
}

function rewrapRow(
  row: Record<string, unknown>,
  sealed: SealedColumn<object>,
  keyring: MasterKeyring,
  report: RotationReport,
) {
  const value = row[sealed.field];
  if (value === null || value === undefined) return;
  const current: SealedSecret = parseSealedSecret(value);
  if (!needsRewrap(keyring, current)) {
    report.alreadyCurrent++;
    return;
  }
  row[sealed.field] = rewrapSecret(keyring, current, sealed.context(row));
  report.rewrapped++;
}
