/** Picks the S3 operation a request names, from its method, address, query and headers. */
import type { IncomingMessage } from 'node:http';
import { S3Error } from './errors.ts';
import { multipartOperations, selectMultipartOperation } from './multipart.ts';
import {
  copyObject,
  deleteObject,
  deleteObjects,
  getBucketLocation,
  getObject,
  headBucket,
  headObject,
  listBuckets,
  listObjectsV1,
  listObjectsV2,
  type Operation,
  putObject,
} from './operations.ts';

/** Every operation the bridge serves, in the order README's compatibility table lists them. */
export const servedOperations: readonly Operation[] = [
  listBuckets,
  headBucket,
  getBucketLocation,
  listObjectsV2,
  listObjectsV1,
  headObject,
  getObject,
  putObject,
  copyObject,
  deleteObject,
  deleteObjects,
  ...multipartOperations,
];

const notImplemented = (name: string): Operation => ({
  name,
  permission: 'read',
  needsBucket: false,
  async run() {
    throw new S3Error('NotImplemented', `${name} is not implemented by this Skybridge bridge`);
  },
});

/** Sub-resources that turn a bucket or object request into another operation. */
const unsupportedSubresources = [
  'acl',
  'policy',
  'cors',
  'lifecycle',
  'versioning',
  'versions',
  'tagging',
  'website',
  'logging',
  'notification',
  'replication',
  'encryption',
  'object-lock',
  'retention',
  'legal-hold',
  'accelerate',
  'requestPayment',
  'analytics',
  'inventory',
  'metrics',
  'intelligent-tiering',
  'ownershipControls',
  'publicAccessBlock',
  'restore',
  'select',
  'torrent',
  'attributes',
];

/** Picks the operation from method, address and query, as S3 does. */
export function selectOperation(
  method: string,
  hasBucket: boolean,
  hasKey: boolean,
  query: URLSearchParams,
  headers: IncomingMessage['headers'],
): Operation {
  const unsupported = unsupportedSubresources.find((name) => query.has(name));
  if (unsupported) return notImplemented(`The "${unsupported}" sub-resource`);
  const multipart = hasBucket && selectMultipartOperation(method, hasKey, query, headers);
  if (multipart) return multipart;
  // GetObject / HeadObject of one part of a multipart object.
  if (query.has('partNumber')) return notImplemented('The "partNumber" parameter');
  if (!hasBucket) return method === 'GET' ? listBuckets : notImplemented(`${method} on the service`);
  if (!hasKey) {
    if (method === 'HEAD') return headBucket;
    if (method === 'GET' && query.has('location')) return getBucketLocation;
    if (method === 'GET') return query.get('list-type') === '2' ? listObjectsV2 : listObjectsV1;
    if (method === 'POST' && query.has('delete')) return deleteObjects;
    return notImplemented(`${method} on a bucket (bucket creation and deletion happen in the control plane)`);
  }
  if (method === 'GET') return getObject;
  if (method === 'HEAD') return headObject;
  if (method === 'PUT') return headers['x-amz-copy-source'] ? copyObject : putObject;
  if (method === 'DELETE') return deleteObject;
  return notImplemented(`${method} on an object`);
}
