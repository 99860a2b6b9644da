/**
 * JOB-2's crash safety: the worker process is killed with SIGKILL at three
 * random points of a 2,000-object MinIO → Azurite migration and started
 * again each time. The job completes, the destination equals the source
 * byte for byte, and the objects copied again are reported and bounded by
 * one batch per crash.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationBatchSize } from '../../workflows/definitions.ts';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';
import { migrationKit, type Seed } from '../helpers/migration-kit.ts';
import { type ProjectProcess, startWorkerProcess } from '../helpers/processes.ts';

const OBJECTS = 2000;
const CONCURRENCY = 4;
/** What one crash may make the job copy again. */
const BATCH = migrationBatchSize(CONCURRENCY);

describe('migration crash safety', () => {
  let stack: TestStack;
  let token: string;
  let worker: ProjectProcess | undefined;
  const call = (method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });
  const { bucket, seeds, snapshot, startMigration } = migrationKit(call);

  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
    worker = await startWorkerProcess(stack);
    token = await login(stack.baseUrl, stack.admin);
  }, 180_000);
  afterAll(async () => {
    await worker?.stop();
    await stack?.close();
  });

  /** Copies done so far, read from the manifest (queries need a live worker; this does not). */
  async function copiedSoFar(jobId: string): Promise<number> {
    const [row] = await stack.orm.em
      .fork()
      .getConnection()
      .execute<{ done: number }[]>(
        `select count(*)::int as done from migration_items where job_id = ? and action = 'copy' and state = 'done'`,
        [jobId],
      );
    return row?.done ?? 0;
  }

  /**
   * The job once it has ended. Right after a restart a query can fail for a
   * few seconds (the workflow is still bound to the dead worker's sticky
   * queue), which the API answers with an error: those polls are skipped.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the job as the API returns it, read field by field
  async function finishedDespiteRestarts(jobId: string): Promise<any> {
    for (let attempt = 0; attempt < 1500; attempt++) {
      const job = await call('GET', `/jobs/${jobId}`);
      if (job.status === 200 && job.body.status !== 'RUNNING') return job.body;
      await sleep(200);
    }
    throw new Error(`job ${jobId} did not end in 5 minutes`);
  }

  /** Three distinct points of the copy phase, at least a few batches apart. */
  function crashPoints(): number[] {
    const points = new Set<number>();
    while (points.size < 3) points.add(randomInt(5, (OBJECTS - 200) / 100) * 100);
    return [...points].sort((a, b) => a - b);
  }

  it('survives three SIGKILLs of the worker: nothing lost, re-copies bounded by one batch per crash', async () => {
    const source = await bucket('minio');
    const destination = await bucket('azure');
    const objects: Seed[] = seeds(OBJECTS, 'data/', { size: 64 }).map((seed, index) => ({
      ...seed,
      body: randomBytes(64 + (index % 50) * 40),
    }));
    for (let next = 0; next < objects.length; next += 50)
      await Promise.all(
        objects.slice(next, next + 50).map((seed) =>
          source.store.put(seed.key, seed.body, {
            contentLength: seed.body.length,
            contentType: seed.contentType,
            metadata: seed.metadata,
          }),
        ),
      );

    const id = await startMigration({
      sourceBucketId: source.id,
      destinationBucketId: destination.id,
      dryRun: false,
      concurrency: CONCURRENCY,
      // Slow enough that the crash points are reached one at a time, not skipped over.
      bytesPerSecond: 400_000,
    });
    const points = crashPoints();
    const crashes: { at: number; copiedWhenKilled: number }[] = [];
    for (const point of points) {
      for (let waited = 0; (await copiedSoFar(id)) < point; waited++) {
        if (waited > 3000) throw new Error(`the job never reached ${point} copies`);
        await sleep(20);
      }
      await worker?.kill9();
      crashes.push({ at: point, copiedWhenKilled: await copiedSoFar(id) });
      worker = await startWorkerProcess(stack);
    }
    const job = await finishedDespiteRestarts(id);
    expect(job.state, JSON.stringify({ crashes, state: job.state })).toMatchObject({
      phase: 'DONE',
      done: { objects: OBJECTS },
      failed: { objects: 0 },
      planned: { objects: OBJECTS },
    });
    expect(crashes.every((crash) => crash.copiedWhenKilled < OBJECTS)).toBe(true);
    // Killed mid-batch, a batch is taken again by the retried activity: some objects are claimed twice, never more than a batch a crash.
    expect(job.state.retried).toBeGreaterThan(0);
    expect(job.state.retried).toBeLessThanOrEqual(crashes.length * BATCH);
    console.info(
      `crash points ${JSON.stringify(crashes)}; retried ${job.state.retried} of at most ${crashes.length * BATCH}`,
    );

    const copied = await snapshot(destination.store);
    const original = await snapshot(source.store);
    expect(copied.size).toBe(OBJECTS);
    for (const [key, object] of original) expect(copied.get(key)?.body, key).toBe(object.body);
  }, 600_000);
});
