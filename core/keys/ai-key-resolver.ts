/**
 * The AI gateway's hot-path lookup of a repo AI key (`Authorization: Bearer
 * sbk_…`): found by its public prefix (cached, evicted on every bridge when
 * the API changes the key), then the presented key is compared with the
 * stored hash in constant time.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { type AiLimits, RepoAiKey } from '../db/entities/index.ts';
import { announceChange, NotifiedCache } from './notified-cache.ts';
import { aiKeyMatches, aiKeyPrefixOf } from './repo-keys.ts';

export const AI_KEY_CHANGES_CHANNEL = 'ai_key_changes';

/** Who an AI request is made for: a repo AI key, or (keyId null) a user in a conversation of the repository. */
export interface AiPrincipal {
  keyId: string | null;
  repositoryId: string;
  workspaceId: string;
  organizationId: string;
  limits: AiLimits | null;
  repositoryLimits: AiLimits | null;
}

export interface ResolvedAiKey extends AiPrincipal {
  keyId: string;
  prefix: string;
  expiresAt: Date | null;
  revoked: boolean;
}

interface StoredAiKey extends ResolvedAiKey {
  secretHash: string;
}

export const announceAiKeyChange = (em: EntityManager, prefix: string) =>
  announceChange(em, AI_KEY_CHANGES_CHANNEL, prefix);

export class AiKeyResolver {
  readonly #cache: NotifiedCache<StoredAiKey>;

  constructor(options: { em: EntityManager; ttlMs?: number }) {
    this.#cache = new NotifiedCache({
      channel: AI_KEY_CHANGES_CHANNEL,
      ttlMs: options.ttlMs,
      load: (prefix) => loadAiKey(options.em, prefix),
    });
  }

  listen(databaseUrl: string): Promise<void> {
    return this.#cache.listen(databaseUrl);
  }

  close(): Promise<void> {
    return this.#cache.close();
  }

  /** The key the bearer token is, or null when it is no (current or past) AI key. */
  async resolve(token: string): Promise<ResolvedAiKey | null> {
    const prefix = aiKeyPrefixOf(token);
    if (!prefix) return null;
    const stored = await this.#cache.get(prefix);
    if (!stored || !aiKeyMatches(token, stored.secretHash)) return null;
    const { secretHash: _, ...key } = stored;
    return key;
  }
}

async function loadAiKey(em: EntityManager, prefix: string): Promise<StoredAiKey | null> {
  const key = await em
    .fork()
    .findOne(RepoAiKey, { prefix }, { populate: ['secretHash', 'repository.workspace'] });
  if (!key) return null;
  return {
    keyId: key.id,
    prefix,
    secretHash: key.secretHash,
    repositoryId: key.repository.id,
    workspaceId: key.repository.workspace.id,
    organizationId: key.repository.workspace.organization.id,
    expiresAt: key.expiresAt ?? null,
    revoked: key.revokedAt !== null && key.revokedAt !== undefined,
    limits: key.aiLimits ?? null,
    repositoryLimits: key.repository.aiLimits ?? null,
  };
}
