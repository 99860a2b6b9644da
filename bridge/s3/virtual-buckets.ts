/**
 * Virtual buckets (BR-8) as the S3 bridge serves them: each one a
 * ServedBucket whose store routes over its members (core/routing), so every
 * S3 operation works on it unchanged. Its multipart uploads are kept with the
 * member they started on, linked to the virtual bucket.
 */
import type { BucketCaps } from '../../core/buckets/caps.ts';
import { Bucket, VirtualBucket, VirtualBucketUpload } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { createPriceBook, type PriceBook } from '../../core/pricing/prices.ts';
import { BackendHealth } from '../../core/routing/health.ts';
import { VirtualObjectIndex } from '../../core/routing/object-index.ts';
import { completePolicy } from '../../core/routing/policy.ts';
import { noReputation, type ReputationSource } from '../../core/routing/reputation.ts';
import {
  memberUploadIds,
  type RoutingServices,
  type VirtualBucketSpec,
  type VirtualMember,
  VirtualObjectStore,
} from '../../core/routing/virtual-store.ts';
import { S3Error } from './errors.ts';
import { MultipartUploads, type UploadPage, type UploadRecord } from './multipart-uploads.ts';
import type { ServedBucket } from './repository-buckets.ts';

export interface LoadedVirtualBucket {
  spec: VirtualBucketSpec;
  createdAt: Date;
}

export interface VirtualBucketsOptions {
  em: EntityManager;
  /** The same caps the S3 server enforces, so members' caps count every write. */
  caps?: BucketCaps;
  reputation?: ReputationSource;
  prices?: PriceBook;
  /** Request body bytes kept so a failed write can go to another member (256 KiB unless set). */
  replayWindowBytes?: number;
}

export class VirtualBuckets {
  readonly #em: EntityManager;
  readonly #services: RoutingServices;

  constructor(options: VirtualBucketsOptions) {
    this.#em = options.em;
    this.#services = {
      index: new VirtualObjectIndex(options.em),
      health: new BackendHealth(),
      reputation: options.reputation ?? noReputation,
      prices: options.prices ?? createPriceBook(),
      caps: options.caps,
      replayWindowBytes: options.replayWindowBytes ?? 256 * 1024,
    };
  }

  /**
   * The repository's virtual buckets by name, with the members that are
   * attached to the repository (`attached`: its registered buckets by name);
   * a member detached since takes no writes and serves no reads.
   */
  async load(
    em: EntityManager,
    repositoryId: string,
    attached: ReadonlyMap<string, ServedBucket>,
  ): Promise<Map<string, LoadedVirtualBucket>> {
    const byId = new Map([...attached.values()].map((served) => [served.bucket.id, served]));
    const rows = await em.find(VirtualBucket, { repository: repositoryId }, { populate: ['members'] });
    return new Map(
      rows.map((row) => {
        const members = row.members
          .getItems()
          .toSorted((a, b) => a.position - b.position)
          .flatMap((member) => byId.get(member.bucket.id) ?? []) satisfies VirtualMember[];
        const spec = { id: row.id, name: row.name, policy: completePolicy(row.policy), members };
        return [row.name, { spec, createdAt: row.createdAt }];
      }),
    );
  }

  /** The virtual bucket for one request; `onMemberUsed` learns which member served it (for metering). */
  serve(loaded: LoadedVirtualBucket, onMemberUsed?: (bucketId: string) => void): ServedBucket {
    const { spec } = loaded;
    return {
      bucket: Object.assign(new Bucket(), {
        id: spec.id,
        name: spec.name,
        // Priced like its first member wherever a request is priced before its member is known.
        provider: spec.members[0]?.bucket.provider ?? 'S3_COMPATIBLE',
        region: spec.members[0]?.bucket.region ?? null,
        createdAt: loaded.createdAt,
        // Its members' caps apply, each when the member is used.
        storageCapBytes: null,
        egressCapBytesPerDay: null,
        requestsPerMinuteCap: null,
      }),
      store: new VirtualObjectStore(spec, this.#services, onMemberUsed),
      uploads: new VirtualBucketUploads(this.#em, spec.id),
    };
  }
}

/**
 * A virtual bucket's multipart uploads: rows of the member the upload started
 * on (as its own uploads are), plus a link to the virtual bucket. The store
 * names the member in the upload id it hands out (`memberUploadIds`); the
 * rows keep the member's own id, and reading one puts the member back in.
 */
class VirtualBucketUploads extends MultipartUploads {
  readonly #em: EntityManager;
  readonly #virtualBucketId: string;

  constructor(em: EntityManager, virtualBucketId: string) {
    super(em);
    this.#em = em;
    this.#virtualBucketId = virtualBucketId;
  }

  override async create(
    place: { repositoryId: string; bucketId: string },
    upload: Omit<UploadRecord, 'createdAt'>,
  ): Promise<void> {
    const { bucketId, backendUploadId } = memberUploadIds.decode(upload.backendUploadId);
    await super.create({ repositoryId: place.repositoryId, bucketId }, { ...upload, backendUploadId });
    const em = this.#em.fork();
    em.create(VirtualBucketUpload, { upload: upload.id, virtualBucket: this.#virtualBucketId });
    await em.flush();
  }

  override async find(
    place: { repositoryId: string; bucketId: string },
    key: string,
    uploadId: string,
  ): Promise<UploadRecord | undefined> {
    const link = await this.#em.fork().findOne(
      VirtualBucketUpload,
      {
        upload: { id: uploadId, key, repository: place.repositoryId },
        virtualBucket: this.#virtualBucketId,
      },
      { populate: ['upload'] },
    );
    if (!link) return undefined;
    const bucketId = link.upload.bucket.id;
    const upload = await super.find({ repositoryId: place.repositoryId, bucketId }, key, uploadId);
    return upload && { ...upload, backendUploadId: memberUploadIds.encode(bucketId, upload.backendUploadId) };
  }

  override async list(): Promise<UploadPage> {
    throw new S3Error('NotImplemented', 'ListMultipartUploads is not implemented for virtual buckets');
  }
}
