/** Creates buckets directly in the emulators, as a cloud console would, for tests to register. */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { type ApiCall, services } from './context.ts';

export const uniqueBucketName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export async function createMinioBucket(name = uniqueBucketName('minio')): Promise<string> {
  const { endpoint, accessKeyId, secretAccessKey } = services().minio;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  await client.send(new CreateBucketCommand({ Bucket: name }));
  client.destroy();
  return name;
}

export async function createGcsBucket(name = uniqueBucketName('gcs')): Promise<string> {
  const response = await fetch(`${services().gcs.endpoint}/storage/v1/b?project=skybridge-test`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (!response.ok) throw new Error(`fake-gcs-server refused the bucket: ${response.status}`);
  return name;
}

export async function createAzuriteContainer(name = uniqueBucketName('azure')): Promise<string> {
  await BlobServiceClient.fromConnectionString(services().azurite.connectionString)
    .getContainerClient(name)
    .create();
  return name;
}

/** A well-formed service-account key file (the emulator does not check it; the adapter parses it). */
export function fakeServiceAccountJson(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return JSON.stringify({
    type: 'service_account',
    project_id: 'skybridge-test',
    private_key_id: randomUUID(),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    client_email: 'tests@skybridge-test.iam.gserviceaccount.com',
    client_id: '1234567890',
    token_uri: 'https://oauth2.googleapis.com/token',
  });
}

/** The API body that registers a fresh MinIO bucket with the emulator's credentials. */
export async function minioBucketRegistration(
  overrides: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const { endpoint, accessKeyId, secretAccessKey } = services().minio;
  return {
    name: uniqueBucketName('bucket'),
    provider: 'S3_COMPATIBLE',
    bucketName: await createMinioBucket(),
    endpoint,
    forcePathStyle: true,
    credentials: { type: 'ACCESS_KEY', accessKeyId, secretAccessKey },
    ...overrides,
  };
}

export const backends = ['minio', 'gcs', 'azure'] as const;
export type Backend = (typeof backends)[number];

/** A repository whose buckets live on MinIO, fake-gcs-server and Azurite, registered through the API. */
export async function createThreeBackendRepository(
  call: ApiCall,
  repositoryName: string,
): Promise<{ repoId: string; names: Record<Backend, string> }> {
  const { gcs, azurite } = services();
  const registrations: Record<Backend, Record<string, unknown>> = {
    minio: await minioBucketRegistration({ name: uniqueBucketName('minio') }),
    gcs: {
      name: uniqueBucketName('gcs'),
      provider: 'GCS',
      bucketName: await createGcsBucket(),
      endpoint: gcs.endpoint,
      credentials: { type: 'SERVICE_ACCOUNT', serviceAccountJson: fakeServiceAccountJson() },
    },
    azure: {
      name: uniqueBucketName('azure'),
      provider: 'AZURE',
      bucketName: await createAzuriteContainer(),
      credentials: { type: 'CONNECTION_STRING', connectionString: azurite.connectionString },
    },
  };
  const names = {} as Record<Backend, string>;
  const ids: string[] = [];
  for (const backend of backends) {
    const created = await call('POST', '/bucket', registrations[backend]);
    if (created.status !== 201)
      throw new Error(`registering the ${backend} bucket failed: ${JSON.stringify(created.body)}`);
    names[backend] = created.body.name;
    ids.push(created.body.id);
  }
  const repo = await call('POST', '/repo', { name: repositoryName, bucketIds: ids });
  if (repo.status !== 201) throw new Error(`creating the repository failed: ${JSON.stringify(repo.body)}`);
  return { repoId: repo.body.id, names };
}
