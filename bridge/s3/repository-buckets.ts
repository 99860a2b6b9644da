/**
 * A repository's buckets as the bridge serves them: registered name →
 * entity and an ObjectStore over the provider. Cached briefly per repository;
 * stores are rebuilt when a bucket's row changes.
 */
import { bucketConnection } from '../../core/buckets/credentials.ts';
import { Bucket, Repository } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import type { MasterKeyring } from '../../core/secrets/keyring.ts';
import { createObjectStore, type StorageClientOptions } from '../../providers/storage/index.ts';
import type { ObjectStore } from '../../providers/storage/object-store.ts';

export interface ServedBucket {
  bucket: Bucket;
  store: ObjectStore;
}

interface CachedRepository {
  buckets: Map<string, ServedBucket>;
  expires: number;
}

export class RepositoryBuckets {
  readonly #em: EntityManager;
  readonly #keyring: MasterKeyring;
  readonly #clientOptions: StorageClientOptions;
  readonly #ttlMs: number;
  readonly #repositories = new Map<string, CachedRepository>();
  readonly #stores = new Map<string, { version: number; store: ObjectStore }>();

  constructor(options: {
    em: EntityManager;
    keyring: MasterKeyring;
    clientOptions: StorageClientOptions;
    ttlMs?: number;
  }) {
    this.#em = options.em;
    this.#keyring = options.keyring;
    this.#clientOptions = options.clientOptions;
    this.#ttlMs = options.ttlMs ?? 15_000;
  }

  async list(repositoryId: string): Promise<ServedBucket[]> {
    return [...(await this.#load(repositoryId)).values()];
  }

  async find(repositoryId: string, name: string): Promise<ServedBucket | undefined> {
    return (await this.#load(repositoryId)).get(name);
  }

  async #load(repositoryId: string): Promise<Map<string, ServedBucket>> {
    const cached = this.#repositories.get(repositoryId);
    if (cached && cached.expires > Date.now()) return cached.buckets;
    const em = this.#em.fork();
    const repository = await em.findOne(Repository, repositoryId);
    const buckets = repository
      ? await em.find(
          Bucket,
          { id: { $in: (await repository.buckets.loadItems()).map((bucket) => bucket.id) } },
          {
            populate: ['credentials'],
          },
        )
      : [];
    const served = new Map(buckets.map((bucket) => [bucket.name, { bucket, store: this.#storeFor(bucket) }]));
    this.#repositories.set(repositoryId, { buckets: served, expires: Date.now() + this.#ttlMs });
    return served;
  }

  #storeFor(bucket: Bucket): ObjectStore {
    const version = bucket.updatedAt.getTime();
    const cached = this.#stores.get(bucket.id);
    if (cached && cached.version === version) return cached.store;
    const store = createObjectStore(bucketConnection(this.#keyring, bucket), this.#clientOptions);
    this.#stores.set(bucket.id, { version, store });
    return store;
  }
}
