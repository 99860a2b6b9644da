import { defineEntity, p } from '@mikro-orm/core';
import type { RoutingPolicy } from '../../routing/policy.ts';
import { Bucket } from './bucket.ts';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { MultipartUpload } from './multipart-upload.ts';
import { Repository } from './repository.ts';

/**
 * BR-8: one bucket name, as S3 clients see it through the bridge, spread over
 * several of the repository's registered buckets (its members). Writes go to
 * the member the routing policy picks (core/routing); the object index
 * (`VirtualObject`) says where each key lives.
 */
const VirtualBucketSchema = defineEntity({
  name: 'VirtualBucket',
  tableName: 'virtual_buckets',
  uniques: [{ properties: ['repository', 'name'] }],
  properties: {
    id: uuidPrimaryKey(),
    repository: () => p.manyToOne(Repository).deleteRule('cascade'),
    /** The name clients address; no registered bucket of the repository may have it. */
    name: p.string().length(63),
    policy: p.json<RoutingPolicy>(),
    members: () =>
      p.oneToMany(VirtualBucketMember).mappedBy('virtualBucket').orderBy({ position: 'asc' }).orphanRemoval(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class VirtualBucket extends VirtualBucketSchema.class {}
VirtualBucketSchema.setClass(VirtualBucket);

/** One registered bucket of a virtual bucket, at its place in the members' order. */
const VirtualBucketMemberSchema = defineEntity({
  name: 'VirtualBucketMember',
  tableName: 'virtual_bucket_members',
  indexes: [{ properties: ['bucket'] }],
  properties: {
    virtualBucket: () => p.manyToOne(VirtualBucket).primary().deleteRule('cascade'),
    bucket: () => p.manyToOne(Bucket).primary().deleteRule('cascade'),
    position: p.integer(),
  },
});

export class VirtualBucketMember extends VirtualBucketMemberSchema.class {}
VirtualBucketMemberSchema.setClass(VirtualBucketMember);

/**
 * The object index: which member holds each key of a virtual bucket, and what
 * listings report about it. Keys compare byte by byte (`C` collation), the
 * order S3 lists them in.
 */
const VirtualObjectSchema = defineEntity({
  name: 'VirtualObject',
  tableName: 'virtual_objects',
  indexes: [{ properties: ['bucket'] }],
  properties: {
    virtualBucket: () => p.manyToOne(VirtualBucket).primary().deleteRule('cascade'),
    key: p.text().primary().collation('C'),
    /** The member holding the object. */
    bucket: () => p.manyToOne(Bucket).deleteRule('cascade'),
    size: p.bigint('number'),
    /** As the member answered the write: what clients see on HEAD, GET and listings. */
    etag: p.string().length(100).nullable(),
    lastModified: p.datetime(),
    contentType: p.string().length(255).nullable(),
  },
});

export class VirtualObject extends VirtualObjectSchema.class {}
VirtualObjectSchema.setClass(VirtualObject);

/** A multipart upload started through a virtual bucket: its parts go to the member it started on. */
const VirtualBucketUploadSchema = defineEntity({
  name: 'VirtualBucketUpload',
  tableName: 'virtual_bucket_uploads',
  indexes: [{ properties: ['virtualBucket'] }],
  properties: {
    upload: () => p.manyToOne(MultipartUpload).primary().deleteRule('cascade'),
    virtualBucket: () => p.manyToOne(VirtualBucket).deleteRule('cascade'),
  },
});

export class VirtualBucketUpload extends VirtualBucketUploadSchema.class {}
VirtualBucketUploadSchema.setClass(VirtualBucketUpload);
