/**
 * JOB-5 and OBS-4 end to end: a real bridge process registers itself and
 * heartbeats; the probe workflow runs on the real Temporal dev server (run
 * directly and from its schedule), measures the node and two MinIO buckets,
 * one behind a proxy that is then closed; the failing bucket falls below its
 * SLA and loses reputation; /stats/nodes/minute shows the node's latency; a
 * killed node turns unavailable; the SLA endpoints check input, tenancy and
 * roles.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../core/auth/passwords.ts';
import { BridgeNode, Membership, User } from '../../core/db/entities/index.ts';
import { pruneProbeResults } from '../../core/nodes/probes.ts';
import { softwareVersion } from '../../core/nodes/registration.ts';
import { loadBucketReputations } from '../../core/sla/reputation.ts';
import { ensureNodeProbeSchedule } from '../../workers/node-probe-schedule.ts';
import type { NodeProbeInput, NodeProbeState } from '../../workflows/definitions.ts';
import {
  type ApiCall,
  adminApi,
  api,
  login,
  services,
  startTestStack,
  type TestStack,
} from '../helpers/context.ts';
import { minioBucketRegistration } from '../helpers/emulator-buckets.ts';
import { type ProjectProcess, startBridgeProcess } from '../helpers/processes.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

const probeInput: NodeProbeInput = { timeoutMs: 3000, retentionDays: 8 };
const nodeEnv = {
  BRIDGE_NODE_REGION: 'eu-central-1',
  BRIDGE_NODE_PROVIDER: 'gcp',
  BRIDGE_NODE_HEARTBEAT_SECONDS: '1',
  BRIDGE_PUBLIC_S3_URL: 'http://s3-eu-central-1-gcp.skybridge.test:9000',
};

describe('bridge nodes, probes, SLAs and reputation', () => {
  let stack: TestStack;
  let call: ApiCall;
  let outsider: ApiCall;
  let bridge: (ProjectProcess & { s3Url: string; openaiUrl: string }) | undefined;
  let proxy: TcpProxy;
  let healthyId: string;
  let flakyId: string;

  const runProbes = async () =>
    (await stack.temporal.workflow.execute('probeNodesWorkflow', {
      workflowId: `node-probe-${randomUUID()}`,
      taskQueue: stack.taskQueue,
      args: [probeInput],
    })) as NodeProbeState;

  const nodeRow = () => stack.orm.em.fork().findOneOrFail(BridgeNode, { label: 's3-eu-central-1-gcp' });

  async function registerValidBucket(registration: Record<string, unknown>): Promise<string> {
    const created = await call('POST', '/bucket', registration);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    for (let attempt = 0; attempt < 200; attempt++) {
      const bucket = await call('GET', `/bucket/${created.body.id}`);
      if (bucket.body.status === 'VALID') return created.body.id;
      if (bucket.body.status === 'INVALID') throw new Error(bucket.body.statusReason);
      await sleep(100);
    }
    throw new Error('the bucket was not validated');
  }

  async function userWithRole(role: 'MEMBER' | 'VIEWER'): Promise<ApiCall> {
    const em = stack.orm.em.fork();
    const organizationId = (await call('GET', '/organization')).body.id;
    const email = `${role.toLowerCase()}-${randomUUID()}@example.test`;
    const user = em.create(User, { email, passwordHash: await hashPassword('password-123') });
    em.create(Membership, { user, organization: organizationId, role });
    await em.flush();
    const token = await login(stack.baseUrl, { email, password: 'password-123' });
    return (method, path, body) => api(stack.baseUrl, method, path, { token, body });
  }

  beforeAll(async () => {
    stack = await startTestStack();
    call = await adminApi(stack);
    const minio = new URL(services().minio.endpoint);
    proxy = await startTcpProxy({ host: minio.hostname, port: Number(minio.port) });
    healthyId = await registerValidBucket(await minioBucketRegistration());
    flakyId = await registerValidBucket(await minioBucketRegistration({ endpoint: proxy.endpoint }));
    const signup = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: {
        email: `stranger-${randomUUID()}@other.test`,
        password: 'password-123',
        organizationName: 'Other',
      },
    });
    outsider = (method, path, body) => api(stack.baseUrl, method, path, { token: signup.body.token, body });
  });
  afterAll(async () => {
    await bridge?.stop();
    await proxy?.close();
    await stack?.close();
  });

  it('a bridge registers itself as `<api>-<region>-<provider>`, heartbeats, and takes its row back on restart', async () => {
    const first = await startBridgeProcess(stack, nodeEnv);
    const registered = await nodeRow();
    expect(registered).toMatchObject({
      api: 's3',
      region: 'eu-central-1',
      provider: 'gcp',
      address: nodeEnv.BRIDGE_PUBLIC_S3_URL,
      openaiAddress: `${first.openaiUrl}/v1`,
      healthUrl: `${first.openaiUrl}/healthz`,
      version: softwareVersion(),
      stoppedAt: null,
    });
    await sleep(2500);
    expect((await nodeRow()).lastSeenAt.getTime()).toBeGreaterThan(registered.lastSeenAt.getTime());
    await first.stop();
    expect((await nodeRow()).stoppedAt).toBeInstanceOf(Date);

    bridge = await startBridgeProcess(stack, nodeEnv);
    const again = await nodeRow();
    expect(again.id).toBe(registered.id);
    expect(again.stoppedAt).toBeNull();
    expect(again.healthUrl).toBe(`${bridge.openaiUrl}/healthz`);
    expect(await stack.orm.em.fork().count(BridgeNode, {})).toBe(1);
  });

  it('probes the node and every validated bucket on the worker, and stores the results', async () => {
    const state = await runProbes();
    expect(state).toMatchObject({
      phase: 'DONE',
      probes: { nodes: { probed: 1, failed: 0 }, buckets: { probed: 2, failed: 0 } },
      compliance: { nodes: 1, buckets: 2 },
    });
    const rows = await stack.orm.em
      .fork()
      .getConnection()
      .execute<{ target_kind: string; ok: boolean; latency_ms: number }[]>(
        'select target_kind, ok, latency_ms from probe_results',
      );
    expect(rows).toHaveLength(3);
    expect(rows.every((row) => row.ok && row.latency_ms >= 0)).toBe(true);
  });

  it('GET /stats/nodes/minute: the node with its latency, availability and reputation, to any organization', async () => {
    const answer = await outsider('GET', '/stats/nodes/minute');
    expect(answer.status).toBe(200);
    expect(answer.body.nodes).toHaveLength(1);
    const [node] = answer.body.nodes;
    expect(node).toMatchObject({
      label: 's3-eu-central-1-gcp',
      address: nodeEnv.BRIDGE_PUBLIC_S3_URL,
      version: softwareVersion(),
      status: 'RUNNING',
      availabilityPercent: 100,
      reputation: { score: 1, compliant: true },
    });
    expect(node.latencyMs).toBeGreaterThanOrEqual(0);
    expect(node.p95LatencyMs).toBeGreaterThanOrEqual(node.latencyMs);
    expect(node.minutes).toHaveLength(60);
    expect(
      node.minutes.filter((point: { available: boolean | null }) => point.available === true),
    ).toHaveLength(1);
    expect(JSON.stringify(answer.body)).not.toContain(healthyId);
  });

  it('a bucket whose backend stops answering falls below its SLA and below the healthy bucket in reputation', async () => {
    await proxy.refuse();
    const state = await runProbes();
    expect(state.probes?.buckets).toEqual({ probed: 2, failed: 1 });

    const flaky = await call('GET', `/bucket/${flakyId}/sla`);
    expect(flaky.status).toBe(200);
    expect(flaky.body.effective).toMatchObject({ availabilityPercent: 99, p95LatencyMs: 1000 });
    const hour = flaky.body.compliance.find((window: { window: string }) => window.window === '1h');
    expect(hour.availabilityPercent).toBeLessThan(99);
    expect(hour).toMatchObject({ compliant: false, probeFailures: 1 });
    const healthy = await call('GET', `/bucket/${healthyId}/sla`);
    expect(healthy.body.compliance.map((window: { compliant: boolean }) => window.compliant)).toEqual([
      true,
      true,
      true,
    ]);

    const reputations = await loadBucketReputations(stack.orm.em.fork(), [healthyId, flakyId]);
    expect(reputations.get(healthyId)?.score).toBe(1);
    expect(reputations.get(flakyId)?.score).toBeLessThan(reputations.get(healthyId)?.score ?? 0);
    expect(reputations.get(flakyId)?.compliant).toBe(false);

    const stats = await call('GET', '/bucket/stats');
    const scoreOf = (id: string) =>
      stats.body.buckets.find((bucket: { bucketId: string }) => bucket.bucketId === id).reputation.score;
    expect(scoreOf(flakyId)).toBeLessThan(scoreOf(healthyId));
  });

  it('runs from its schedule, and a killed node turns unavailable once its heartbeats stop', async () => {
    await bridge?.kill9();
    await sleep(4000);
    const scheduleId = `node-probe-schedule-${randomUUID()}`;
    const settings = { taskQueue: stack.taskQueue, intervalSeconds: 3600, ...probeInput };
    await ensureNodeProbeSchedule(stack.temporal, settings, scheduleId);
    await ensureNodeProbeSchedule(stack.temporal, { ...settings, intervalSeconds: 120 }, scheduleId);
    const handle = stack.temporal.schedule.getHandle(scheduleId);
    try {
      const description = await handle.describe();
      expect(description.spec.intervals?.[0]?.every).toBe(120_000);
      await handle.trigger();
      let workflowId: string | undefined;
      for (let attempt = 0; attempt < 100 && !workflowId; attempt++) {
        const run = (await handle.describe()).info.recentActions[0]?.action;
        workflowId = run && 'workflow' in run ? run.workflow.workflowId : undefined;
        if (!workflowId) await sleep(100);
      }
      expect(workflowId).toMatch(/^node-probe-/);
      const state = (await stack.temporal.workflow.getHandle(workflowId!).result()) as NodeProbeState;
      expect(state.probes?.nodes).toEqual({ probed: 1, failed: 1 });
    } finally {
      await handle.delete();
    }
    const [node] = (await call('GET', '/stats/nodes/minute')).body.nodes;
    expect(node.status).toBe('UNAVAILABLE');
    expect(node.minutes.at(-1).available ?? node.minutes.at(-2).available).toBe(false);
  });

  it('prunes probe results once they are older than the retention', async () => {
    const em = stack.orm.em.fork();
    const count = async () => {
      const [row] = await em
        .getConnection()
        .execute<{ n: number }[]>('select count(*)::int as n from probe_results');
      return row?.n;
    };
    const before = await count();
    expect(before).toBeGreaterThan(0);
    expect(await pruneProbeResults(em, 8, new Date(Date.now() + 7 * 86_400_000))).toBe(0);
    expect(await pruneProbeResults(em, 8, new Date(Date.now() + 9 * 86_400_000))).toBe(before);
    expect(await count()).toBe(0);
  });

  it('admins set SLA targets per bucket and per provider; bad input is 400, other tenants 404, lower roles 403', async () => {
    const provider = await call('PUT', '/organization/sla', {
      provider: 'S3_COMPATIBLE',
      availabilityPercent: 99.9,
      p95LatencyMs: 300,
    });
    expect(provider.status, JSON.stringify(provider.body)).toBe(200);
    const set = await call('PUT', `/bucket/${healthyId}/sla`, { p95LatencyMs: 150 });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toMatchObject({
      target: { availabilityPercent: null, p95LatencyMs: 150 },
      providerDefault: { availabilityPercent: 99.9, p95LatencyMs: 300 },
      effective: {
        availabilityPercent: 99.9,
        p95LatencyMs: 150,
        sources: { availabilityPercent: 'provider', p95LatencyMs: 'bucket' },
      },
    });
    const audit = await call('GET', '/audit?action=bucket.sla.update');
    expect(audit.body.events[0]).toMatchObject({
      target: { type: 'bucket', id: healthyId },
      details: { fields: ['p95LatencyMs'] },
    });
    expect((await call('GET', '/audit?action=organization.sla.update')).body.events).toHaveLength(1);

    for (const body of [
      {},
      { availabilityPercent: 120 },
      { availabilityPercent: 0 },
      { p95LatencyMs: -5 },
      { p95LatencyMs: 1.5 },
      { availabilityPercent: 'high' },
      { colour: 'red' },
    ]) {
      const answer = await call('PUT', `/bucket/${healthyId}/sla`, body);
      expect({ body, status: answer.status, code: answer.body.code }).toEqual({
        body,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
    expect((await call('PUT', '/organization/sla', { provider: 'FTP', p95LatencyMs: 100 })).status).toBe(400);

    for (const method of ['GET', 'PUT']) {
      const body = method === 'PUT' ? { p95LatencyMs: 100 } : undefined;
      const answer = await outsider(method, `/bucket/${healthyId}/sla`, body);
      expect({ method, status: answer.status }).toEqual({ method, status: 404 });
    }
    for (const role of ['MEMBER', 'VIEWER'] as const) {
      const asRole = await userWithRole(role);
      expect((await asRole('PUT', `/bucket/${healthyId}/sla`, { p95LatencyMs: 100 })).status).toBe(403);
      expect((await asRole('PUT', '/organization/sla', { provider: 'S3', p95LatencyMs: 100 })).status).toBe(
        403,
      );
      expect((await asRole('GET', `/bucket/${healthyId}/sla`)).status).toBe(200);
    }

    const cleared = await call('PUT', `/bucket/${healthyId}/sla`, { p95LatencyMs: null });
    expect(cleared.body.effective.sources).toEqual({
      availabilityPercent: 'provider',
      p95LatencyMs: 'provider',
    });
  });
});
