/**
 * CP-3 and JOB-1 through the API: buckets on MinIO, fake-gcs-server and
 * Azurite are registered with their credentials, validated by the Temporal
 * job, and their status says why when the credentials are wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bucket } from '../../core/db/entities/index.ts';
import { freePort } from '../../scripts/services/free-port.ts';
import { api, login, services, startTestStack, type TestStack } from '../helpers/context.ts';
import {
  createAzuriteContainer,
  createGcsBucket,
  createMinioBucket,
  fakeServiceAccountJson,
  uniqueBucketName,
} from '../helpers/emulator-buckets.ts';

describe('buckets', () => {
  let stack: TestStack;
  let token: string;

  beforeAll(async () => {
    stack = await startTestStack();
    token = await login(stack.baseUrl, stack.admin);
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function register(body: Record<string, unknown>) {
    return api(stack.baseUrl, 'POST', '/bucket', { token, body });
  }

  async function settled(bucketId: string) {
    for (let attempt = 0; attempt < 150; attempt++) {
      const bucket = await api(stack.baseUrl, 'GET', `/bucket/${bucketId}`, { token });
      if (bucket.body.status === 'VALID' || bucket.body.status === 'INVALID') return bucket.body;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error('bucket validation did not finish');
  }

  const minio = () => services().minio;
  const minioBody = async (overrides: Record<string, unknown> = {}) => ({
    name: uniqueBucketName('media'),
    provider: 'S3_COMPATIBLE',
    bucketName: await createMinioBucket(),
    endpoint: minio().endpoint,
    forcePathStyle: true,
    credentials: {
      type: 'ACCESS_KEY',
      accessKeyId: minio().accessKeyId,
      secretAccessKey: minio().secretAccessKey,
    },
    ...overrides,
  });

  it('validates an S3-compatible bucket with good credentials and records latencies', async () => {
    const created = await register(await minioBody());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: 'VALIDATING',
      credentials: { type: 'ACCESS_KEY', hint: minio().accessKeyId },
    });
    expect(JSON.stringify(created.body)).not.toContain(minio().secretAccessKey);
    const bucket = await settled(created.body.id);
    expect(bucket.status).toBe('VALID');
    expect(Object.keys(bucket.validationLatencyMs).sort()).toEqual([
      'access',
      'delete',
      'get',
      'list',
      'put',
    ]);
    // The bucket row is written by the workflow's last activity, a moment before the workflow itself completes.
    let state = await api(stack.baseUrl, 'GET', `/bucket/${created.body.id}/validation`, { token });
    for (let attempt = 0; attempt < 50 && state.body.status === 'RUNNING'; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      state = await api(stack.baseUrl, 'GET', `/bucket/${created.body.id}/validation`, { token });
    }
    expect(state.body).toMatchObject({ status: 'COMPLETED', state: { phase: 'DONE', outcome: 'VALID' } });
    const again = await api(stack.baseUrl, 'POST', `/bucket/${created.body.id}/validate`, { token });
    expect(again).toMatchObject({ status: 202, body: { status: 'VALIDATING' } });
    expect(again.body.jobId).not.toBe(bucket.validationJobId);
    const revalidated = await settled(created.body.id);
    expect(revalidated).toMatchObject({ status: 'VALID', validationJobId: again.body.jobId });
  });

  it('fails fast and clearly on a wrong secret, and a credential change validates again', async () => {
    const body = await minioBody({
      credentials: {
        type: 'ACCESS_KEY',
        accessKeyId: minio().accessKeyId,
        secretAccessKey: 'wrong-secret-value',
      },
    });
    const created = await register(body);
    const started = Date.now();
    const invalid = await settled(created.body.id);
    expect(invalid.status).toBe('INVALID');
    expect(invalid.statusReason).toMatch(/^InvalidCredentials: /);
    expect(Date.now() - started).toBeLessThan(10_000); // not retried
    const fixed = await api(stack.baseUrl, 'PUT', `/bucket/${created.body.id}`, {
      token,
      body: {
        credentials: {
          type: 'ACCESS_KEY',
          accessKeyId: minio().accessKeyId,
          secretAccessKey: minio().secretAccessKey,
        },
      },
    });
    expect(fixed.body.status).toBe('VALIDATING');
    expect((await settled(created.body.id)).status).toBe('VALID');
  });

  it('retries an unreachable endpoint with backoff before recording it as unreachable', async () => {
    const closedPort = await freePort();
    const created = await register(await minioBody({ endpoint: `http://127.0.0.1:${closedPort}` }));
    const started = Date.now();
    const bucket = await settled(created.body.id);
    expect(bucket.status).toBe('INVALID');
    expect(bucket.statusReason).toMatch(/^Transient: /);
    // Four attempts, 1 s + 2 s + 4 s apart: the transient failure was retried, not given up at once.
    expect(Date.now() - started).toBeGreaterThan(6_000);
  }, 60_000);

  it('reports a bucket that does not exist at the provider', async () => {
    const created = await register(await minioBody({ bucketName: uniqueBucketName('absent') }));
    const bucket = await settled(created.body.id);
    expect(bucket).toMatchObject({ status: 'INVALID' });
    expect(bucket.statusReason).toMatch(/^NotFound: /);
  });

  it('validates a GCS bucket with a service account, and refuses malformed service-account JSON', async () => {
    const good = await register({
      name: uniqueBucketName('gcs'),
      provider: 'GCS',
      bucketName: await createGcsBucket(),
      endpoint: services().gcs.endpoint,
      credentials: { type: 'SERVICE_ACCOUNT', serviceAccountJson: fakeServiceAccountJson() },
    });
    expect(good.status).toBe(201);
    expect(good.body.credentials.hint).toBe('tests@skybridge-test.iam.gserviceaccount.com');
    expect((await settled(good.body.id)).status).toBe('VALID');

    const malformed = await register({
      name: uniqueBucketName('gcs-bad'),
      provider: 'GCS',
      bucketName: await createGcsBucket(),
      endpoint: services().gcs.endpoint,
      credentials: { type: 'SERVICE_ACCOUNT', serviceAccountJson: '{"not":"a key file"' },
    });
    const invalid = await settled(malformed.body.id);
    expect(invalid.status).toBe('INVALID');
    expect(invalid.statusReason).toMatch(/^InvalidCredentials: /);
  });

  it('validates an Azure container with a shared key or a connection string, and reports a wrong key', async () => {
    const { azurite } = services();
    const accountKey = /AccountKey=([^;]+)/.exec(azurite.connectionString)![1]!;
    const container = await createAzuriteContainer();
    const sharedKey = await register({
      name: uniqueBucketName('azure'),
      provider: 'AZURE',
      bucketName: container,
      endpoint: azurite.endpoint,
      credentials: { type: 'SHARED_KEY', accountName: 'devstoreaccount1', accountKey },
    });
    expect((await settled(sharedKey.body.id)).status).toBe('VALID');

    const connectionString = await register({
      name: uniqueBucketName('azure-cs'),
      provider: 'AZURE',
      bucketName: container,
      credentials: { type: 'CONNECTION_STRING', connectionString: azurite.connectionString },
    });
    expect((await settled(connectionString.body.id)).status).toBe('VALID');

    const wrongKey = await register({
      name: uniqueBucketName('azure-bad'),
      provider: 'AZURE',
      bucketName: container,
      endpoint: azurite.endpoint,
      credentials: {
        type: 'SHARED_KEY',
        accountName: 'devstoreaccount1',
        accountKey: Buffer.alloc(64, 7).toString('base64'),
      },
    });
    const invalid = await settled(wrongKey.body.id);
    expect(invalid.status).toBe('INVALID');
    expect(invalid.statusReason).toMatch(/^InvalidCredentials: /);
  });

  it('stores credentials sealed: no plaintext secret in the database row', async () => {
    const created = await register(await minioBody());
    const rows = await stack.orm.em
      .getConnection()
      .execute<Record<string, unknown>[]>('select * from buckets where id = ?', [created.body.id]);
    const raw = JSON.stringify(rows);
    expect(raw).not.toContain(minio().secretAccessKey);
    expect(raw).toContain('"keyId"');
    const bucket = await stack.orm.em
      .fork()
      .findOneOrFail(Bucket, created.body.id, { populate: ['credentials'] });
    expect(bucket.credentials.keyId).toBe(stack.keyring.activeKeyId);
  });

  it('refuses bad input with a problem and writes nothing', async () => {
    const before = await stack.orm.em.fork().count(Bucket);
    const cases: [Record<string, unknown>, number, string][] = [
      [{ ...(await minioBody()), provider: 'DROPBOX' }, 400, 'VALIDATION_FAILED'],
      [{ ...(await minioBody()), name: 'Not_A_Bucket_Name' }, 400, 'VALIDATION_FAILED'],
      [
        { ...(await minioBody()), credentials: { type: 'SAS', accountName: 'x', sasToken: 'y' } },
        400,
        'VALIDATION_FAILED',
      ],
      [{ ...(await minioBody()), endpoint: 'http://169.254.169.254/latest' }, 400, 'ADDRESS_NOT_ALLOWED'],
      [{ ...(await minioBody()), endpoint: 'http://[fd00:ec2::254]/' }, 400, 'ADDRESS_NOT_ALLOWED'],
      [{ ...(await minioBody()), endpoint: 'http://10.1.2.3:9000' }, 400, 'ADDRESS_NOT_ALLOWED'],
      [{ ...(await minioBody()), endpoint: 'file:///etc/passwd' }, 400, 'VALIDATION_FAILED'],
      [{ ...(await minioBody()), unexpected: true }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await register(body);
      expect({ status: answer.status, code: answer.body.code }, JSON.stringify(body).slice(0, 120)).toEqual({
        status,
        code,
      });
    }
    const first = await minioBody();
    expect((await register(first)).status).toBe(201);
    const duplicate = await register({ ...(await minioBody()), name: first.name });
    expect(duplicate).toMatchObject({ status: 409, body: { code: 'CONFLICT' } });
    expect(await stack.orm.em.fork().count(Bucket)).toBe(before + 1);
  });

  it('lists only validated, unattached buckets as available for a repository', async () => {
    const valid = await register(await minioBody());
    await settled(valid.body.id);
    const repo = await api(stack.baseUrl, 'POST', '/repo', {
      token,
      body: { name: uniqueBucketName('repo') },
    });
    const available = await api(stack.baseUrl, 'GET', `/bucket/available?repoId=${repo.body.id}`, { token });
    expect(available.body.map((bucket: { id: string }) => bucket.id)).toContain(valid.body.id);
    expect(available.body.every((bucket: { status: string }) => bucket.status === 'VALID')).toBe(true);
    await api(stack.baseUrl, 'PUT', `/repo/${repo.body.id}/bucket/${valid.body.id}`, { token });
    const after = await api(stack.baseUrl, 'GET', `/bucket/available?repoId=${repo.body.id}`, { token });
    expect(after.body.map((bucket: { id: string }) => bucket.id)).not.toContain(valid.body.id);
    const refusedDelete = await api(stack.baseUrl, 'DELETE', `/bucket/${valid.body.id}`, { token });
    expect(refusedDelete).toMatchObject({ status: 409, body: { code: 'CONFLICT' } });
  });
});
