/**
 * The three ObjectStore adapters against real emulators: one contract suite
 * per backend (MinIO, fake-gcs-server, Azurite with each kind of credential),
 * then each vendor's credential failures.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import { type Duplex, Readable } from 'node:stream';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { Storage } from '@google-cloud/storage';
import teenyRequestAgents from 'teeny-request/build/src/agents.js';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createGuardedAgents, publicOnlyPolicy } from '../../core/net/outbound-guard.ts';
import { decodeAzureMetadataName, encodeAzureMetadataName } from '../../providers/storage/azure-metadata.ts';
import {
  type BucketConnection,
  createObjectStore,
  type ObjectStore,
  StorageError,
  type StorageErrorCode,
} from '../../providers/storage/index.ts';
import { freePort } from '../../scripts/services/free-port.ts';

const MiB = 1024 * 1024;

/** As helpers/context.ts's `services()`, without loading the API and worker modules these tests do not need. */
const services = () => inject('services');

interface Backend {
  name: string;
  createBucket(bucketName: string): Promise<void>;
  connection(bucketName: string): BucketConnection;
  /** The same connection with its endpoint moved to `endpoint`. */
  withEndpoint(connection: BucketConnection, endpoint: string): BucketConnection;
  /** A call that must go through the caller's agents. */
  callThroughAgents(store: ObjectStore): Promise<unknown>;
}

const uniqueBucketName = (label: string) => `sb-${label}-${randomUUID().slice(0, 8)}`;
const moveEndpoint = (connection: BucketConnection, endpoint: string) => ({ ...connection, endpoint });
const checkAccess = (store: ObjectStore) => store.checkAccess();

function minio() {
  return services().minio;
}

async function createMinioBucket(bucketName: string): Promise<void> {
  const { endpoint, accessKeyId, secretAccessKey } = minio();
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucketName }));
  client.destroy();
}

function minioConnection(bucketName: string, secretAccessKey = minio().secretAccessKey): BucketConnection {
  const { endpoint, accessKeyId } = minio();
  return {
    provider: 'S3_COMPATIBLE',
    bucketName,
    endpoint,
    forcePathStyle: true,
    credentials: { kind: 'S3_ACCESS_KEY', accessKeyId, secretAccessKey },
  };
}

/** A throwaway key, so the JSON is a well-formed service-account key (the emulator checks no token). */
function serviceAccountJson(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return JSON.stringify({
    type: 'service_account',
    project_id: 'skybridge-test',
    client_email: 'adapter-test@skybridge-test.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
  });
}

async function createGcsBucket(bucketName: string): Promise<void> {
  const storage = new Storage({
    apiEndpoint: services().gcs.endpoint,
    projectId: 'skybridge-test',
    useAuthWithCustomEndpoint: false,
  });
  await storage.createBucket(bucketName);
}

const azuriteAccountName = 'devstoreaccount1';

function azuriteAccountKey(): string {
  const key = services().azurite.connectionString.match(/AccountKey=([^;]+)/)?.[1];
  if (!key) throw new Error('the Azurite connection string has no AccountKey');
  return key;
}

async function createAzureContainer(containerName: string): Promise<void> {
  const service = BlobServiceClient.fromConnectionString(services().azurite.connectionString);
  await service.getContainerClient(containerName).create();
}

function azuriteSharedKeyConnection(
  containerName: string,
  accountKey = azuriteAccountKey(),
): BucketConnection {
  return {
    provider: 'AZURE',
    bucketName: containerName,
    endpoint: services().azurite.endpoint,
    credentials: { kind: 'AZURE_SHARED_KEY', accountName: azuriteAccountName, accountKey },
  };
}

/** An account SAS, so it also reaches containers that do not exist (to be told NotFound). */
function azuriteSasToken(): string {
  const credential = new StorageSharedKeyCredential(azuriteAccountName, azuriteAccountKey());
  return generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 3_600_000),
      permissions: AccountSASPermissions.parse('rwdlacup'),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      services: AccountSASServices.parse('b').toString(),
    },
    credential,
  ).toString();
}

function azuriteConnectionStringWithEndpoint(endpoint: string): string {
  return services().azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${endpoint}`);
}

const backends: Backend[] = [
  {
    name: 'MinIO (S3_COMPATIBLE, path-style)',
    createBucket: createMinioBucket,
    connection: (bucketName) => minioConnection(bucketName),
    withEndpoint: moveEndpoint,
    callThroughAgents: checkAccess,
  },
  {
    // MinIO stands in for GCS's XML API: this runs the S3 adapter as configured for GCS HMAC keys.
    name: 'MinIO as GCS XML API (GCS_HMAC)',
    createBucket: createMinioBucket,
    connection: (bucketName) => ({
      provider: 'GCS',
      bucketName,
      endpoint: minio().endpoint,
      credentials: {
        kind: 'GCS_HMAC',
        accessKeyId: minio().accessKeyId,
        secretAccessKey: minio().secretAccessKey,
      },
    }),
    withEndpoint: moveEndpoint,
    callThroughAgents: checkAccess,
  },
  {
    name: 'fake-gcs-server (GCS_SERVICE_ACCOUNT)',
    createBucket: createGcsBucket,
    connection: (bucketName) => ({
      provider: 'GCS',
      bucketName,
      endpoint: services().gcs.endpoint,
      credentials: { kind: 'GCS_SERVICE_ACCOUNT', serviceAccountJson: serviceAccountJson() },
    }),
    withEndpoint: moveEndpoint,
    callThroughAgents: checkAccess,
  },
  {
    name: 'Azurite (AZURE_SHARED_KEY)',
    createBucket: createAzureContainer,
    connection: (containerName) => azuriteSharedKeyConnection(containerName),
    withEndpoint: moveEndpoint,
    callThroughAgents: checkAccess,
  },
  {
    name: 'Azurite (AZURE_CONNECTION_STRING)',
    createBucket: createAzureContainer,
    connection: (containerName) => ({
      provider: 'AZURE',
      bucketName: containerName,
      credentials: { kind: 'AZURE_CONNECTION_STRING', connectionString: services().azurite.connectionString },
    }),
    withEndpoint: (connection, endpoint) => ({
      ...connection,
      credentials: {
        kind: 'AZURE_CONNECTION_STRING',
        connectionString: azuriteConnectionStringWithEndpoint(`${endpoint}/${azuriteAccountName}`),
      },
    }),
    callThroughAgents: checkAccess,
  },
  {
    name: 'Azurite (AZURE_SAS)',
    createBucket: createAzureContainer,
    connection: (containerName) => ({
      provider: 'AZURE',
      bucketName: containerName,
      endpoint: services().azurite.endpoint,
      credentials: { kind: 'AZURE_SAS', accountName: azuriteAccountName, sasToken: azuriteSasToken() },
    }),
    withEndpoint: (connection, endpoint) => moveEndpoint(connection, `${endpoint}/${azuriteAccountName}`),
    callThroughAgents: checkAccess,
  },
];

async function expectStorageError(
  action: () => Promise<unknown>,
  code: StorageErrorCode,
): Promise<StorageError> {
  const error = await action().then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(StorageError);
  expect((error as StorageError).code).toBe(code);
  return error as StorageError;
}

const readAll = async (body: Readable) => Buffer.concat(await body.toArray());

/** `size` bytes made on demand in 1 MiB chunks, each filled with its index: never one big Buffer. */
function generatedStream(size: number): Readable {
  async function* chunks() {
    for (let offset = 0, index = 0; offset < size; offset += MiB, index++)
      yield Buffer.alloc(Math.min(MiB, size - offset), index % 256);
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** An http.Agent that counts the connections it opens. */
class CountingAgent extends http.Agent {
  connections = 0;
  override createConnection(...args: Parameters<http.Agent['createConnection']>): Duplex | null | undefined {
    this.connections++;
    return super.createConnection(...args);
  }
}

async function closedLocalEndpoint(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

describe.each(backends)('ObjectStore contract: $name', (backend) => {
  let bucketName: string;
  let store: ObjectStore;
  const body = Buffer.from('0123456789abcdefghij');

  beforeAll(async () => {
    bucketName = uniqueBucketName('contract');
    await backend.createBucket(bucketName);
    store = await createObjectStore(backend.connection(bucketName));
  });

  it('proves access to the bucket', async () => {
    await expect(store.checkAccess()).resolves.toBeUndefined();
  });

  it('puts a Buffer with content type and metadata, and head describes it', async () => {
    const { etag } = await store.put('docs/buffer.txt', body, {
      contentType: 'text/plain',
      metadata: { 'origin-app': 'skybridge', author: 'tests' },
    });
    expect(etag).toMatch(/^"/);
    const info = await store.head('docs/buffer.txt');
    expect(info).toMatchObject({
      key: 'docs/buffer.txt',
      size: body.length,
      etag,
      contentType: 'text/plain',
      metadata: { 'origin-app': 'skybridge', author: 'tests' },
    });
    expect(info.lastModified).toBeInstanceOf(Date);
  });

  it('puts a stream with its contentLength', async () => {
    await store.put('docs/known-length.bin', Readable.from([body.subarray(0, 10), body.subarray(10)]), {
      contentLength: body.length,
      contentType: 'application/x-known',
    });
    const info = await store.head('docs/known-length.bin');
    expect(info).toMatchObject({ size: body.length, contentType: 'application/x-known' });
  });

  it('puts a stream without contentLength, keeping content type and metadata', async () => {
    await store.put('docs/unknown-length.bin', Readable.from([body.subarray(0, 7), body.subarray(7)]), {
      contentType: 'application/x-unknown',
      metadata: { 'stream-kind': 'generator' },
    });
    const info = await store.head('docs/unknown-length.bin');
    expect(info).toMatchObject({
      size: body.length,
      contentType: 'application/x-unknown',
      metadata: { 'stream-kind': 'generator' },
    });
  });

  it('gets a whole object, a closed range and an open-ended range', async () => {
    await store.put('docs/ranged.txt', body, { contentType: 'text/plain' });
    const whole = await store.get('docs/ranged.txt');
    expect(whole.info).toMatchObject({
      key: 'docs/ranged.txt',
      size: body.length,
      contentType: 'text/plain',
    });
    expect((await readAll(whole.body)).toString()).toBe(body.toString());

    const closed = await store.get('docs/ranged.txt', { start: 2, end: 5 });
    expect(closed.info.size).toBe(body.length);
    expect((await readAll(closed.body)).toString()).toBe('2345');

    const openEnded = await store.get('docs/ranged.txt', { start: 15 });
    expect((await readAll(openEnded.body)).toString()).toBe('fghij');
  });

  it('refuses an inverted range before calling the backend', async () => {
    await expectStorageError(() => store.get('docs/ranged.txt', { start: 5, end: 2 }), 'Invalid');
  });

  it('lists by prefix and delimiter, and pages with maxKeys', async () => {
    const keys = ['list/a', 'list/b', 'list/c', 'list/sub/d', 'list/sub/e'];
    for (const key of keys) await store.put(key, Buffer.from(key));

    const byFolder = await store.list({ prefix: 'list/', delimiter: '/' });
    expect(byFolder.objects.map((object) => object.key)).toEqual(['list/a', 'list/b', 'list/c']);
    expect(byFolder.commonPrefixes).toEqual(['list/sub/']);
    expect(byFolder.objects[0]).toMatchObject({ size: 'list/a'.length });
    expect(byFolder.objects[0]?.etag).toMatch(/^"/);

    const pages: string[][] = [];
    let continuationToken: string | undefined;
    do {
      const page = await store.list({ prefix: 'list/', maxKeys: 2, continuationToken });
      pages.push(page.objects.map((object) => object.key));
      continuationToken = page.nextContinuationToken;
    } while (continuationToken && pages.length < 10);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(keys);
  });

  it('deletes an object, after which head and get say NotFound; deleting again succeeds', async () => {
    await store.put('docs/doomed.txt', body);
    await store.delete('docs/doomed.txt');
    const error = await expectStorageError(() => store.head('docs/doomed.txt'), 'NotFound');
    expect(error.httpStatus).toBe(404);
    expect(error.retryable).toBe(false);
    await expectStorageError(() => store.get('docs/doomed.txt'), 'NotFound');
    await expect(store.delete('docs/doomed.txt')).resolves.toBeUndefined();
  });

  it('says NotFound for a bucket that does not exist', async () => {
    const missing = await createObjectStore(backend.connection(uniqueBucketName('missing')));
    await expectStorageError(() => missing.checkAccess(), 'NotFound');
  });

  it('says Transient when the endpoint does not answer', async () => {
    const unreachable = await createObjectStore(
      backend.withEndpoint(backend.connection(bucketName), await closedLocalEndpoint()),
    );
    const error = await expectStorageError(() => unreachable.checkAccess(), 'Transient');
    expect(error.vendorCode).toBe('ECONNREFUSED');
    expect(error.retryable).toBe(true);
  });

  it('opens its connections through the agents it is given', async () => {
    const httpAgent = new CountingAgent();
    const guarded = await createObjectStore(backend.connection(bucketName), { httpAgent });
    await backend.callThroughAgents(guarded);
    expect(httpAgent.connections).toBeGreaterThan(0);
  });

  it('stops with Invalid, not retried, when the outbound guard refuses the address', async () => {
    const refused = await createObjectStore(
      backend.connection(bucketName),
      createGuardedAgents(publicOnlyPolicy),
    );
    try {
      const error = await expectStorageError(() => backend.callThroughAgents(refused), 'Invalid');
      expect(error.vendorCode).toBe('OUTBOUND_ADDRESS_REFUSED');
      expect(error.retryable).toBe(false);
    } finally {
      // GCS installs its agents in teeny-request's process-wide pool (one policy per process in
      // production); this test mixes policies, so it puts the default agents back.
      teenyRequestAgents.pool.clear();
    }
  });

  it('streams 64 MiB of unknown length from a generator', async () => {
    const size = 64 * MiB;
    await store.put('big/generated.bin', generatedStream(size), { contentType: 'application/octet-stream' });
    expect((await store.head('big/generated.bin')).size).toBe(size);
    // The last bytes come from the last 1 MiB chunk (index 63): the parts were assembled in order.
    const tail = await store.get('big/generated.bin', { start: size - 4 });
    expect([...(await readAll(tail.body))]).toEqual([63, 63, 63, 63]);
  });
});

describe('credential failures', () => {
  it('MinIO: a wrong secret is InvalidCredentials (SignatureDoesNotMatch), for HEAD requests too', async () => {
    const bucketName = uniqueBucketName('creds');
    await createMinioBucket(bucketName);
    const store = await createObjectStore(minioConnection(bucketName, 'not-the-secret'));
    const error = await expectStorageError(() => store.checkAccess(), 'InvalidCredentials');
    expect(error).toMatchObject({ vendorCode: 'SignatureDoesNotMatch', httpStatus: 403 });
    await expectStorageError(() => store.head('any-key'), 'InvalidCredentials');
  });

  it('MinIO: an unknown access key is InvalidCredentials (InvalidAccessKeyId)', async () => {
    const connection = minioConnection(uniqueBucketName('creds'));
    const store = await createObjectStore({
      ...connection,
      credentials: { kind: 'S3_ACCESS_KEY', accessKeyId: 'nobody', secretAccessKey: 'nothing' },
    });
    const error = await expectStorageError(() => store.list(), 'InvalidCredentials');
    expect(error.vendorCode).toBe('InvalidAccessKeyId');
  });

  it('Azurite: a wrong shared key is InvalidCredentials', async () => {
    const containerName = uniqueBucketName('creds');
    await createAzureContainer(containerName);
    const wrongKey = Buffer.from('definitely not the azurite key').toString('base64');
    const store = await createObjectStore(azuriteSharedKeyConnection(containerName, wrongKey));
    const error = await expectStorageError(() => store.checkAccess(), 'InvalidCredentials');
    expect(error.httpStatus).toBe(403);
  });

  it('Azurite: a connection string with a wrong key is InvalidCredentials; a malformed one too', async () => {
    const containerName = uniqueBucketName('creds');
    await createAzureContainer(containerName);
    const wrongKey = Buffer.from('definitely not the azurite key').toString('base64');
    const connectionString = services().azurite.connectionString.replace(
      /AccountKey=[^;]+/,
      `AccountKey=${wrongKey}`,
    );
    const store = await createObjectStore({
      provider: 'AZURE',
      bucketName: containerName,
      credentials: { kind: 'AZURE_CONNECTION_STRING', connectionString },
    });
    await expectStorageError(() => store.checkAccess(), 'InvalidCredentials');
    await expectStorageError(
      () =>
        createObjectStore({
          provider: 'AZURE',
          bucketName: containerName,
          credentials: {
            kind: 'AZURE_CONNECTION_STRING',
            connectionString: 'AccountKey=secret-part;nonsense',
          },
        }),
      'InvalidCredentials',
    );
  });

  it('GCS: a malformed service-account key is InvalidCredentials, and the message quotes none of it', async () => {
    const gcs = (serviceAccountJson: string) => () =>
      createObjectStore({
        provider: 'GCS',
        bucketName: 'any',
        endpoint: services().gcs.endpoint,
        credentials: { kind: 'GCS_SERVICE_ACCOUNT', serviceAccountJson },
      });
    const malformed = await expectStorageError(
      gcs('{"private_key": "-----BEGIN SECRET-----'),
      'InvalidCredentials',
    );
    expect(malformed.message).toMatch(/not valid JSON/);
    expect(malformed.message).not.toContain('SECRET');
    const withoutKey = await expectStorageError(gcs('{"client_email": "a@b.c"}'), 'InvalidCredentials');
    expect(withoutKey.message).toMatch(/private_key/);
    const withoutEmail = await expectStorageError(gcs('{"private_key": "x"}'), 'InvalidCredentials');
    expect(withoutEmail.message).toMatch(/client_email/);
    const notPem = await expectStorageError(
      gcs(JSON.stringify({ client_email: 'a@b.c', private_key: 'SECRET-not-a-pem' })),
      'InvalidCredentials',
    );
    expect(notPem.message).not.toContain('SECRET');
  });
});

describe('createObjectStore', () => {
  it('refuses credentials that do not fit the provider', async () => {
    const mismatched: BucketConnection = {
      provider: 'AZURE',
      bucketName: 'any',
      credentials: { kind: 'S3_ACCESS_KEY', accessKeyId: 'a', secretAccessKey: 'b' },
    };
    const error = await expectStorageError(() => createObjectStore(mismatched), 'Invalid');
    expect(error.message).toContain('S3_ACCESS_KEY');
    await expectStorageError(
      () =>
        createObjectStore({
          provider: 'S3',
          bucketName: 'any',
          credentials: { kind: 'GCS_SERVICE_ACCOUNT', serviceAccountJson: serviceAccountJson() },
        }),
      'Invalid',
    );
  });

  it('refuses an S3_COMPATIBLE bucket without an endpoint', async () => {
    const { endpoint: _endpoint, ...withoutEndpoint } = minioConnection('any');
    await expectStorageError(() => createObjectStore(withoutEndpoint), 'Invalid');
  });

  it('names the provider and bucket of the store it opens', async () => {
    const store = await createObjectStore(azuriteSharedKeyConnection('named-container'));
    expect(store).toMatchObject({ provider: 'AZURE', bucketName: 'named-container' });
  });
});

describe('Azure metadata names', () => {
  it('keeps C# identifiers as they are and encodes other names reversibly', () => {
    expect(encodeAzureMetadataName('author')).toBe('author');
    expect(encodeAzureMetadataName('hdi_isfolder')).toBe('hdi_isfolder');
    expect(encodeAzureMetadataName('origin-app')).toBe('sbmeta_origin_2dapp');
    for (const name of ['origin-app', '1st', 'a_-b', 'a-_b', 'sbmeta_x', 'dots.and spaces', 'café', 'x--y'])
      expect(decodeAzureMetadataName(encodeAzureMetadataName(name))).toBe(name);
    expect(encodeAzureMetadataName('a_-b')).not.toBe(encodeAzureMetadataName('a-_b'));
  });

  it('produces names Azure accepts', () => {
    for (const name of ['origin-app', '1st', 'dots.and spaces', 'café'])
      expect(encodeAzureMetadataName(name)).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
  });

  it('reads names written by other tools unchanged', () => {
    expect(decodeAzureMetadataName('hdi_isfolder')).toBe('hdi_isfolder');
    expect(decodeAzureMetadataName('file_ab')).toBe('file_ab');
  });
});
