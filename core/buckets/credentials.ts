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

const sealingContext = (bucketId: string) => `bucket:${bucketId}:credentials`;

export function sealBucketCredentials(
  keyring: MasterKeyring,
  bucketId: string,
  credentials: BucketCredentials,
): SealedSecret {
  return encryptSecret(keyring, JSON.stringify(credentials), sealingContext(bucketId));
}

/** Everything providers/storage needs to reach the bucket; `bucket.credentials` must be loaded. */
export function bucketConnection(keyring: MasterKeyring, bucket: Bucket): BucketConnection {
  const sealed = parseSealedSecret(bucket.credentials);
  const credentials = JSON.parse(
    decryptSecret(keyring, sealed, sealingContext(bucket.id)),
  ) as BucketCredentials;
  return {
    provider: bucket.provider,
    bucketName: bucket.bucketName,
    region: bucket.region ?? undefined,
    endpoint: bucket.endpoint ?? undefined,
    forcePathStyle: bucket.forcePathStyle,
    credentials,
  };
}
