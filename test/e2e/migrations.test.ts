/**
 * JOB-2 through the API against the emulators: dry runs that write nothing
 * and plan what the real run then does, cross-provider copies verified
 * object by object, native copies inside one MinIO, move, sync with its
 * delete guard, and steering (pause, resume, cancel, rate).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObjectStore, type ObjectStore } from '../../providers/storage/index.ts';
import { api, login, services, startTestStack, type TestStack } from '../helpers/context.ts';
import {
  createAzuriteContainer,
  createGcsBucket,
  createMinioBucket,
  fakeServiceAccountJson,
  uniqueBucketName,
} from '../helpers/emulator-buckets.ts';

type Backend = 'minio' | 'azure' | 'gcs';

interface Seed {
  key: string;
  body: Buffer;
  contentType: string;
  metadata: Record<string, string>;
}

interface StoredObject {
  body: string;
  size: number;
  contentType?: string;
  metadata: Record<string, string>;
}

describe('migrations', () => {
  let stack: TestStack;
  let token: string;
  const call = (method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });

  beforeAll(async () => {
    stack = await startTestStack();
    token = await login(stack.baseUrl, stack.admin);
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A fresh bucket registered through the API, and a store on it for the test's own reads and writes. */
  async function bucket(backend: Backend): Promise<{ id: string; store: ObjectStore }> {
    const { minio, gcs, azurite } = services();
    let registration: Record<string, unknown>;
    let store: ObjectStore;
    if (backend === 'minio') {
      const bucketName = await createMinioBucket();
      const credentials = { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey };
      registration = {
        provider: 'S3_COMPATIBLE',
        bucketName,
        endpoint: minio.endpoint,
        forcePathStyle: true,
        credentials: { type: 'ACCESS_KEY', ...credentials },
      };
      store = createObjectStore({
        provider: 'S3_COMPATIBLE',
        bucketName,
        endpoint: minio.endpoint,
        forcePathStyle: true,
        credentials: { kind: 'S3_ACCESS_KEY', ...credentials },
      });
    } else if (backend === 'gcs') {
      const bucketName = await createGcsBucket();
      const serviceAccountJson = fakeServiceAccountJson();
      registration = {
        provider: 'GCS',
        bucketName,
        endpoint: gcs.endpoint,
        credentials: { type: 'SERVICE_ACCOUNT', serviceAccountJson },
      };
      store = createObjectStore({
        provider: 'GCS',
        bucketName,
        endpoint: gcs.endpoint,
        credentials: { kind: 'GCS_SERVICE_ACCOUNT', serviceAccountJson },
      });
    } else {
      const bucketName = await createAzuriteContainer();
      registration = {
        provider: 'AZURE',
        bucketName,
        credentials: { type: 'CONNECTION_STRING', connectionString: azurite.connectionString },
      };
      store = createObjectStore({
        provider: 'AZURE',
        bucketName,
        credentials: { kind: 'AZURE_CONNECTION_STRING', connectionString: azurite.connectionString },
      });
    }
    const created = await call('POST', '/bucket', { name: uniqueBucketName(backend), ...registration });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // Validation writes and deletes a probe object: let it finish before the test looks at the bucket.
    for (let attempt = 0; attempt < 100; attempt++) {
      const status = (await call('GET', `/bucket/${created.body.id}`)).body.status;
      if (status === 'VALID') return { id: created.body.id, store };
      await sleep(100);
    }
    throw new Error(`bucket ${created.body.id} was not validated`);
  }

  function seeds(count: number, prefix: string, options: { size?: number; extension?: string } = {}): Seed[] {
    return Array.from({ length: count }, (_, index) => ({
      key: `${prefix}dir-${index % 3}/object-${String(index).padStart(3, '0')}${options.extension ?? '.txt'}`,
      body: randomBytes(options.size ?? 100 + index * 37),
      contentType: index % 2 ? 'application/octet-stream' : 'text/plain',
      metadata: { origin: 'seed', index: String(index) },
    }));
  }

  async function put(store: ObjectStore, objects: Seed[]): Promise<void> {
    for (const object of objects)
      await store.put(object.key, object.body, {
        contentLength: object.body.length,
        contentType: object.contentType,
        metadata: object.metadata,
      });
  }

  /** Every object of the store, byte for byte, with its content type and metadata. */
  async function snapshot(store: ObjectStore): Promise<Map<string, StoredObject>> {
    const objects = new Map<string, StoredObject>();
    let token: string | undefined;
    do {
      const page = await store.list({ continuationToken: token });
      for (const { key } of page.objects) {
        const { info, body } = await store.get(key);
        const bytes = Buffer.concat(await Readable.from(body).toArray());
        objects.set(key, {
          body: bytes.toString('base64'),
          size: bytes.length,
          contentType: info.contentType,
          metadata: info.metadata ?? {},
        });
      }
      token = page.nextContinuationToken;
    } while (token);
    return objects;
  }

  async function expectCopied(store: ObjectStore, objects: Seed[], from: string, to: string) {
    const stored = await snapshot(store);
    for (const seed of objects) {
      const copied = stored.get(to + seed.key.slice(from.length));
      expect(copied, seed.key).toBeDefined();
      expect(copied?.body, seed.key).toBe(seed.body.toString('base64'));
      expect(copied?.contentType, seed.key).toBe(seed.contentType);
      expect(copied?.metadata, seed.key).toMatchObject(seed.metadata);
    }
  }

  async function startMigration(body: Record<string, unknown>): Promise<string> {
    const started = await call('POST', '/jobs/migrations', body);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    return started.body.id;
  }

  // biome-ignore lint/suspicious/noExplicitAny: the job as the API returns it, read field by field
  async function waitFor(id: string, done: (job: any) => boolean, seconds = 60): Promise<any> {
    for (let attempt = 0; attempt < seconds * 5; attempt++) {
      const job = await call('GET', `/jobs/${id}`);
      expect(job.status).toBe(200);
      if (done(job.body)) return job.body;
      await sleep(200);
    }
    throw new Error(
      `job ${id} did not get there: ${JSON.stringify((await call('GET', `/jobs/${id}`)).body)}`,
    );
  }
  const finished = (id: string) => waitFor(id, (job) => job.status !== 'RUNNING');

  it('plans MinIO → Azurite in a dry run that writes nothing, then copies exactly that plan, verified', async () => {
    const source = await bucket('minio');
    const destination = await bucket('azure');
    const objects = seeds(14, 'src/');
    const inDestination = (seed: Seed) => `dst/${seed.key.slice('src/'.length)}`;
    const sizeOf = (some: Seed[]) => some.reduce((sum, seed) => sum + seed.body.length, 0);
    // Older than the source and different: copied over.
    const stale = objects[3]!;
    await destination.store.put(inDestination(stale), Buffer.from('stale'), { contentLength: 5 });
    await destination.store.put('other/unrelated.txt', Buffer.from('not in the plan'), { contentLength: 15 });
    await sleep(1100);
    await put(source.store, objects);
    await sleep(1100);
    // Written after the source: the same bytes are identical (skipped), others a conflict (left alone).
    const identical = objects.slice(0, 3);
    await put(
      destination.store,
      identical.map((seed) => ({ ...seed, key: inDestination(seed) })),
    );
    const conflicting = objects[4]!;
    await destination.store.put(inDestination(conflicting), Buffer.from('edited at the destination'), {
      contentLength: 25,
    });
    const before = { source: await snapshot(source.store), destination: await snapshot(destination.store) };
    const input = {
      sourceBucketId: source.id,
      sourcePrefix: 'src/',
      destinationBucketId: destination.id,
      destinationPrefix: 'dst/',
    };

    const dryRun = await finished(await startMigration(input));
    expect(dryRun.status).toBe('COMPLETED');
    expect(dryRun.state).toMatchObject({
      phase: 'DONE',
      dryRun: true,
      listed: { source: 14, destination: 5 },
    });
    const copied = objects.filter((seed) => !identical.includes(seed) && seed !== conflicting);
    const plan = dryRun.state.plan;
    expect(plan).toEqual({
      copy: { objects: 10, bytes: sizeOf(copied) },
      skip: { objects: 3, bytes: sizeOf(identical) },
      conflict: { objects: 1, bytes: conflicting.body.length },
      delete: { objects: 0, bytes: 0 },
      methods: { native: 0, streamed: 10 },
    });
    expect(dryRun.state.done).toEqual({ objects: 0, bytes: 0 });
    expect(await snapshot(source.store)).toEqual(before.source);
    expect(await snapshot(destination.store)).toEqual(before.destination);

    const real = await finished(await startMigration({ ...input, dryRun: false, concurrency: 4 }));
    expect(real.status).toBe('COMPLETED');
    expect(real.state).toMatchObject({
      phase: 'DONE',
      dryRun: false,
      plan,
      done: plan.copy,
      skipped: plan.skip,
      conflicts: plan.conflict,
      failed: { objects: 0, bytes: 0 },
      methods: { native: 0, streamed: 10 },
    });
    await expectCopied(destination.store, [...copied, ...identical], 'src/', 'dst/');
    const after = await snapshot(destination.store);
    expect(after.get(inDestination(conflicting))).toEqual(before.destination.get(inDestination(conflicting)));
    expect(after.get('other/unrelated.txt')).toEqual(before.destination.get('other/unrelated.txt'));
    expect(after.size).toBe(15);
    expect(await snapshot(source.store)).toEqual(before.source);
  });

  it('copies Azurite → fake-gcs-server, object by object', async () => {
    const source = await bucket('azure');
    const destination = await bucket('gcs');
    const objects = seeds(10, 'photos/');
    await put(source.store, objects);
    const job = await finished(
      await startMigration({
        sourceBucketId: source.id,
        sourcePrefix: 'photos/',
        destinationBucketId: destination.id,
        destinationPrefix: 'archive/photos/',
        dryRun: false,
      }),
    );
    expect(job.state).toMatchObject({
      phase: 'DONE',
      done: { objects: 10 },
      failed: { objects: 0 },
      methods: { streamed: 10, native: 0 },
    });
    await expectCopied(destination.store, objects, 'photos/', 'archive/photos/');
  });

  it('copies MinIO → MinIO natively, with include and exclude patterns', async () => {
    const source = await bucket('minio');
    const destination = await bucket('minio');
    const texts = seeds(8, 'logs/');
    const binaries = seeds(4, 'logs/', { extension: '.bin' });
    await put(source.store, [...texts, ...binaries]);
    const job = await finished(
      await startMigration({
        sourceBucketId: source.id,
        sourcePrefix: 'logs/',
        destinationBucketId: destination.id,
        destinationPrefix: 'logs/',
        dryRun: false,
        include: ['**/*.txt', '*.bin'],
        exclude: ['dir-1/**'],
      }),
    );
    const taken = [...texts, ...binaries].filter((seed) => !seed.key.includes('dir-1/'));
    expect(job.state).toMatchObject({
      phase: 'DONE',
      done: { objects: taken.length },
      methods: { native: taken.length, streamed: 0 },
    });
    await expectCopied(destination.store, taken, 'logs/', 'logs/');
    expect([...(await snapshot(destination.store)).keys()].some((key) => key.includes('dir-1/'))).toBe(false);
  });

  it('moves: each source object is deleted once its copy is verified', async () => {
    const source = await bucket('minio');
    const destination = await bucket('azure');
    const objects = seeds(9, '');
    await put(source.store, objects);
    const job = await finished(
      await startMigration({
        sourceBucketId: source.id,
        destinationBucketId: destination.id,
        destinationPrefix: 'moved/',
        mode: 'move',
        dryRun: false,
      }),
    );
    expect(job.state).toMatchObject({ phase: 'DONE', done: { objects: 9 }, sourcesDeleted: 9 });
    await expectCopied(destination.store, objects, '', 'moved/');
    expect((await snapshot(source.store)).size).toBe(0);
  });

  it('syncs: deletes destination objects the source lacks, and refuses beyond maxDeletes', async () => {
    const source = await bucket('gcs');
    const destination = await bucket('minio');
    const objects = seeds(6, 'site/');
    await put(source.store, objects);
    const extra = seeds(4, 'site/old-', { size: 10 });
    await put(destination.store, extra);
    const input = {
      sourceBucketId: source.id,
      sourcePrefix: 'site/',
      destinationBucketId: destination.id,
      destinationPrefix: 'site/',
      mode: 'sync',
      dryRun: false,
    };
    const before = await snapshot(destination.store);

    const refused = await finished(await startMigration({ ...input, maxDeletes: 3 }));
    expect(refused.status).toBe('FAILED');
    expect(refused.state).toMatchObject({
      phase: 'FAILED',
      failureReason: expect.stringMatching(/MaxDeletesExceeded: sync would delete 4 .*maxDeletes \(3\)/),
      plan: { delete: { objects: 4 } },
    });
    expect(await snapshot(destination.store)).toEqual(before);

    const synced = await finished(await startMigration({ ...input, maxDeletes: 4 }));
    expect(synced.state).toMatchObject({ phase: 'DONE', done: { objects: 6 }, deleted: 4 });
    const after = await snapshot(destination.store);
    expect([...after.keys()].sort()).toEqual(objects.map((seed) => seed.key).sort());
    await expectCopied(destination.store, objects, 'site/', 'site/');
  });

  it('pauses, takes a new rate and concurrency, resumes and finishes', async () => {
    const source = await bucket('minio');
    const destination = await bucket('gcs');
    const objects = seeds(60, 'slow/', { size: 4096 });
    await put(source.store, objects);
    // 4 objects a second, 16 a batch: the first batch ends after about 4 s.
    const id = await startMigration({
      sourceBucketId: source.id,
      destinationBucketId: destination.id,
      dryRun: false,
      concurrency: 1,
      bytesPerSecond: 16_384,
    });
    await waitFor(id, (job) => job.state?.done?.objects > 0);
    const paused = await call('POST', `/jobs/${id}/pause`, { reason: 'maintenance window' });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body.state).toMatchObject({ phase: 'PAUSED', pausedReason: 'maintenance window' });
    // The batch in flight ends; then nothing moves while paused.
    let done = -1;
    for (;;) {
      await sleep(2000);
      const job = (await call('GET', `/jobs/${id}`)).body;
      expect(job).toMatchObject({ status: 'RUNNING', state: { phase: 'PAUSED' } });
      if (job.state.done.objects === done) break;
      done = job.state.done.objects;
    }
    expect(done).toBeLessThan(60);
    expect((await snapshot(destination.store)).size).toBe(done);

    const steered = await call('PATCH', `/jobs/${id}`, { concurrency: 8, bytesPerSecond: null });
    expect(steered.status, JSON.stringify(steered.body)).toBe(200);
    expect(steered.body.state).toMatchObject({ concurrency: 8, bytesPerSecond: null });
    expect((await call('PATCH', `/jobs/${id}`, { concurrency: 0 })).status).toBe(400);
    const resumed = await call('POST', `/jobs/${id}/resume`);
    expect(resumed.status).toBe(200);
    const job = await finished(id);
    expect(job.state).toMatchObject({ phase: 'DONE', done: { objects: 60 }, failed: { objects: 0 } });
    await expectCopied(destination.store, objects, '', '');
    expect((await call('POST', `/jobs/${id}/resume`)).status).toBe(409);
  });

  it('cancels: the batch in flight ends, nothing after it starts, and the job reports', async () => {
    const source = await bucket('minio');
    const destination = await bucket('azure');
    const objects = seeds(48, '', { size: 4096 });
    await put(source.store, objects);
    const id = await startMigration({
      sourceBucketId: source.id,
      destinationBucketId: destination.id,
      dryRun: false,
      concurrency: 1,
      bytesPerSecond: 16_384,
    });
    await waitFor(id, (job) => job.state?.done?.objects > 0);
    const cancelled = await call('POST', `/jobs/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    const job = await finished(id);
    expect(job.status).toBe('COMPLETED');
    expect(job.state.phase).toBe('CANCELLED');
    expect(job.state.done.objects).toBeLessThan(48);
    expect((await snapshot(destination.store)).size).toBe(job.state.done.objects);
    expect((await call('POST', `/jobs/${id}/pause`, {})).status).toBe(409);
  });

  it('refuses buckets of another organization, overlapping prefixes, and steering other jobs', async () => {
    const own = await bucket('minio');
    const outsider = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: {
        email: `outsider-${Date.now()}@other.test`,
        password: 'password-123',
        organizationName: 'Other',
      },
    });
    const foreign = await api(stack.baseUrl, 'POST', '/jobs/migrations', {
      token: outsider.body.token,
      body: { sourceBucketId: own.id, destinationBucketId: own.id, destinationPrefix: 'x/' },
    });
    expect(foreign.status).toBe(404);
    const overlapping = await call('POST', '/jobs/migrations', {
      sourceBucketId: own.id,
      sourcePrefix: 'a/',
      destinationBucketId: own.id,
      destinationPrefix: 'a/b/',
    });
    expect(overlapping.status).toBe(400);
    const ping = await call('POST', '/jobs/ping', {});
    expect((await call('POST', `/jobs/${ping.body.id}/pause`, {})).status).toBe(409);
    expect((await call('PATCH', `/jobs/${ping.body.id}`, { concurrency: 2 })).status).toBe(409);
  });

  it('continues as new when a run has had its batches, keeping totals', async () => {
    const source = await bucket('azure');
    const destination = await bucket('minio');
    const objects = seeds(40, '', { size: 64 });
    await put(source.store, objects);
    const job = await finished(
      await startMigration({
        sourceBucketId: source.id,
        destinationBucketId: destination.id,
        dryRun: false,
        concurrency: 1,
        batchesPerRun: 1,
      }),
    );
    expect(job.state).toMatchObject({ phase: 'DONE', done: { objects: 40 }, planned: { objects: 40 } });
    expect(job.state.runs).toBeGreaterThan(2);
    await expectCopied(destination.store, objects, '', '');
  });
});
