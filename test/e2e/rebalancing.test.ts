/**
 * JOB-6 through the API, against the real Temporal dev server, MinIO and the
 * fake OpenAI server: plans proposed from caps and seeded usage, waiting for
 * approval, moving objects once approved, doing nothing when rejected or
 * expired; the AI agent's valid review applied and its broken one ignored;
 * auto-approval; the schedule; roles, tenancy and bad bodies.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ScheduleNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../core/auth/passwords.ts';
import { Membership, UsageEvent, User } from '../../core/db/entities/index.ts';
import { rollUpUsage } from '../../core/stats/rollup.ts';
import { createObjectStore, type ObjectStore } from '../../providers/storage/index.ts';
import { rebalanceScheduleId } from '../../workflows/definitions.ts';
import { type FakeProvider, startFakeProvider } from '../fakes/index.ts';
import { api, login, services, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration, uniqueBucketName } from '../helpers/emulator-buckets.ts';

interface Registered {
  id: string;
  name: string;
  store: ObjectStore;
}

describe('agentic rebalancing', () => {
  let stack: TestStack;
  let token: string;
  let organizationId: string;
  let fakeAi: FakeProvider;
  const call = (method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });

  beforeAll(async () => {
    stack = await startTestStack();
    token = await login(stack.baseUrl, stack.admin);
    organizationId = (await call('GET', '/organization')).body.id;
    fakeAi = await startFakeProvider('OPENAI');
  });
  afterAll(async () => {
    await fakeAi?.close();
    await stack?.close();
  });

  const workspace = async () =>
    (await call('POST', '/workspace', { name: `ws-${randomUUID().slice(0, 8)}` })).body.id as string;

  async function bucket(workspaceId: string, caps: Record<string, number> = {}): Promise<Registered> {
    const registration = await minioBucketRegistration({
      name: uniqueBucketName('rb'),
      workspaceId,
      ...caps,
    });
    const created = await call('POST', '/bucket', registration);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { minio } = services();
    const store = await createObjectStore({
      provider: 'S3_COMPATIBLE',
      bucketName: String(registration.bucketName),
      endpoint: minio.endpoint,
      forcePathStyle: true,
      credentials: {
        kind: 'S3_ACCESS_KEY',
        accessKeyId: minio.accessKeyId,
        secretAccessKey: minio.secretAccessKey,
      },
    });
    for (let attempt = 0; attempt < 100; attempt++) {
      if ((await call('GET', `/bucket/${created.body.id}`)).body.status === 'VALID')
        return { id: created.body.id, name: created.body.name, store };
      await sleep(100);
    }
    throw new Error('the bucket was not validated');
  }

  async function put(store: ObjectStore, keys: string[], size: number): Promise<Map<string, string>> {
    const written = new Map<string, string>();
    for (const key of keys) {
      const body = randomBytes(size);
      await store.put(key, body, { contentLength: size });
      written.set(key, body.toString('base64'));
    }
    return written;
  }

  async function contents(store: ObjectStore): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const page = await store.list({});
    for (const { key } of page.objects) {
      const { body } = await store.get(key);
      found.set(key, Buffer.concat(await Readable.from(body).toArray()).toString('base64'));
    }
    return found;
  }

  /** A workspace with one bucket at 80% of its 10 kB storage cap (big/ 6 kB, small/ 2 kB) and an empty one. */
  async function nearCapWorkspace() {
    const workspaceId = await workspace();
    const full = await bucket(workspaceId, { storageCapBytes: 10_000 });
    const roomy = await bucket(workspaceId);
    const big = await put(full.store, ['big/a', 'big/b', 'big/c'], 2000);
    const small = await put(full.store, ['small/a', 'small/b'], 1000);
    return { workspaceId, full, roomy, big, small };
  }

  async function start(body: Record<string, unknown>): Promise<string> {
    const started = await call('POST', '/jobs/rebalance', body);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    return started.body.id;
  }

  // biome-ignore lint/suspicious/noExplicitAny: the job's state is read field by field
  async function until(jobId: string, phases: string[]): Promise<any> {
    for (let attempt = 0; attempt < 300; attempt++) {
      const job = await call('GET', `/jobs/${jobId}`);
      if (job.status === 200 && phases.includes(job.body.state?.phase)) return job.body;
      await sleep(200);
    }
    throw new Error(`job ${jobId} never reached ${phases.join('/')}`);
  }

  async function auditOf(jobId: string) {
    const answer = await call('GET', `/audit?targetId=${jobId}`);
    return answer.body.events.map((event: { action: string }) => event.action) as string[];
  }

  it('proposes an explained plan, waits for approval, and moves the objects once approved', async () => {
    const { workspaceId, full, roomy, big, small } = await nearCapWorkspace();
    const id = await start({ workspaceId });
    const waiting = await until(id, ['WAITING_APPROVAL', 'DONE']);
    expect(waiting.kind).toBe('rebalance');
    expect(waiting.state.phase).toBe('WAITING_APPROVAL');
    const [move] = waiting.state.plan.moves;
    expect(waiting.state.plan.moves).toHaveLength(1);
    expect(move).toMatchObject({
      id: 'move-1',
      sourceBucketId: full.id,
      destinationBucketId: roomy.id,
      prefix: 'big/',
      reasons: ['NEAR_CAP'],
    });
    expect(move.figures.source.capUsePercent.storage).toBe(80);
    expect(move.figures.source.capUsePercentAfter.storage).toBe(20);
    expect(move.figures.bytes).toBe(6000);
    expect(move.figures.source.pricePerGbMonth).toBeGreaterThan(0);
    expect(move.explanation).toContain(`${full.name}/big/`);
    expect(waiting.state.expiresAt).toBeTruthy();
    // Nothing moves while the plan waits.
    expect([...(await contents(roomy.store)).keys()]).toEqual([]);

    const approved = await call('POST', `/jobs/${id}/approve`, { reason: 'looks right' });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.state.decision).toMatchObject({ reason: 'looks right' });
    const done = await until(id, ['DONE']);
    expect(done.state.runs).toEqual([
      expect.objectContaining({ moveId: 'move-1', outcome: 'DONE', movedObjects: 3, movedBytes: 6000 }),
    ]);
    expect(await contents(roomy.store)).toEqual(big);
    expect(await contents(full.store)).toEqual(small);
    const child = await call('GET', `/jobs/${done.state.runs[0].jobId}`);
    expect(child.body).toMatchObject({ kind: 'migration', state: { phase: 'DONE', mode: 'move' } });
    expect(await auditOf(id)).toEqual(
      expect.arrayContaining(['job.rebalance.start', 'job.rebalance.approve', 'job.rebalance.done']),
    );
    const again = await call('POST', `/jobs/${id}/reject`, {});
    expect(again.status).toBe(409);
  });

  it('does nothing when the plan is rejected', async () => {
    const { workspaceId, full, roomy, big, small } = await nearCapWorkspace();
    const id = await start({ workspaceId });
    await until(id, ['WAITING_APPROVAL']);
    expect((await call('POST', `/jobs/${id}/reject`, { reason: 'not now' })).status).toBe(200);
    const rejected = await until(id, ['REJECTED']);
    expect(rejected.state.runs).toEqual([]);
    expect(rejected.state.decision.reason).toBe('not now');
    expect(await contents(full.store)).toEqual(new Map([...big, ...small]));
    expect((await contents(roomy.store)).size).toBe(0);
    expect(await auditOf(id)).toEqual(
      expect.arrayContaining(['job.rebalance.reject', 'job.rebalance.rejected']),
    );
  });

  it('does nothing when the plan expires unapproved', async () => {
    const { workspaceId, full, roomy } = await nearCapWorkspace();
    const id = await start({ workspaceId, approvalTimeoutSeconds: 2 });
    const expired = await until(id, ['EXPIRED', 'DONE']);
    expect(expired.state.phase).toBe('EXPIRED');
    expect(expired.state.runs).toEqual([]);
    expect((await contents(full.store)).size).toBe(5);
    expect((await contents(roomy.store)).size).toBe(0);
    expect((await call('POST', `/jobs/${id}/approve`, {})).status).toBe(409);
    expect(await auditOf(id)).toContain('job.rebalance.expired');
  });

  it('approves a plan no larger than autoApproveBytes by itself', async () => {
    const { workspaceId, roomy, big } = await nearCapWorkspace();
    const id = await start({ workspaceId, autoApproveBytes: 6000 });
    const done = await until(id, ['DONE']);
    expect(done.state.decision.by).toBe('auto');
    expect(done.state.runs[0].outcome).toBe('DONE');
    expect(await contents(roomy.store)).toEqual(big);
  });

  /** A failing bucket (from seeded usage) with two prefixes, a healthy one, and an AI config of the workspace. */
  async function failingWorkspace() {
    const workspaceId = await workspace();
    const failing = await bucket(workspaceId);
    const healthy = await bucket(workspaceId);
    await put(failing.store, ['alpha/1', 'alpha/2'], 3000);
    await put(failing.store, ['beta/1'], 1000);
    await seedUsage(failing.id, { requests: 40, failures: 10, latencyMs: 2500 });
    await seedUsage(healthy.id, { requests: 40, failures: 0, latencyMs: 30 });
    const config = await call('POST', '/ai/llm', {
      workspaceId,
      name: `agent-${randomUUID().slice(0, 8)}`,
      type: 'OPENAI',
      apiEndpoint: fakeAi.baseUrl,
      ...fakeAi.credentials,
    });
    expect(config.status, JSON.stringify(config.body)).toBe(201);
    return { workspaceId, failing, healthy, agent: { aiConfigId: config.body.id, model: 'gpt-4o' } };
  }

  async function seedUsage(
    bucketId: string,
    figures: { requests: number; failures: number; latencyMs: number },
  ) {
    const em = stack.orm.em.fork();
    for (let index = 0; index < figures.requests; index++)
      em.create(UsageEvent, {
        occurredAt: new Date(Date.now() - index * 1000),
        api: 'S3',
        organizationId,
        repositoryId: randomUUID(),
        bucketId,
        operation: 'GetObject',
        status: index < figures.failures ? 503 : 200,
        bytesIn: 0,
        bytesOut: 100,
        latencyMs: figures.latencyMs,
      });
    await em.flush();
    // The planner reads the per-minute aggregates, as the worker's schedule keeps them.
    await rollUpUsage(stack.orm.em, { rawRetentionDays: 7, minuteRetentionDays: 30, settleSeconds: 60 });
  }

  it('plans from seeded usage, and applies a valid reorder and veto from the AI agent', async () => {
    const { workspaceId, failing, healthy, agent } = await failingWorkspace();
    fakeAi.script({
      kind: 'reply',
      reply: {
        text: JSON.stringify({
          order: ['move-2'],
          vetoes: [{ id: 'move-1', reason: 'alpha/ is being written' }],
        }),
      },
    });
    const id = await start({ workspaceId, agent });
    const waiting = await until(id, ['WAITING_APPROVAL']);
    const moves = waiting.state.plan.moves;
    expect(moves.map((move: { prefix: string }) => move.prefix)).toEqual(['alpha/', 'beta/']);
    expect(moves[0]).toMatchObject({ sourceBucketId: failing.id, destinationBucketId: healthy.id });
    expect(moves[0].reasons).toEqual(['FAILING', 'SLOW']);
    expect(moves[0].figures.source).toMatchObject({ errorRate: 0.25, p95LatencyMs: 2500 });
    expect(moves[0].figures.destination).toMatchObject({ errorRate: 0, p95LatencyMs: 30 });
    expect(waiting.state.agent).toMatchObject({
      applied: true,
      vetoes: [{ id: 'move-1', reason: 'alpha/ is being written' }],
      order: ['move-2'],
    });
    expect(waiting.state.toRun).toEqual(['move-2']);
    expect(waiting.state.bytesToMove).toBe(1000);
    const asked = fakeAi.requests.at(-1);
    expect(asked?.path).toBe('/v1/chat/completions');
    expect(String(asked?.body)).toContain('alpha/');

    await call('POST', `/jobs/${id}/approve`, {});
    const done = await until(id, ['DONE']);
    expect(
      done.state.runs.map((run: { moveId: string; outcome: string }) => [run.moveId, run.outcome]),
    ).toEqual([['move-2', 'DONE']]);
    expect([...(await contents(healthy.store)).keys()]).toEqual(['beta/1']);
    expect([...(await contents(failing.store)).keys()].sort()).toEqual(['alpha/1', 'alpha/2']);
  });

  it('ignores agent output that breaks the schema, records why, and keeps the deterministic plan', async () => {
    const { workspaceId, agent } = await failingWorkspace();
    fakeAi.script({
      kind: 'reply',
      reply: { text: JSON.stringify({ order: ['move-2'], vetoes: [], extraMoves: [{ prefix: 'gamma/' }] }) },
    });
    const id = await start({ workspaceId, agent });
    const waiting = await until(id, ['WAITING_APPROVAL']);
    expect(waiting.state.agent.applied).toBe(false);
    expect(waiting.state.agent.ignoredReason).toContain('breaks the schema');
    expect(waiting.state.toRun).toEqual(['move-1', 'move-2']);
    expect((await call('POST', `/jobs/${id}/reject`, {})).status).toBe(200);
    await until(id, ['REJECTED']);
  });

  it('keeps the plan when the agent fails, recording the reason', async () => {
    const { workspaceId, agent } = await failingWorkspace();
    fakeAi.script({ kind: 'error', status: 500 });
    const id = await start({ workspaceId, agent });
    const waiting = await until(id, ['WAITING_APPROVAL']);
    expect(waiting.state.agent).toMatchObject({ applied: false });
    expect(waiting.state.agent.ignoredReason).toContain('could not be asked');
    expect(waiting.state.toRun).toEqual(['move-1', 'move-2']);
    await call('POST', `/jobs/${id}/reject`, {});
  });

  it('creates, changes, runs and deletes the schedule, visible through the Temporal client', async () => {
    const workspaceId = await workspace();
    const created = await call('PUT', '/jobs/rebalance/schedule', { workspaceId, intervalMinutes: 60 });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const handle = stack.temporal.schedule.getHandle(rebalanceScheduleId(workspaceId));
    let description = await handle.describe();
    expect(description.spec.intervals?.[0]?.every).toBe(3_600_000);
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'rebalanceWorkflow' });

    const changed = await call('PUT', '/jobs/rebalance/schedule', {
      workspaceId,
      intervalMinutes: 30,
      autoApproveBytes: 5,
    });
    expect(changed.status).toBe(200);
    description = await handle.describe();
    expect(description.spec.intervals?.[0]?.every).toBe(1_800_000);
    const read = await call('GET', `/jobs/rebalance/schedule/${workspaceId}`);
    expect(read.body).toMatchObject({ intervalMinutes: 30, settings: { workspaceId, autoApproveBytes: 5 } });

    // A scheduled run is a job like any other: listed, and readable by its id.
    await handle.trigger();
    let runId: string | undefined;
    for (let attempt = 0; attempt < 100 && !runId; attempt++) {
      const listed = await call('GET', `/jobs/rebalance?workspaceId=${workspaceId}`);
      runId = listed.body.find((plan: { id: string }) => plan.id.startsWith(`rebalance-${workspaceId}-`))?.id;
      if (!runId) await sleep(200);
    }
    expect(runId).toBeDefined();
    const run = await until(runId as string, ['DONE']);
    expect(run.state.plan.moves).toEqual([]);

    expect((await call('DELETE', `/jobs/rebalance/schedule/${workspaceId}`)).status).toBe(204);
    await expect(handle.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    expect((await call('DELETE', `/jobs/rebalance/schedule/${workspaceId}`)).status).toBe(404);
  });

  it('answers 400 to bad bodies, 403 to non-admins, 404 across organizations and 409 to other kinds of job', async () => {
    for (const body of [
      { autoApproveBytes: -1 },
      { approvalTimeoutSeconds: 0 },
      { surprise: true },
      { thresholds: { capUsePercent: 50, targetCapUsePercent: 60 } },
      { agent: { aiConfigId: 'not-a-uuid', model: 'gpt-4o' } },
    ]) {
      const answer = await call('POST', '/jobs/rebalance', body);
      expect({ body, status: answer.status, code: answer.body.code }).toEqual({
        body,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
    expect((await call('PUT', '/jobs/rebalance/schedule', { intervalMinutes: 0 })).status).toBe(400);
    expect(
      (await call('POST', '/jobs/rebalance', { agent: { aiConfigId: randomUUID(), model: 'm' } })).status,
    ).toBe(404);

    const { workspaceId } = await nearCapWorkspace();
    const id = await start({ workspaceId });
    await until(id, ['WAITING_APPROVAL']);

    const em = stack.orm.em.fork();
    const email = `member-${randomUUID().slice(0, 8)}@example.test`;
    const member = em.create(User, { email, passwordHash: await hashPassword('password-123') });
    em.create(Membership, { user: member, organization: organizationId, role: 'MEMBER' });
    await em.flush();
    const memberToken = await login(stack.baseUrl, { email, password: 'password-123' });
    for (const [method, path, body] of [
      ['POST', '/jobs/rebalance', { workspaceId }],
      ['POST', `/jobs/${id}/approve`, {}],
      ['POST', `/jobs/${id}/reject`, {}],
      ['PUT', '/jobs/rebalance/schedule', { workspaceId }],
    ] as const) {
      const answer = await api(stack.baseUrl, method, path, { token: memberToken, body });
      expect({ path, status: answer.status, code: answer.body.code }).toEqual({
        path,
        status: 403,
        code: 'FORBIDDEN',
      });
    }
    expect((await api(stack.baseUrl, 'GET', `/jobs/${id}`, { token: memberToken })).status).toBe(200);

    const outsider = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: {
        email: `outsider-${randomUUID().slice(0, 8)}@other.test`,
        password: 'password-123',
        organizationName: 'Other',
      },
    });
    const outsiderCall = (method: string, path: string, body?: unknown) =>
      api(stack.baseUrl, method, path, { token: outsider.body.token, body });
    expect((await outsiderCall('POST', `/jobs/${id}/approve`, {})).status).toBe(404);
    expect((await outsiderCall('GET', `/jobs/${id}`)).status).toBe(404);
    expect((await outsiderCall('GET', '/jobs/rebalance')).body).toEqual([]);
    expect((await outsiderCall('PUT', '/jobs/rebalance/schedule', { workspaceId })).status).toBe(404);

    const ping = await call('POST', '/jobs/ping', {});
    expect((await call('POST', `/jobs/${ping.body.id}/approve`, {})).status).toBe(409);
    const listed = await call('GET', `/jobs/rebalance?workspaceId=${workspaceId}`);
    expect(listed.body.map((plan: { id: string }) => plan.id)).toContain(id);
    await call('POST', `/jobs/${id}/reject`, {});
  });
});
