/**
 * The bridge's hot-path lookup of a storage key: access key id → secret,
 * scope and repository, cached briefly. Changes made by the API (revocation,
 * scope or expiry changes, deletion) reach every bridge at once through
 * PostgreSQL NOTIFY on `storage_key_changes`, which evicts the cached entry.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { RepoStorageKey, type StorageKeyScope } from '../db/entities/index.ts';
import type { MasterKeyring } from '../secrets/keyring.ts';
import { announceChange, NotifiedCache } from './notified-cache.ts';
import { openStorageKeySecret } from './repo-keys.ts';

export const STORAGE_KEY_CHANGES_CHANNEL = 'storage_key_changes';

export interface ResolvedStorageKey {
  keyId: string;
  accessKeyId: string;
  secretAccessKey: string;
  scope: StorageKeyScope;
  repositoryId: string;
  organizationId: string;
  expiresAt: Date | null;
  revoked: boolean;
}

/** Tells every bridge that a key changed; call inside the transaction that changes it (delivered on commit). */
export const announceStorageKeyChange = (em: EntityManager, accessKeyId: string) =>
  announceChange(em, STORAGE_KEY_CHANGES_CHANNEL, accessKeyId);

export class StorageKeyResolver {
  readonly #em: EntityManager;
  readonly #keyring: MasterKeyring;
  readonly #cache: NotifiedCache<ResolvedStorageKey>;

  constructor(options: { em: EntityManager; keyring: MasterKeyring; ttlMs?: number; maxEntries?: number }) {
    this.#em = options.em;
    this.#keyring = options.keyring;
    this.#cache = new NotifiedCache({
      channel: STORAGE_KEY_CHANGES_CHANNEL,
      ttlMs: options.ttlMs,
      maxEntries: options.maxEntries,
      load: (accessKeyId) => this.#load(accessKeyId),
    });
  }

  /** Starts listening for key changes; without it, entries still expire after the TTL. */
  listen(databaseUrl: string): Promise<void> {
    return this.#cache.listen(databaseUrl);
  }

  close(): Promise<void> {
    return this.#cache.close();
  }

  /** The key, or null when no such key exists (cached too, so unknown keys cannot hammer the database). */
  resolve(accessKeyId: string): Promise<ResolvedStorageKey | null> {
    return this.#cache.get(accessKeyId);
  }

  async #load(accessKeyId: string): Promise<ResolvedStorageKey | null> {
    if (!/^[A-Z0-9]{16,128}$/.test(accessKeyId)) return null;
    const key = await this.#em
      .fork()
      .findOne(RepoStorageKey, { accessKeyId }, { populate: ['secret', 'repository.workspace'] });
    if (!key) return null;
    return {
      keyId: key.id,
      accessKeyId,
      secretAccessKey: openStorageKeySecret(this.#keyring, accessKeyId, key.secret),
      scope: key.scope,
      repositoryId: key.repository.id,
      organizationId: key.repository.workspace.organization.id,
      expiresAt: key.expiresAt ?? null,
      revoked: key.revokedAt !== null && key.revokedAt !== undefined,
    };
  }
}
