/**
 * JOB-2 through the API against the emulators: dry runs that write nothing
 * and plan what the real run then does, cross-provider copies verified
 * object by object, native copies inside one MinIO, move, sync with its
 * delete guard, steering (pause, resume, cancel, rate), and pausing itself
 * on the destination's storage cap.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';
import { migrationKit, type Seed } from '../helpers/migration-kit.ts';

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

  const { bucket, seeds, put, snapshot, expectCopied, startMigration, waitFor, finished } =
    migrationKit(call);

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
      estimate: expect.any(Object),
    });
    // core/pricing's example figures: S3-compatible egress $0.01/GB, Azure writes $0.0065 per 1,000.
    const egressUsd = (sizeOf(copied) / 1e9) * 0.01;
    expect(plan.estimate).toEqual({
      egressBytes: sizeOf(copied),
      egressUsd: Math.round(egressUsd * 10_000) / 10_000,
      requests: 10,
      requestsUsd: 0.0001,
      totalUsd: Math.round((egressUsd + 0.000065) * 10_000) / 10_000,
      prices: 'default',
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
      plan: { estimate: { egressBytes: 0, egressUsd: 0 } },
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

  it("pauses itself on the destination's storage cap, says why, and finishes once the cap is raised and it is resumed", async () => {
    const source = await bucket('minio');
    const destination = await bucket('azure');
    const objects = seeds(12, 'capped/', { size: 4096 });
    await put(source.store, objects);
    const capped = await call('PUT', `/bucket/${destination.id}`, { storageCapBytes: 5 * 4096 - 1 });
    expect(capped.status, JSON.stringify(capped.body)).toBe(200);
    const id = await startMigration({
      sourceBucketId: source.id,
      destinationBucketId: destination.id,
      dryRun: false,
      concurrency: 1,
    });
    // Four objects fit; the fifth meets QUOTA_EXCEEDED, backs off (2 + 4 + 8 + 16 s), then the job pauses itself.
    const paused = await waitFor(id, (job) => job.state?.phase === 'PAUSED', 120);
    expect(paused.state.pausedReason).toMatch(/QuotaExceeded from the destination: .*storage cap.*resume/);
    expect(paused.state.done.objects).toBe(4);
    expect((await snapshot(destination.store)).size).toBe(4);
    const description = await stack.temporal.workflow.getHandle(id).describe();
    expect(description.searchAttributes.SkybridgeStatus).toEqual(['PAUSED']);
    const audit = await call('GET', `/audit?action=job.migration.paused&targetId=${id}`);
    expect(audit.body.events).toHaveLength(1);
    expect(audit.body.events[0]).toMatchObject({
      actor: { userId: null, email: null },
      outcome: 'FAILURE',
      target: { type: 'job', id, workspaceId: expect.any(String) },
      details: { reason: expect.stringContaining('storage cap') },
    });

    expect((await call('PUT', `/bucket/${destination.id}`, { storageCapBytes: 1024 ** 2 })).status).toBe(200);
    expect((await call('POST', `/jobs/${id}/resume`)).status).toBe(200);
    const job = await finished(id);
    expect(job.state).toMatchObject({ phase: 'DONE', done: { objects: 12 }, failed: { objects: 0 } });
    await expectCopied(destination.store, objects, '', '');
    const completed = await call('GET', `/audit?action=job.migration.completed&targetId=${id}`);
    expect(completed.body.events[0]?.details).toMatchObject({ done: { objects: 12 }, retried: 0 });
  });

  it('lists migrations newest first, by bucket and status, for the caller organization only, once per continued job', async () => {
    const source = await bucket('minio');
    const destination = await bucket('minio');
    await put(source.store, seeds(3, 'listed/'));
    const first = await startMigration({ sourceBucketId: source.id, destinationBucketId: destination.id });
    await finished(first);
    const second = await startMigration({
      sourceBucketId: source.id,
      destinationBucketId: destination.id,
      dryRun: false,
      batchesPerRun: 1,
      concurrency: 1,
    });
    await finished(second);
    // Visibility is updated a moment after the job's own state.
    let listed: { id: string; status: string; bucketIds: string[] }[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      listed = (await call('GET', `/jobs/migrations?bucketId=${destination.id}`)).body.jobs;
      if (listed.length === 2 && listed.every((job) => job.status === 'COMPLETED')) break;
      await sleep(200);
    }
    expect(listed.map((job) => job.id)).toEqual([second, first]);
    expect(listed[0]).toMatchObject({
      kind: 'migration',
      status: 'COMPLETED',
      bucketIds: [source.id, destination.id],
      workspaceId: expect.any(String),
      closedAt: expect.any(String),
    });
    expect(
      (await call('GET', `/jobs/migrations?bucketId=${destination.id}&status=PAUSED`)).body.jobs,
    ).toEqual([]);
    expect((await call('GET', `/jobs/migrations?bucketId=${destination.id}&limit=1`)).body.jobs).toHaveLength(
      1,
    );
    expect((await call('GET', '/jobs/migrations?status=SLEEPING')).status).toBe(400);
    expect((await call('GET', "/jobs/migrations?bucketId=x' OR 1=1")).status).toBe(400);
    const outsider = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: { email: `lister-${Date.now()}@other.test`, password: 'password-123', organizationName: 'Else' },
    });
    const foreign = await api(stack.baseUrl, 'GET', `/jobs/migrations?bucketId=${destination.id}`, {
      token: outsider.body.token,
    });
    expect(foreign.status).toBe(200);
    expect(foreign.body.jobs).toEqual([]);
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
        // One claim per batch: 16 objects at concurrency 1.
        batchSeconds: 0,
      }),
    );
    expect(job.state).toMatchObject({ phase: 'DONE', done: { objects: 40 }, planned: { objects: 40 } });
    expect(job.state.runs).toBeGreaterThan(2);
    await expectCopied(destination.store, objects, '', '');
  });
});
