/** The XML documents the S3 API answers with, and the ones it reads (DeleteObjects, CompleteMultipartUpload). */
import { XMLParser } from 'fast-xml-parser';
import type { ListPage, ObjectInfo } from '../../providers/storage/object-store.ts';
import { escapeXml, S3Error } from './errors.ts';

const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
const declaration = '<?xml version="1.0" encoding="UTF-8"?>\n';

type XmlValue = string | number | boolean | null | undefined | XmlNode | XmlNode[];
interface XmlNode {
  [element: string]: XmlValue;
}

/** Renders nested objects as elements; arrays repeat their element; null and undefined are left out. */
function render(node: XmlNode): string {
  return Object.entries(node)
    .map(([name, value]) => {
      if (value === null || value === undefined) return '';
      if (Array.isArray(value)) return value.map((item) => `<${name}>${render(item)}</${name}>`).join('');
      if (typeof value === 'object') return `<${name}>${render(value)}</${name}>`;
      return `<${name}>${escapeXml(String(value))}</${name}>`;
    })
    .join('');
}

export function xmlDocument(root: string, body: XmlNode): string {
  return `${declaration}<${root} xmlns="${S3_NAMESPACE}">${render(body)}</${root}>`;
}

const OWNER = { ID: 'skybridge', DisplayName: 'skybridge' };

export function listAllMyBucketsXml(buckets: { name: string; createdAt: Date }[]): string {
  return xmlDocument('ListAllMyBucketsResult', {
    Owner: OWNER,
    Buckets: {
      Bucket: buckets.map((bucket) => ({ Name: bucket.name, CreationDate: bucket.createdAt.toISOString() })),
    },
  });
}

export function locationXml(region: string): string {
  // us-east-1 is reported as an empty LocationConstraint, as S3 does.
  return `${declaration}<LocationConstraint xmlns="${S3_NAMESPACE}">${region === 'us-east-1' ? '' : escapeXml(region)}</LocationConstraint>`;
}

const contentsOf = (objects: ObjectInfo[], encode: (key: string) => string) =>
  objects.map((object) => ({
    Key: encode(object.key),
    LastModified: (object.lastModified ?? new Date(0)).toISOString(),
    ETag: object.etag ?? '',
    Size: object.size,
    StorageClass: 'STANDARD',
  }));

export interface ListObjectsRendering {
  bucket: string;
  prefix: string;
  delimiter?: string;
  maxKeys: number;
  encodingType?: 'url';
  page: ListPage;
}

const urlEncode = (value: string) => encodeURIComponent(value).replace(/%2F/g, '/');

export function listObjectsV2Xml(
  rendering: ListObjectsRendering & { continuationToken?: string; startAfter?: string },
): string {
  const encode = rendering.encodingType === 'url' ? urlEncode : (value: string) => value;
  const { page } = rendering;
  return xmlDocument('ListBucketResult', {
    Name: rendering.bucket,
    Prefix: encode(rendering.prefix),
    Delimiter: rendering.delimiter ? encode(rendering.delimiter) : undefined,
    MaxKeys: rendering.maxKeys,
    EncodingType: rendering.encodingType,
    KeyCount: page.objects.length + page.commonPrefixes.length,
    IsTruncated: page.nextContinuationToken !== undefined,
    ContinuationToken: rendering.continuationToken,
    NextContinuationToken: page.nextContinuationToken,
    StartAfter: rendering.startAfter ? encode(rendering.startAfter) : undefined,
    Contents: contentsOf(page.objects, encode),
    CommonPrefixes: page.commonPrefixes.map((prefix) => ({ Prefix: encode(prefix) })),
  });
}

export function listObjectsV1Xml(
  rendering: ListObjectsRendering & { marker?: string; nextMarker?: string },
): string {
  const encode = rendering.encodingType === 'url' ? urlEncode : (value: string) => value;
  const { page } = rendering;
  return xmlDocument('ListBucketResult', {
    Name: rendering.bucket,
    Prefix: encode(rendering.prefix),
    Marker: encode(rendering.marker ?? ''),
    NextMarker: rendering.nextMarker ? encode(rendering.nextMarker) : undefined,
    Delimiter: rendering.delimiter ? encode(rendering.delimiter) : undefined,
    MaxKeys: rendering.maxKeys,
    EncodingType: rendering.encodingType,
    IsTruncated: page.nextContinuationToken !== undefined,
    Contents: contentsOf(page.objects, encode),
    CommonPrefixes: page.commonPrefixes.map((prefix) => ({ Prefix: encode(prefix) })),
  });
}

export function copyObjectResultXml(etag: string, lastModified: Date): string {
  return xmlDocument('CopyObjectResult', { LastModified: lastModified.toISOString(), ETag: etag });
}

export function deleteResultXml(
  deleted: string[],
  errors: { key: string; code: string; message: string }[],
  quiet: boolean,
): string {
  return xmlDocument('DeleteResult', {
    Deleted: quiet ? [] : deleted.map((key) => ({ Key: key })),
    Error: errors.map((error) => ({ Key: error.key, Code: error.code, Message: error.message })),
  });
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  processEntities: true,
  isArray: (name) => name === 'Object' || name === 'Part',
});

const malformedXml = () =>
  new S3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
  );

function parseXml<T>(xml: string): T {
  try {
    return parser.parse(xml, true) as T;
  } catch {
    throw malformedXml();
  }
}

/** Parses a DeleteObjects request body: at most 1000 keys, as S3 allows. */
export function parseDeleteObjects(xml: string): { keys: string[]; quiet: boolean } {
  const parsed = parseXml<{ Delete?: { Object?: { Key?: unknown }[]; Quiet?: unknown } }>(xml);
  const objects = parsed.Delete?.Object;
  if (!parsed.Delete || !objects || objects.length === 0 || objects.length > 1000) {
    throw new S3Error('MalformedXML', 'The Delete document must list between 1 and 1000 objects');
  }
  const keys = objects.map((object) => object.Key);
  if (keys.some((key) => typeof key !== 'string' || key.length === 0)) {
    throw new S3Error('MalformedXML', 'Every Object in the Delete document needs a Key');
  }
  return { keys: keys as string[], quiet: String(parsed.Delete.Quiet).toLowerCase() === 'true' };
}

export interface RequestedPart {
  partNumber: number;
  /** As the client sent it, quotes removed. */
  etag: string;
}

/** Parses a CompleteMultipartUpload body: the parts in the order the client lists them. */
export function parseCompleteMultipartUpload(xml: string): RequestedPart[] {
  const parsed = parseXml<{
    CompleteMultipartUpload?: { Part?: { PartNumber?: unknown; ETag?: unknown }[] } | '';
  }>(xml);
  const parts = parsed.CompleteMultipartUpload ? parsed.CompleteMultipartUpload.Part : undefined;
  if (!parts || parts.length === 0) throw malformedXml();
  return parts.map((part) => {
    const partNumber = Number(part.PartNumber);
    if (!Number.isInteger(partNumber) || typeof part.ETag !== 'string') throw malformedXml();
    return { partNumber, etag: part.ETag.replaceAll('"', '').replaceAll('&quot;', '').trim() };
  });
}

export function initiateMultipartUploadXml(bucket: string, key: string, uploadId: string): string {
  return xmlDocument('InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: uploadId });
}

export function completeMultipartUploadXml(location: string, bucket: string, key: string, etag: string) {
  return xmlDocument('CompleteMultipartUploadResult', {
    Location: location,
    Bucket: bucket,
    Key: key,
    ETag: etag,
  });
}

export function copyPartResultXml(etag: string, lastModified: Date): string {
  return xmlDocument('CopyPartResult', { LastModified: lastModified.toISOString(), ETag: etag });
}

/** `x-amz-checksum-crc32` → `ChecksumCRC32`, as S3 names checksums in XML. */
const checksumElement = (algorithm: string) => `Checksum${algorithm.toUpperCase()}`;

export interface ListPartsRendering {
  bucket: string;
  key: string;
  uploadId: string;
  partNumberMarker: number;
  maxParts: number;
  checksumAlgorithm?: string;
  parts: {
    partNumber: number;
    etag: string;
    size: number;
    uploadedAt: Date;
    checksum?: { algorithm: string; value: string };
  }[];
  truncated: boolean;
}

export function listPartsXml(rendering: ListPartsRendering): string {
  return xmlDocument('ListPartsResult', {
    Bucket: rendering.bucket,
    Key: rendering.key,
    UploadId: rendering.uploadId,
    Initiator: OWNER,
    Owner: OWNER,
    StorageClass: 'STANDARD',
    PartNumberMarker: rendering.partNumberMarker,
    NextPartNumberMarker: rendering.parts.at(-1)?.partNumber ?? rendering.partNumberMarker,
    MaxParts: rendering.maxParts,
    IsTruncated: rendering.truncated,
    ChecksumAlgorithm: rendering.checksumAlgorithm,
    Part: rendering.parts.map((part) => ({
      PartNumber: part.partNumber,
      LastModified: part.uploadedAt.toISOString(),
      ETag: part.etag,
      Size: part.size,
      ...(part.checksum && { [checksumElement(part.checksum.algorithm)]: part.checksum.value }),
    })),
  });
}

export interface ListUploadsRendering {
  bucket: string;
  prefix: string;
  delimiter?: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads: number;
  encodingType?: 'url';
  uploads: { key: string; uploadId: string; initiated: Date; checksumAlgorithm?: string }[];
  commonPrefixes: string[];
  next?: { key: string; uploadId: string };
}

export function listMultipartUploadsXml(rendering: ListUploadsRendering): string {
  const encode = rendering.encodingType === 'url' ? urlEncode : (value: string) => value;
  return xmlDocument('ListMultipartUploadsResult', {
    Bucket: rendering.bucket,
    KeyMarker: encode(rendering.keyMarker ?? ''),
    UploadIdMarker: rendering.uploadIdMarker ?? '',
    NextKeyMarker: rendering.next ? encode(rendering.next.key) : undefined,
    NextUploadIdMarker: rendering.next?.uploadId,
    Prefix: encode(rendering.prefix),
    Delimiter: rendering.delimiter ? encode(rendering.delimiter) : undefined,
    MaxUploads: rendering.maxUploads,
    EncodingType: rendering.encodingType,
    IsTruncated: rendering.next !== undefined,
    Upload: rendering.uploads.map((upload) => ({
      Key: encode(upload.key),
      UploadId: upload.uploadId,
      Initiator: OWNER,
      Owner: OWNER,
      StorageClass: 'STANDARD',
      Initiated: upload.initiated.toISOString(),
      ChecksumAlgorithm: upload.checksumAlgorithm,
    })),
    CommonPrefixes: rendering.commonPrefixes.map((prefix) => ({ Prefix: encode(prefix) })),
  });
}
