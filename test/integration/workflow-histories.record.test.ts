/**
 * Records the histories that workflow-replay.test.ts replays:
 * `npm run test:record-histories` (skipped otherwise). It drives every kind
 * of job through the API, down its main paths, and writes each run's history
 * to test/fixtures/workflow-histories/. Re-record only when a change to a
 * workflow is meant to break replay (and no job of the old shape can still
 * be running anywhere), otherwise use `patched()`.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../scripts/tools.ts';
import { searchAttributes } from '../../workflows/definitions.ts';
import { api, login, services, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration } from '../helpers/emulator-buckets.ts';
import { migrationKit } from '../helpers/migration-kit.ts';

export const historiesDirectory = path.join(projectRoot, 'test', 'fixtures', 'workflow-histories');

describe.runIf(process.env.RECORD_WORKFLOW_HISTORIES === '1')('recording workflow histories', () => {
  let stack: TestStack;
  let token: string;
  const call = (method: string, route: string, body?: unknown) =>
    api(stack.baseUrl, method, route, { token, body });
  const kit = migrationKit(call);

  beforeAll(async () => {
    stack = await startTestStack();
    token = await login(stack.baseUrl, stack.admin);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const waitForState = async (id: string, done: (state: { phase?: string }) => boolean) => {
    for (let attempt = 0; attempt < 600; attempt++) {
      const job = await call('GET', `/jobs/${id}`);
      if (job.status === 200 && (job.body.status !== 'RUNNING' || done(job.body.state ?? {})))
        return job.body;
      await sleep(200);
    }
    throw new Error(`job ${id} did not get there`);
  };

  async function pingJob() {
    const started = await call('POST', '/jobs/ping', { message: 'recorded' });
    await waitForState(started.body.id, () => false);
  }

  async function keyAndCredentialRotations() {
    const bucket = await call('POST', '/bucket', await minioBucketRegistration({ name: 'recorded' }));
    const repoId = (await call('POST', '/repo', { name: 'recorded', bucketIds: [bucket.body.id] })).body.id;
    const storageKey = (await call('POST', `/repo/${repoId}/apikey`, { name: 'app', scope: 'READ' })).body;
    const storage = await call('POST', `/repo/${repoId}/apikey/${storageKey.id}/rotate`, {
      graceSeconds: 600,
    });
    await sleep(500);
    await call('PATCH', `/jobs/${storage.body.jobId}`, { graceSeconds: 0 });
    await waitForState(storage.body.jobId, () => false);
    const aiKey = (await call('POST', `/repo/${repoId}/ai/apikey`, { name: 'chat' })).body;
    const ai = await call('POST', `/repo/${repoId}/ai/apikey/${aiKey.id}/rotate`, { graceSeconds: 1 });
    await waitForState(ai.body.jobId, () => false);
    const { minio } = services();
    for (const secretAccessKey of ['not-the-secret', minio.secretAccessKey]) {
      const rotation = await call('POST', `/bucket/${bucket.body.id}/credentials/rotate`, {
        credentials: { type: 'ACCESS_KEY', accessKeyId: minio.accessKeyId, secretAccessKey },
      });
      expect(rotation.status, JSON.stringify(rotation.body)).toBe(202);
      await waitForState(rotation.body.jobId, () => false);
    }
  }

  async function migrations() {
    const source = await kit.bucket('minio');
    const destination = await kit.bucket('azure');
    await kit.put(source.store, kit.seeds(40, 'recorded/', { size: 2048 }));
    const pair = { sourceBucketId: source.id, destinationBucketId: destination.id };
    await kit.finished(await kit.startMigration(pair));
    // Steered: paused, re-rated, resumed, and continued as new after every batch.
    const steered = await kit.startMigration({
      ...pair,
      dryRun: false,
      concurrency: 1,
      bytesPerSecond: 8192,
      batchesPerRun: 1,
    });
    await kit.waitFor(steered, (job) => job.state?.done?.objects > 0);
    await call('POST', `/jobs/${steered}/pause`, { reason: 'recorded' });
    await call('PATCH', `/jobs/${steered}`, { concurrency: 4, bytesPerSecond: null });
    await call('POST', `/jobs/${steered}/resume`);
    await kit.finished(steered);
    const cancelled = await kit.startMigration({
      ...pair,
      destinationPrefix: 'again/',
      dryRun: false,
      concurrency: 1,
      bytesPerSecond: 4096,
    });
    await kit.waitFor(cancelled, (job) => job.state?.done?.objects > 0);
    await call('POST', `/jobs/${cancelled}/cancel`);
    await kit.finished(cancelled);
    // Paused by the destination's storage cap, then resumed once it is raised.
    const capped = await kit.bucket('gcs');
    await call('PUT', `/bucket/${capped.id}`, { storageCapBytes: 3 * 2048 });
    const quota = await kit.startMigration({ ...pair, destinationBucketId: capped.id, dryRun: false });
    await kit.waitFor(quota, (job) => job.state?.phase === 'PAUSED', 120);
    await call('PUT', `/bucket/${capped.id}`, { storageCapBytes: null });
    await call('POST', `/jobs/${quota}/resume`);
    await kit.finished(quota);
  }

  async function rebalancing() {
    for (const decision of ['approve', 'reject'] as const) {
      const workspaceId = (await call('POST', '/workspace', { name: `recorded-${decision}` })).body.id;
      const full = await kit.bucket('minio', { workspaceId, storageCapBytes: 10_000 });
      await kit.bucket('minio', { workspaceId });
      for (const key of ['big/a', 'big/b', 'big/c', 'small/a'])
        await full.store.put(key, Buffer.alloc(2000, 1), { contentLength: 2000 });
      const started = await call('POST', '/jobs/rebalance', { workspaceId });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      await waitForState(started.body.id, (state) => state.phase === 'WAITING_APPROVAL');
      await call('POST', `/jobs/${started.body.id}/${decision}`, { reason: 'recorded' });
      await waitForState(started.body.id, () => false);
    }
  }

  /** One run of a platform-wide job, labelled with the organization so the listing below finds it (scheduled runs have none). */
  async function platformJob(kind: string, workflowType: string, input: unknown) {
    const organizationId = (await call('GET', '/organization')).body.id;
    await stack.temporal.workflow.execute(workflowType, {
      workflowId: `${kind}-recorded-${Date.now()}`,
      taskQueue: stack.taskQueue,
      args: [input],
      typedSearchAttributes: [
        { key: searchAttributes.kind, value: kind },
        { key: searchAttributes.organization, value: organizationId },
        { key: searchAttributes.status, value: 'RUNNING' },
      ],
    });
  }

  it('drives every kind of job and writes each run of each one', async () => {
    await pingJob();
    await keyAndCredentialRotations();
    await migrations();
    await rebalancing();
    await platformJob('usage-rollup', 'rollupUsageWorkflow', {
      rawRetentionDays: 7,
      minuteRetentionDays: 30,
      settleSeconds: 0,
    });
    await platformJob('node-probe', 'probeNodesWorkflow', { timeoutMs: 5000, retentionDays: 8 });

    await rm(historiesDirectory, { recursive: true, force: true });
    await mkdir(historiesDirectory, { recursive: true });
    const organizationId = (await call('GET', '/organization')).body.id;
    await sleep(2000); // visibility catches up
    const written: string[] = [];
    const counts = new Map<string, number>();
    for await (const execution of stack.temporal.workflow.list({
      query: `${searchAttributes.organization.name} = '${organizationId}'`,
    })) {
      const kind = execution.typedSearchAttributes.get(searchAttributes.kind) ?? execution.type;
      const index = (counts.get(kind) ?? 0) + 1;
      counts.set(kind, index);
      const history = await stack.temporal.workflow
        .getHandle(execution.workflowId, execution.runId)
        .fetchHistory();
      // Binary protobuf: the SDK's JSON helpers trip over two protobufjs copies in the installed tree.
      const file = `${kind}-${String(index).padStart(2, '0')}.binpb`;
      await writeFile(
        path.join(historiesDirectory, file),
        proto.temporal.api.history.v1.History.encode(history).finish(),
      );
      written.push(file);
    }
    console.info(
      `recorded ${written.length} histories: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    );
    expect(written.length).toBeGreaterThan(10);
  }, 900_000);
});
