/**
 * A virtual bucket (BR-8) as one ObjectStore over its members: writes go to
 * the member the routing policy ranks first among those that may take them,
 * reads go where the object index says the object lives, listings come from
 * the index. The S3 bridge serves it like any other bucket's store.
 *
 * A write that a member refuses or fails before the bridge let go of any body
 * byte it read (see replayable-body.ts: the first `replayWindowBytes` are kept)
 * is retried on the next member: the seeds' client-side "switch provider on
 * 403/429/QUOTA_EXCEEDED", done by the bridge. A failure after that is the
 * client's to retry (a 503, which S3 clients retry by themselves).
 */
import { Readable } from 'node:stream';
import {
  type ByteRange,
  type ListOptions,
  type ListPage,
  type MultipartUploadRef,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
  StorageError,
  type UploadedPart,
} from '../../providers/storage/object-store.ts';
import type { BucketCaps, CappedBucket, CappedBy } from '../buckets/caps.ts';
import type { Bucket } from '../db/entities/index.ts';
import type { PriceBook } from '../pricing/prices.ts';
import type { BackendHealth, CircuitSettings } from './health.ts';
import type { IndexedObject, VirtualObjectIndex } from './object-index.ts';
import type { RoutingPolicy } from './policy.ts';
import { rankWriteCandidates } from './ranking.ts';
import { ReplayableBody } from './replayable-body.ts';
import type { ReputationSource } from './reputation.ts';

/** A registered bucket of the virtual bucket, and the store that reaches it. */
export interface VirtualMember extends CappedBucket {
  bucket: CappedBucket['bucket'] & Pick<Bucket, 'provider' | 'region'>;
}

export interface VirtualBucketSpec {
  id: string;
  name: string;
  policy: RoutingPolicy;
  /** In the virtual bucket's order. */
  members: readonly VirtualMember[];
}

/** What every virtual bucket of a bridge process shares. */
export interface RoutingServices {
  index: VirtualObjectIndex;
  health: BackendHealth;
  reputation: ReputationSource;
  prices: PriceBook;
  /** The members' caps; none are checked without it. */
  caps?: BucketCaps;
  /** Body bytes kept so a failed write can be retried on another member. */
  replayWindowBytes: number;
}

/** Calls moving more than this say more about bandwidth than about the backend's latency. */
const LATENCY_SAMPLE_MAX_BYTES = 1024 * 1024;

/** Failures that say "not this member, maybe another": all but a request no backend would take. */
const triesNextMember = (error: unknown) => error instanceof StorageError && error.code !== 'Invalid';

const backendFailureCodes = new Set<StorageError['code']>([
  'Transient',
  'Throttled',
  'QuotaExceeded',
  'AccessDenied',
  'InvalidCredentials',
]);
/** Failures that count against a member's health (a missing key does not). */
const isBackendFailure = (error: unknown) =>
  error instanceof StorageError && backendFailureCodes.has(error.code);

/**
 * A virtual bucket's multipart upload is on one member: the id the store
 * hands out names the member, in front of the member's own upload id.
 */
export const memberUploadIds = {
  encode: (bucketId: string, backendUploadId: string | undefined) => `${bucketId}/${backendUploadId ?? ''}`,
  decode(encoded: string | undefined): { bucketId: string; backendUploadId?: string } {
    const slash = encoded?.indexOf('/') ?? -1;
    if (!encoded || slash < 0) throw new StorageError('NotFound', 'Not an upload of this virtual bucket');
    return { bucketId: encoded.slice(0, slash), backendUploadId: encoded.slice(slash + 1) || undefined };
  },
};

export class VirtualObjectStore implements ObjectStore {
  /** Skybridge itself serves the virtual bucket, with S3's semantics. */
  readonly provider = 'S3_COMPATIBLE';
  readonly bucketName: string;
  readonly #spec: VirtualBucketSpec;
  readonly #services: RoutingServices;
  readonly #members: Map<string, VirtualMember>;
  readonly #circuit: CircuitSettings;
  readonly #onMemberUsed?: (bucketId: string) => void;

  /** `onMemberUsed`: told which member each call went to (the request's metering records it). */
  constructor(spec: VirtualBucketSpec, services: RoutingServices, onMemberUsed?: (bucketId: string) => void) {
    this.bucketName = spec.name;
    this.#spec = spec;
    this.#services = services;
    this.#members = new Map(spec.members.map((member) => [member.bucket.id, member]));
    this.#circuit = {
      failureThreshold: spec.policy.failureThreshold,
      coolDownMs: spec.policy.coolDownSeconds * 1000,
      slowCallMs: spec.policy.slowCallMs,
    };
    this.#onMemberUsed = onMemberUsed;
  }

  async checkAccess(): Promise<void> {
    await Promise.all(this.#spec.members.map((member) => member.store.checkAccess()));
  }

  list(options?: ListOptions): Promise<ListPage> {
    return this.#services.index.list(this.#spec.id, options);
  }

  async head(key: string): Promise<ObjectInfo> {
    const { member, indexed } = await this.#locate(key);
    await this.#admit(member, undefined, 0);
    const info = await this.#observe(member, true, () => member.store.head(key));
    return withIndexedEtag(info, indexed);
  }

  async get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable }> {
    const { member, indexed } = await this.#locate(key);
    await this.#admit(member, 'egress', 0);
    const object = await this.#observe(member, true, () => member.store.get(key, range));
    return { ...object, info: withIndexedEtag(object.info, indexed) };
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<PutResult> {
    const size = options.contentLength ?? 0;
    const replayable =
      body instanceof Readable ? new ReplayableBody(body, this.#services.replayWindowBytes) : undefined;
    const { member, result } = await this.#write({
      incomingBytes: size,
      measuresLatency: size <= LATENCY_SAMPLE_MAX_BYTES,
      canRetry: () => replayable?.replayable ?? true,
      clientFailed: () => replayable?.failed ?? false,
      call: (target) => target.store.put(key, replayable?.attempt() ?? body, options),
    });
    await this.#recordObject(member, { key, size, etag: result.etag, contentType: options.contentType });
    return result;
  }

  async delete(key: string): Promise<void> {
    const indexed = await this.#services.index.find(this.#spec.id, key);
    if (!indexed) return;
    const member = this.#members.get(indexed.bucketId);
    if (member) {
      this.#onMemberUsed?.(member.bucket.id);
      await this.#observe(member, true, () => member.store.delete(key));
    }
    await this.#services.index.remove(this.#spec.id, key, indexed.bucketId);
  }

  /** Never called: without a `nativeCopyScope` the bridge copies by reading and writing. */
  async copyFrom(): Promise<{ etag?: string }> {
    throw new StorageError('Invalid', 'A virtual bucket copies through the bridge, not on a backend');
  }

  async createMultipartUpload(
    upload: MultipartUploadRef,
    options: PutOptions,
  ): Promise<{ backendUploadId?: string }> {
    const { member, result } = await this.#write({
      incomingBytes: 0,
      measuresLatency: true,
      canRetry: () => true,
      clientFailed: () => false,
      call: (target) => target.store.createMultipartUpload(upload, options),
    });
    return { backendUploadId: memberUploadIds.encode(member.bucket.id, result.backendUploadId) };
  }

  async uploadPart(
    upload: MultipartUploadRef,
    partNumber: number,
    body: Readable,
    contentLength: number,
  ): Promise<UploadedPart> {
    const { member, ref } = this.#memberOfUpload(upload);
    await this.#admit(member, 'storage', contentLength);
    return this.#observe(member, false, () => member.store.uploadPart(ref, partNumber, body, contentLength));
  }

  async completeMultipartUpload(
    upload: MultipartUploadRef,
    parts: UploadedPart[],
    options: PutOptions,
  ): Promise<{ etag?: string }> {
    const { member, ref } = this.#memberOfUpload(upload);
    const result = await this.#observe(member, false, () =>
      member.store.completeMultipartUpload(ref, parts, options),
    );
    const size = parts.reduce((total, part) => total + part.size, 0);
    await this.#recordObject(member, {
      key: upload.key,
      size,
      etag: result.etag,
      contentType: options.contentType,
    });
    return result;
  }

  async abortMultipartUpload(upload: MultipartUploadRef, parts: UploadedPart[]): Promise<void> {
    const { member, ref } = this.#memberOfUpload(upload);
    await this.#observe(member, false, () => member.store.abortMultipartUpload(ref, parts));
  }

  /** Tries the ranked members in turn until one takes the write, or one fails in a way that ends the write. */
  async #write<T>(write: {
    incomingBytes: number;
    measuresLatency: boolean;
    /** Whether another member can still be given the same write. */
    canRetry: () => boolean;
    /** Whether the client, not the member, failed the call. */
    clientFailed: () => boolean;
    call: (member: VirtualMember) => Promise<T>;
  }): Promise<{ member: VirtualMember; result: T }> {
    let lastFailure: unknown = new StorageError(
      'Transient',
      'Every member of the virtual bucket is failing at the moment; retry later',
    );
    for (const member of await this.#writeCandidates()) {
      try {
        await this.#admit(member, 'storage', write.incomingBytes);
      } catch (overCap) {
        lastFailure = overCap;
        continue;
      }
      if (!this.#services.health.claimWrite(member.bucket.id, this.#circuit)) continue;
      try {
        const call = () => write.call(member);
        return {
          member,
          result: await this.#observe(member, write.measuresLatency, call, write.clientFailed),
        };
      } catch (error) {
        lastFailure = error;
        if (write.clientFailed() || !triesNextMember(error) || !write.canRetry()) throw error;
      }
    }
    throw lastFailure;
  }

  /** The members that may take a write now, best first (ranking.ts). */
  async #writeCandidates(): Promise<VirtualMember[]> {
    const { policy, members } = this.#spec;
    const { health, prices } = this.#services;
    const reputations = await this.#services.reputation.reputationsOf(
      members.map((member) => member.bucket.id),
    );
    const factors = members.map((member, position) => {
      const figures = health.figures(member.bucket.id, this.#circuit);
      return {
        bucketId: member.bucket.id,
        position,
        reputation: reputations.get(member.bucket.id)?.score,
        failingSla: reputations.get(member.bucket.id)?.failingSla,
        latencyMs: figures.latencyMs,
        errorRate: figures.errorRate,
        state: figures.state,
        storagePricePerGbMonth: prices.priceFor(member.bucket.provider, member.bucket.region)
          .storagePerGbMonth,
      };
    });
    return rankWriteCandidates(factors, policy).map((ranked) => this.#members.get(ranked.bucketId)!);
  }

  /** The member's own caps, as the bridge checks a bucket's (core/buckets/caps.ts). */
  async #admit(member: VirtualMember, counts: CappedBy | undefined, incomingBytes: number): Promise<void> {
    this.#onMemberUsed?.(member.bucket.id);
    await this.#services.caps?.admit(member, counts, incomingBytes);
  }

  /** Runs a call to a member, and tells its health how it went. */
  async #observe<T>(
    member: VirtualMember,
    measuresLatency: boolean,
    call: () => Promise<T>,
    clientFailed: () => boolean = () => false,
  ): Promise<T> {
    const { health } = this.#services;
    const startedAt = performance.now();
    const outcome = (failed: boolean) => ({
      failed,
      measuresLatency,
      durationMs: performance.now() - startedAt,
    });
    try {
      const result = await call();
      health.record(member.bucket.id, outcome(false), this.#circuit);
      return result;
    } catch (error) {
      if (!clientFailed()) health.record(member.bucket.id, outcome(isBackendFailure(error)), this.#circuit);
      throw error;
    }
  }

  async #locate(key: string): Promise<{ member: VirtualMember; indexed: IndexedObject }> {
    const indexed = await this.#services.index.find(this.#spec.id, key);
    if (!indexed) throw new StorageError('NotFound', 'No such key in the virtual bucket');
    const member = this.#members.get(indexed.bucketId);
    if (!member)
      throw new StorageError(
        'AccessDenied',
        'The bucket holding this object is no longer a member of the virtual bucket or attached to the repository',
      );
    return { member, indexed };
  }

  #memberOfUpload(upload: MultipartUploadRef): { member: VirtualMember; ref: MultipartUploadRef } {
    const { bucketId, backendUploadId } = memberUploadIds.decode(upload.backendUploadId);
    const member = this.#members.get(bucketId);
    if (!member)
      throw new StorageError(
        'NotFound',
        'The bucket of this upload is no longer a member of the virtual bucket',
      );
    return { member, ref: { ...upload, backendUploadId } };
  }

  /**
   * Indexes the object where it was written. A copy the key had on another
   * member is stale now: it is deleted, and a failure to do so only leaves
   * bytes behind that nothing reads (the write itself succeeded).
   */
  async #recordObject(
    member: VirtualMember,
    object: Pick<IndexedObject, 'key' | 'size' | 'etag' | 'contentType'>,
  ): Promise<void> {
    const previous = await this.#services.index.record(this.#spec.id, {
      ...object,
      bucketId: member.bucket.id,
      lastModified: new Date(),
    });
    const stale = previous === undefined ? undefined : this.#members.get(previous);
    if (stale) await this.#observe(stale, true, () => stale.store.delete(object.key)).catch(() => {});
  }
}

/** Clients see the ETag their write got, whatever the member reports on later reads. */
const withIndexedEtag = (info: ObjectInfo, indexed: IndexedObject): ObjectInfo =>
  indexed.etag ? { ...info, etag: indexed.etag } : info;
