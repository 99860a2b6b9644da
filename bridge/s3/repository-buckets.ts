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
import type { MultipartUploads } from './multipart-uploads.ts';
import { type LoadedVirtualBucket, VirtualBuckets } from './virtual-buckets.ts';

export interface ServedBucket {
  bucket: Bucket;
  store: ObjectStore;
  /** Where the bucket's multipart uploads are kept, when not with the bridge's own (virtual buckets). */
  uploads?: MultipartUploads;
}

interface CachedRepository {
  buckets: Map<string, ServedBucket>;
  /** BR-8: served under their own names when no registered bucket has that name. */
  virtualBuckets: Map<string, LoadedVirtualBucket>;
  expires: number;
}

export class RepositoryBuckets {
  readonly #em: EntityManager;
  readonly #keyring: MasterKeyring;
  readonly #clientOptions: StorageClientOptions;
  readonly #ttlMs: number;
  readonly #repositories = new Map<string, CachedRepository>();
  readonly #stores = new Map<string, { version: number; store: ObjectStore }>();
  readonly #virtualBuckets: VirtualBuckets;

  constructor(options: {
    em: EntityManager;
    keyring: MasterKeyring;
    clientOptions: StorageClientOptions;
    ttlMs?: number;
    /** Serves the repository's virtual buckets (BR-8); the default checks no member caps and knows no reputations. */
    virtualBuckets?: VirtualBuckets;
  }) {
    this.#em = options.em;
    this.#keyring = options.keyring;
    this.#clientOptions = options.clientOptions;
    this.#ttlMs = options.ttlMs ?? 15_000;
    this.#virtualBuckets = options.virtualBuckets ?? new VirtualBuckets({ em: options.em });
  }

  async list(repositoryId: string): Promise<ServedBucket[]> {
    const { buckets, virtualBuckets } = await this.#load(repositoryId);
    const virtual = [...virtualBuckets.values()].map((loaded) => this.#virtualBuckets.serve(loaded));
    return [...buckets.values(), ...virtual];
  }

  /** `onMemberUsed`: for a virtual bucket, told which member bucket served the request. */
  async find(
    repositoryId: string,
    name: string,
    onMemberUsed?: (bucketId: string) => void,
  ): Promise<ServedBucket | undefined> {
    const { buckets, virtualBuckets } = await this.#load(repositoryId);
    const virtual = buckets.has(name) ? undefined : virtualBuckets.get(name);
    return virtual ? this.#virtualBuckets.serve(virtual, onMemberUsed) : buckets.get(name);
  }

  async #load(repositoryId: string): Promise<CachedRepository> {
    const cached = this.#repositories.get(repositoryId);
    if (cached && cached.expires > Date.now()) return cached;
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
    const served = new Map(
      await Promise.all(
        buckets.map(
          async (bucket) => [bucket.name, { bucket, store: await this.#storeFor(bucket) }] as const,
        ),
      ),
    );
    const virtualBuckets = await this.#virtualBuckets.load(em, repositoryId, served);
    const loaded = { buckets: served, virtualBuckets, expires: Date.now() + this.#ttlMs };
    this.#repositories.set(repositoryId, loaded);
    return loaded;
  }

  async #storeFor(bucket: Bucket): Promise<ObjectStore> {
    const version = bucket.updatedAt.getTime();
    const cached = this.#stores.get(bucket.id);
    if (cached && cached.version === version) return cached.store;
    const store = await createObjectStore(bucketConnection(this.#keyring, bucket), this.#clientOptions);
    this.#stores.set(bucket.id, { version, store });
    return store;
  }
}
