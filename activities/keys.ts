/** JOB-3's I/O: revoking a rotated key and telling every bridge at once. */
import { RepoAiKey, RepoStorageKey } from '../core/db/entities/index.ts';
import type { EntityManager } from '../core/db/orm.ts';
import { announceAiKeyChange } from '../core/keys/ai-key-resolver.ts';
import { announceStorageKeyChange } from '../core/keys/storage-key-resolver.ts';

export function keyActivities(deps: { em: EntityManager }) {
  return {
    /** Revokes the key (idempotent: a key revoked already keeps its time); returns when, in ms since the epoch. */
    async revokeRotatedKey(keyKind: 'storage' | 'ai', keyId: string): Promise<number> {
      return deps.em.fork().transactional(async (em) => {
        if (keyKind === 'storage') {
          const key = await em.findOneOrFail(RepoStorageKey, keyId);
          key.revokedAt ??= new Date();
          await announceStorageKeyChange(em, key.accessKeyId);
          return key.revokedAt.getTime();
        }
        const key = await em.findOneOrFail(RepoAiKey, keyId);
        key.revokedAt ??= new Date();
        await announceAiKeyChange(em, key.prefix);
        return key.revokedAt.getTime();
      });
    },
  };
}
