/**
 * Bucket credentials as the API accepts them, as providers/storage needs
 * them, and as they are stored: sealed (core/secrets), bound to the bucket's
 * id so a sealed value copied to another row does not open.
 */
import { z } from 'zod';
import type {
  BucketConnection,
  BucketCredentials,
  StorageProvider,
} from '../../providers/storage/object-store.ts';
import type { Bucket } from '../db/entities/index.ts';
import { AppError } from '../errors.ts';
import { decryptSecret, encryptSecret, parseSealedSecret, type SealedSecret } from '../secrets/envelope.ts';
import type { MasterKeyring } from '../secrets/keyring.ts';

const secretText = (max: number) => z.string().min(1).max(max);

export const bucketCredentialsInput = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('ACCESS_KEY'),
    accessKeyId: secretText(128),
    secretAccessKey: secretText(256),
    sessionToken: secretText(4096).optional(),
  }),
  z.object({ type: z.literal('SERVICE_ACCOUNT'), serviceAccountJson: secretText(16_384) }),
  z.object({ type: z.literal('HMAC'), accessKeyId: secretText(128), secretAccessKey: secretText(256) }),
  z.object({ type: z.literal('SHARED_KEY'), accountName: secretText(64), accountKey: secretText(256) }),
  z.object({ type: z.literal('SAS'), accountName: secretText(64), sasToken: secretText(4096) }),
  z.object({ type: z.literal('CONNECTION_STRING'), connectionString: secretText(4096) }),
]);
export type BucketCredentialsInput = z.infer<typeof bucketCredentialsInput>;

const allowedTypes: Record<StorageProvider, BucketCredentialsInput['type'][]> = {
  S3: ['ACCESS_KEY'],
  S3_COMPATIBLE: ['ACCESS_KEY'],
  GCS: ['SERVICE_ACCOUNT', 'HMAC'],
  AZURE: ['SHARED_KEY', 'SAS', 'CONNECTION_STRING'],
};

export function toProviderCredentials(
  provider: StorageProvider,
  input: BucketCredentialsInput,
): BucketCredentials {
  if (!allowedTypes[provider].includes(input.type)) {
    throw new AppError(
      'VALIDATION_FAILED',
      `credentials of type ${input.type} do not fit provider ${provider} (use ${allowedTypes[provider].join(' or ')})`,
    );
  }
  switch (input.type) {
    case 'ACCESS_KEY':
      return { kind: 'S3_ACCESS_KEY', ...withoutType(input) };
    case 'SERVICE_ACCOUNT':
      return { kind: 'GCS_SERVICE_ACCOUNT', serviceAccountJson: input.serviceAccountJson };
    case 'HMAC':
      return { kind: 'GCS_HMAC', accessKeyId: input.accessKeyId, secretAccessKey: input.secretAccessKey };
    case 'SHARED_KEY':
      return { kind: 'AZURE_SHARED_KEY', accountName: input.accountName, accountKey: input.accountKey };
    case 'SAS':
      return { kind: 'AZURE_SAS', accountName: input.accountName, sasToken: input.sasToken };
    case 'CONNECTION_STRING':
      return { kind: 'AZURE_CONNECTION_STRING', connectionString: input.connectionString };
  }
}

function withoutType<T extends { type: string }>(input: T): Omit<T, 'type'> {
  const { type: _type, ...rest } = input;
  return rest;
}

/** A non-secret label for the credentials, safe to show: an access key id, an account name, a client email. */
export function credentialsHint(credentials: BucketCredentials): string | null {
  switch (credentials.kind) {
    case 'S3_ACCESS_KEY':
    case 'GCS_HMAC':
      return credentials.accessKeyId;
    case 'AZURE_SHARED_KEY':
    case 'AZURE_SAS':
      return credentials.accountName;
    case 'AZURE_CONNECTION_STRING':
      return /AccountName=([^;]+)/.exec(credentials.connectionString)?.[1] ?? null;
    case 'GCS_SERVICE_ACCOUNT':
      return clientEmailOf(credentials.serviceAccountJson);
  }
}

function clientEmailOf(json: string): string | null {
  try {
    const email = (JSON.parse(json) as { client_email?: unknown }).client_email;
    return typeof email === 'string' ? email : null;
  } catch {
    return null;
  }
}

/** The bucket's columns that hold sealed credentials: in use, being rotated in, just rotated out. */
export type CredentialsField = 'credentials' | 'pendingCredentials' | 'previousCredentials';

export const bucketSealingContext = (bucketId: string, field: CredentialsField = 'credentials') =>
  field === 'credentials' ? `bucket:${bucketId}:credentials` : `bucket:${bucketId}:${field}`;

export function sealBucketCredentials(
  keyring: MasterKeyring,
  bucketId: string,
  credentials: BucketCredentials,
  field: CredentialsField = 'credentials',
): SealedSecret {
  return encryptSecret(keyring, JSON.stringify(credentials), bucketSealingContext(bucketId, field));
}

/** The credentials in one of the bucket's sealed columns, which must be loaded and set. */
export function openBucketCredentials(
  keyring: MasterKeyring,
  bucket: Bucket,
  field: CredentialsField = 'credentials',
): BucketCredentials {
  const sealed = parseSealedSecret(bucket[field]);
  return JSON.parse(
    decryptSecret(keyring, sealed, bucketSealingContext(bucket.id, field)),
  ) as BucketCredentials;
}

/** The API's name for a kind of credentials (`S3_ACCESS_KEY` → `ACCESS_KEY`). */
export function credentialsTypeOf(credentials: BucketCredentials): BucketCredentialsInput['type'] {
  const types: Record<BucketCredentials['kind'], BucketCredentialsInput['type']> = {
    S3_ACCESS_KEY: 'ACCESS_KEY',
    GCS_SERVICE_ACCOUNT: 'SERVICE_ACCOUNT',
    GCS_HMAC: 'HMAC',
    AZURE_SHARED_KEY: 'SHARED_KEY',
    AZURE_SAS: 'SAS',
    AZURE_CONNECTION_STRING: 'CONNECTION_STRING',
  };
  return types[credentials.kind];
}

/** Everything providers/storage needs to reach the bucket with the credentials of `field`. */
export function bucketConnection(
  keyring: MasterKeyring,
  bucket: Bucket,
  field: CredentialsField = 'credentials',
): BucketConnection {
  const credentials = openBucketCredentials(keyring, bucket, field);
  return {
    provider: bucket.provider,
    bucketName: bucket.bucketName,
    region: bucket.region ?? undefined,
    endpoint: bucket.endpoint ?? undefined,
    forcePathStyle: bucket.forcePathStyle,
    credentials,
  };
}
