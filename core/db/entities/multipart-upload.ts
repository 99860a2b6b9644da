import { defineEntity, p } from '@mikro-orm/core';
import { Bucket } from './bucket.ts';
import { createdAt } from './common-properties.ts';
import { Repository } from './repository.ts';

/**
 * A multipart upload started through the S3 bridge and not yet completed or
 * aborted. The bridge keeps the state itself, for every backend alike: GCS
 * and Azure have no multipart uploads of their own, and S3's are listed
 * from here too so every backend pages the same way.
 */
const MultipartUploadSchema = defineEntity({
  name: 'MultipartUpload',
  tableName: 'multipart_uploads',
  indexes: [{ properties: ['bucket', 'key', 'createdAt'] }],
  properties: {
    /** The UploadId clients see: 32 random hex characters. */
    id: p.string().length(32).primary(),
    repository: () => p.manyToOne(Repository).deleteRule('cascade'),
    bucket: () => p.manyToOne(Bucket).deleteRule('cascade'),
    key: p.text(),
    /** The backend's own upload id (S3's UploadId). */
    backendUploadId: p.text().nullable(),
    contentType: p.string().length(255).nullable(),
    metadata: p.json<Record<string, string>>().nullable(),
    /** `x-amz-checksum-algorithm` of the CreateMultipartUpload request, echoed back as S3 does. */
    checksumAlgorithm: p.string().length(16).nullable(),
    /** The storage key that started the upload. */
    initiatorKeyId: p.uuid().nullable(),
    createdAt: createdAt(),
  },
});

export class MultipartUpload extends MultipartUploadSchema.class {}
MultipartUploadSchema.setClass(MultipartUpload);

/** One uploaded part; uploading the same part number again replaces the row. */
const MultipartPartSchema = defineEntity({
  name: 'MultipartPart',
  tableName: 'multipart_parts',
  properties: {
    upload: () => p.manyToOne(MultipartUpload).primary().deleteRule('cascade'),
    partNumber: p.integer().primary(),
    etag: p.string().length(100),
    size: p.bigint('number'),
    /** Where the backend keeps the part beyond its number (Azure block ids). */
    locator: p.json<string[]>().nullable(),
    /** The part's checksum as the client sent it and the bridge verified it. */
    checksumAlgorithm: p.string().length(16).nullable(),
    checksumValue: p.string().length(100).nullable(),
    uploadedAt: p.datetime(),
  },
});

export class MultipartPart extends MultipartPartSchema.class {}
MultipartPartSchema.setClass(MultipartPart);
