/**
 * The bridge's hot-path lookup of a storage key: access key id → secret,
 * scope and repository, cached briefly. Changes made by the API (revocation,
 * scope or expiry changes, deletion) reach every bridge at once through
 * PostgreSQL NOTIFY on `storage_key_changes`, which evicts the cached entry.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import pg from 'pg';
import { RepoStorageKey, type StorageKeyScope } from '../db/entities/index.ts';
import type { MasterKeyring } from '../secrets/keyring.ts';
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
export async function announceStorageKeyChange(em: EntityManager, accessKeyId: string): Promise<void> {
  await em.getConnection().execute('select pg_notify(?, ?)', [STORAGE_KEY_CHANGES_CHANNEL, accessKeyId]);
}

interface CacheEntry {
  value: ResolvedStorageKey | null;
  expires: number;
}

export class StorageKeyResolver {
  readonly #em: EntityManager;
  readonly #keyring: MasterKeyring;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #cache = new Map<string, CacheEntry>();
  #listener: pg.Client | undefined;

  constructor(options: { em: EntityManager; keyring: MasterKeyring; ttlMs?: number; maxEntries?: number }) {
    this.#em = options.em;
    this.#keyring = options.keyring;
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /** Starts listening for key changes; without it, entries still expire after the TTL. */
  async listen(databaseUrl: string): Promise<void> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    client.on('notification', (message) => {
      if (message.channel === STORAGE_KEY_CHANGES_CHANNEL && message.payload)
        this.#cache.delete(message.payload);
    });
    // A lost connection means lost notifications: forget everything rather than serve stale keys.
    client.on('error', () => this.#cache.clear());
    await client.query(`listen ${STORAGE_KEY_CHANGES_CHANNEL}`);
    this.#listener = client;
  }

  async close(): Promise<void> {
    await this.#listener?.end();
  }

  /** The key, or null when no such key exists (cached too, so unknown keys cannot hammer the database). */
  async resolve(accessKeyId: string): Promise<ResolvedStorageKey | null> {
    const cached = this.#cache.get(accessKeyId);
    if (cached && cached.expires > Date.now()) return cached.value;
    const value = await this.#load(accessKeyId);
    if (this.#cache.size >= this.#maxEntries) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(accessKeyId, { value, expires: Date.now() + this.#ttlMs });
    return value;
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
