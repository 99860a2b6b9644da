/**
 * Multipart uploads (create, upload part, upload part copy, complete,
 * abort, list uploads, list parts) over every backend. The bridge keeps the
 * upload's state (multipart-uploads.ts) and checks the client's part list
 * itself; the adapters store and assemble the parts.
 */
import type { IncomingMessage } from 'node:http';
import { ForeignKeyConstraintViolationException } from '@mikro-orm/core';
import { type ByteRange, multipartLimits, type UploadedPart } from '../../providers/storage/object-store.ts';
import { checksumAlgorithmOfName, checksumHeaderName } from './auth/checksums.ts';
import { S3Error } from './errors.ts';
import { newUploadId, type PartRecord, refOf, type UploadRecord } from './multipart-uploads.ts';
import {
  declaredLength,
  type Operation,
  type OperationContext,
  readSmallBody,
  receiveBody,
  resolveCopySource,
  rethrowAsS3Error,
  sendXml,
  userMetadata,
} from './operations.ts';
import type { ServedBucket } from './repository-buckets.ts';
import {
  completeMultipartUploadXml,
  copyPartResultXml,
  initiateMultipartUploadXml,
  listMultipartUploadsXml,
  listPartsXml,
  parseCompleteMultipartUpload,
  type RequestedPart,
} from './xml.ts';

const placeOf = (context: OperationContext, served: ServedBucket | undefined) => ({
  repositoryId: context.repositoryId,
  bucketId: served!.bucket.id,
});

const noSuchUpload = () =>
  new S3Error(
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  );

async function uploadOf(context: OperationContext, served: ServedBucket | undefined): Promise<UploadRecord> {
  const upload = await context.uploads.find(
    placeOf(context, served),
    context.key,
    context.query.get('uploadId') ?? '',
  );
  if (!upload) throw noSuchUpload();
  return upload;
}

function checksumAlgorithmOf(req: IncomingMessage): string | undefined {
  const name = req.headers['x-amz-checksum-algorithm'];
  if (name === undefined) return undefined;
  const algorithm = checksumAlgorithmOfName(String(name));
  if (!algorithm) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported.');
  return algorithm;
}

const createMultipartUpload: Operation = {
  name: 'CreateMultipartUpload',
  permission: 'write',
  needsBucket: true,
  async run(context, served) {
    const { req, res, key, bucketName } = context;
    const options = { contentType: req.headers['content-type'], metadata: userMetadata(req) };
    const checksumAlgorithm = checksumAlgorithmOf(req);
    const id = newUploadId();
    const { backendUploadId } = await served!.store
      .createMultipartUpload({ key, uploadId: id }, options)
      .catch(rethrowAsS3Error('NoSuchBucket'));
    await context.uploads.create(placeOf(context, served), {
      id,
      key,
      backendUploadId,
      options,
      checksumAlgorithm,
      initiatorKeyId: context.storageKeyId,
    });
    if (checksumAlgorithm) res.setHeader('x-amz-checksum-algorithm', checksumAlgorithm);
    sendXml(res, 200, initiateMultipartUploadXml(bucketName, key, id));
  },
};

function partNumberOf(query: URLSearchParams): number {
  const partNumber = Number(query.get('partNumber'));
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > multipartLimits.maxParts) {
    throw new S3Error(
      'InvalidArgument',
      `Part number must be an integer between 1 and ${multipartLimits.maxParts}, inclusive`,
    );
  }
  return partNumber;
}

/** Records a stored part; an upload aborted or completed meanwhile takes its part with it. */
async function recordPart(
  context: OperationContext,
  upload: UploadRecord,
  part: UploadedPart,
  checksum?: { algorithm: string; value: string },
): Promise<void> {
  try {
    await context.uploads.recordPart(upload.id, part, checksum);
  } catch (error) {
    if (error instanceof ForeignKeyConstraintViolationException) throw noSuchUpload();
    throw error;
  }
}

/** The part a request names, of an upload that exists. */
interface PartTarget {
  upload: UploadRecord;
  partNumber: number;
}

/** UploadPart and UploadPartCopy: `storePart` stores the part and answers. */
function partOperation(
  name: string,
  storePart: (context: OperationContext, served: ServedBucket, target: PartTarget) => Promise<void>,
): Operation {
  return {
    name,
    permission: 'write',
    needsBucket: true,
    cappedBy: 'storage',
    async run(context, served) {
      const partNumber = partNumberOf(context.query);
      const upload = await uploadOf(context, served);
      await storePart(context, served!, { upload, partNumber });
    },
  };
}

const uploadPart = partOperation('UploadPart', async (context, served, { upload, partNumber }) => {
  const length = declaredLength(context.req, multipartLimits.maxPartSize);
  const part = await receiveBody(context, (body) =>
    served.store.uploadPart(refOf(upload), partNumber, body, length),
  );
  const { clientChecksum } = await context.bodyVerified();
  await recordPart(context, upload, part, clientChecksum);
  const headers: Record<string, string> = { etag: part.etag };
  if (clientChecksum) headers[checksumHeaderName(clientChecksum.algorithm)] = clientChecksum.value;
  context.res.writeHead(200, headers).end();
});

/** `x-amz-copy-source-range: bytes=first-last`, both required and within the source. */
function copySourceRange(header: string | string[] | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d+)-(\d+)$/.exec(String(header).trim());
  const range = match && { start: Number(match[1]), end: Number(match[2]) };
  if (!range || range.end < range.start || range.end >= size) {
    throw new S3Error(
      'InvalidArgument',
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
    );
  }
  return range;
}

const uploadPartCopy = partOperation('UploadPartCopy', async (context, served, { upload, partNumber }) => {
  const { source, key, info } = await resolveCopySource(context);
  const range = copySourceRange(context.req.headers['x-amz-copy-source-range'], info.size);
  const length = range ? range.end! - range.start + 1 : info.size;
  if (length > multipartLimits.maxPartSize)
    throw new S3Error(
      'InvalidRequest',
      'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120',
    );
  const part = await source.store
    .get(key, range)
    .then(({ body }) => served.store.uploadPart(refOf(upload), partNumber, body, length))
    .catch(rethrowAsS3Error('NoSuchKey'));
  await recordPart(context, upload, part);
  sendXml(context.res, 200, copyPartResultXml(part.etag, new Date()));
});

/** 10,000 parts with long ETags and every checksum fit well below this. */
const MAX_COMPLETE_BODY = 4 * 1024 * 1024;

/** The recorded parts the client names, checked as S3 checks them. */
function partsToAssemble(requested: RequestedPart[], recorded: PartRecord[]): UploadedPart[] {
  const byNumber = new Map(recorded.map((part) => [part.partNumber, part]));
  return requested.map((wanted, index) => {
    if (index > 0 && wanted.partNumber <= requested[index - 1]!.partNumber)
      throw new S3Error(
        'InvalidPartOrder',
        'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
      );
    const part = byNumber.get(wanted.partNumber);
    if (!part || part.etag.replaceAll('"', '') !== wanted.etag) {
      throw new S3Error(
        'InvalidPart',
        `One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part ${wanted.partNumber})`,
      );
    }
    if (index < requested.length - 1 && part.size < multipartLimits.minPartSize)
      throw new S3Error(
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed object size.',
      );
    return part;
  });
}

const completeMultipartUpload: Operation = {
  name: 'CompleteMultipartUpload',
  permission: 'write',
  needsBucket: true,
  async run(context, served) {
    const upload = await uploadOf(context, served);
    const requested = parseCompleteMultipartUpload(await readSmallBody(context.body(), MAX_COMPLETE_BODY));
    const parts = partsToAssemble(requested, await context.uploads.parts(upload.id));
    const { etag } = await served!.store
      .completeMultipartUpload(refOf(upload), parts, upload.options)
      .catch(rethrowAsS3Error('NoSuchBucket'));
    await context.uploads.remove(upload.id);
    const location = `/${encodeURIComponent(context.bucketName)}/${encodeURIComponent(context.key)}`;
    sendXml(
      context.res,
      200,
      completeMultipartUploadXml(location, context.bucketName, context.key, etag ?? ''),
    );
  },
};

const abortMultipartUpload: Operation = {
  name: 'AbortMultipartUpload',
  permission: 'write',
  needsBucket: true,
  async run(context, served) {
    const upload = await uploadOf(context, served);
    const parts = await context.uploads.parts(upload.id);
    await served!.store.abortMultipartUpload(refOf(upload), parts).catch(rethrowAsS3Error('NoSuchBucket'));
    await context.uploads.remove(upload.id);
    context.res.writeHead(204).end();
  },
};

function boundedInteger(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new S3Error('InvalidArgument', `${name} must be a non-negative integer`);
  return Math.min(value, max);
}

const listParts: Operation = {
  name: 'ListParts',
  permission: 'admin',
  needsBucket: true,
  async run(context, served) {
    const upload = await uploadOf(context, served);
    const maxParts = boundedInteger(context.query, 'max-parts', 1000, 1000);
    const marker = boundedInteger(context.query, 'part-number-marker', 0, multipartLimits.maxParts);
    const parts = await context.uploads.parts(upload.id, marker, maxParts + 1);
    sendXml(
      context.res,
      200,
      listPartsXml({
        bucket: context.bucketName,
        key: context.key,
        uploadId: upload.id,
        partNumberMarker: marker,
        maxParts,
        checksumAlgorithm: upload.checksumAlgorithm,
        parts: parts.slice(0, maxParts),
        truncated: parts.length > maxParts,
      }),
    );
  },
};

const listMultipartUploads: Operation = {
  name: 'ListMultipartUploads',
  permission: 'admin',
  needsBucket: true,
  async run(context, served) {
    const { query } = context;
    const encodingType = query.get('encoding-type');
    if (encodingType !== null && encodingType !== 'url')
      throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request');
    const listing = {
      prefix: query.get('prefix') ?? '',
      delimiter: query.get('delimiter') || undefined,
      keyMarker: query.get('key-marker') || undefined,
      uploadIdMarker: query.get('upload-id-marker') || undefined,
      maxUploads: boundedInteger(query, 'max-uploads', 1000, 1000),
    };
    const page = await context.uploads.list(placeOf(context, served), listing);
    sendXml(
      context.res,
      200,
      listMultipartUploadsXml({
        bucket: context.bucketName,
        ...listing,
        encodingType: encodingType ?? undefined,
        uploads: page.uploads.map((upload) => ({
          key: upload.key,
          uploadId: upload.id,
          initiated: upload.createdAt,
          checksumAlgorithm: upload.checksumAlgorithm,
        })),
        commonPrefixes: page.commonPrefixes,
        next: page.next,
      }),
    );
  },
};

export const multipartOperations = [
  createMultipartUpload,
  uploadPart,
  uploadPartCopy,
  completeMultipartUpload,
  abortMultipartUpload,
  listParts,
  listMultipartUploads,
];

/** The multipart operation a request names, if any. */
export function selectMultipartOperation(
  method: string,
  hasKey: boolean,
  query: URLSearchParams,
  headers: IncomingMessage['headers'],
): Operation | undefined {
  if (!hasKey) return method === 'GET' && query.has('uploads') ? listMultipartUploads : undefined;
  if (method === 'POST' && query.has('uploads')) return createMultipartUpload;
  if (!query.has('uploadId')) return undefined;
  if (method === 'PUT' && query.has('partNumber'))
    return headers['x-amz-copy-source'] ? uploadPartCopy : uploadPart;
  if (method === 'POST') return completeMultipartUpload;
  if (method === 'DELETE') return abortMultipartUpload;
  if (method === 'GET') return listParts;
  return undefined;
}
