/** api → Temporal → worker → api: the ping job through the management API. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../core/auth/passwords.ts';
import { Membership, Organization, User } from '../../core/db/entities/index.ts';
import type { OrganizationRole } from '../../core/db/entities/membership.ts';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';

describe('ping job through the API', () => {
  let stack: TestStack;
  let adminToken: string;

  beforeAll(async () => {
    stack = await startTestStack();
    adminToken = await login(stack.baseUrl, stack.admin);
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function userWithRole(role: OrganizationRole, organization?: Organization): Promise<string> {
    const em = stack.orm.em.fork();
    const org =
      organization ??
      (await em.findOneOrFail(Membership, { user: { email: stack.admin.email } })).organization;
    const email = `${role.toLowerCase()}-${Math.random().toString(36).slice(2)}@example.test`;
    const user = em.create(User, { email, passwordHash: await hashPassword('pw-123456') });
    em.create(Membership, { user, organization: org, role });
    await em.flush();
    return login(stack.baseUrl, { email, password: 'pw-123456' });
  }

  async function waitForCompletion(id: string, token: string, baseUrl = stack.baseUrl) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const job = await api(baseUrl, 'GET', `/jobs/${id}`, { token });
      if (job.body?.status === 'COMPLETED') return job;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error('ping job did not complete');
  }

  it('starts the workflow, which the worker completes, and reads its state through a query', async () => {
    const started = await api(stack.baseUrl, 'POST', '/jobs/ping', {
      token: adminToken,
      body: { message: 'hello' },
    });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ kind: 'ping', status: 'RUNNING' });
    expect(started.headers.get('location')).toBe(`/jobs/${started.body.id}`);

    const job = await waitForCompletion(started.body.id, adminToken);
    expect(job.status).toBe(200);
    expect(job.body.kind).toBe('ping');
    expect(job.body.state).toMatchObject({ phase: 'COMPLETED', message: 'hello', reply: { echo: 'hello' } });
    expect(job.body.closedAt).not.toBeNull();

    // The job is visible to operators in Temporal with its search attributes.
    const description = await stack.temporal.workflow.getHandle(started.body.id).describe();
    expect(description.taskQueue).toBe(stack.taskQueue);
    expect(description.searchAttributes.SkybridgeKind).toEqual(['ping']);
    expect(description.searchAttributes.SkybridgeStatus).toEqual(['COMPLETED']);
  });

  it('lets a viewer read a job but only an admin start one', async () => {
    const viewer = await userWithRole('VIEWER');
    const member = await userWithRole('MEMBER');
    const refused = await api(stack.baseUrl, 'POST', '/jobs/ping', { token: member, body: {} });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ status: 403, code: 'FORBIDDEN' });

    const started = await api(stack.baseUrl, 'POST', '/jobs/ping', { token: adminToken, body: {} });
    const read = await waitForCompletion(started.body.id, viewer);
    expect(read.body.state.message).toBe('ping');
  });

  it("answers 404 for another organization's job, as for one that does not exist", async () => {
    const started = await api(stack.baseUrl, 'POST', '/jobs/ping', { token: adminToken, body: {} });
    const em = stack.orm.em.fork();
    const otherOrganization = em.create(Organization, { name: 'Other' });
    await em.flush();
    const outsider = await userWithRole('OWNER', otherOrganization);
    const crossTenant = await api(stack.baseUrl, 'GET', `/jobs/${started.body.id}`, { token: outsider });
    expect(crossTenant.status).toBe(404);
    expect(crossTenant.body.code).toBe('NOT_FOUND');
    const missing = await api(stack.baseUrl, 'GET', '/jobs/ping-00000000-0000-0000-0000-000000000000', {
      token: adminToken,
    });
    expect(missing.status).toBe(404);
    const malformed = await api(stack.baseUrl, 'GET', '/jobs/..%2Fetc', { token: adminToken });
    expect(malformed.status).toBe(404);
  });

  it('refuses bad input with problem JSON', async () => {
    const anonymous = await api(stack.baseUrl, 'POST', '/jobs/ping', { body: {} });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('UNAUTHENTICATED');
    const badToken = await api(stack.baseUrl, 'GET', '/jobs/ping-x', { token: 'not-a-jwt' });
    expect(badToken.status).toBe(401);
    const notJson = await api(stack.baseUrl, 'POST', '/jobs/ping', {
      token: adminToken,
      rawBody: '{"message":',
    });
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe('BAD_REQUEST');
    const wrongShape = await api(stack.baseUrl, 'POST', '/jobs/ping', {
      token: adminToken,
      body: { message: 42 },
    });
    expect(wrongShape.status).toBe(400);
    expect(wrongShape.body.code).toBe('VALIDATION_FAILED');
    expect(wrongShape.body.errors[0].path).toBe('message');
    const tooLarge = await api(stack.baseUrl, 'POST', '/jobs/ping', {
      token: adminToken,
      rawBody: JSON.stringify({ message: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.code).toBe('PAYLOAD_TOO_LARGE');
    const wrongPassword = await api(stack.baseUrl, 'POST', '/auth/login', {
      body: { email: stack.admin.email, password: 'wrong' },
    });
    expect(wrongPassword.status).toBe(401);
    const unknownRoute = await api(stack.baseUrl, 'GET', '/nope', { token: adminToken });
    expect(unknownRoute.status).toBe(404);
  });

  it('reports readiness and metrics', async () => {
    const ready = await api(stack.baseUrl, 'GET', '/readyz');
    expect(ready).toMatchObject({
      status: 200,
      body: { status: 'ready', checks: { database: 'ok', temporal: 'ok' } },
    });
    const metrics = await fetch(`${stack.baseUrl}/metrics`).then((response) => response.text());
    expect(metrics).toContain('skybridge_http_request_duration_seconds_bucket');
    expect(metrics).toMatch(/route="\/jobs\/ping"/);
  });

  it("keeps a closed job's state once read: it is served even when no worker is left to replay it", async () => {
    const own = await startTestStack();
    try {
      const token = await login(own.baseUrl, own.admin);
      const started = await api(own.baseUrl, 'POST', '/jobs/ping', { token, body: { message: 'kept' } });
      const completed = await waitForCompletion(started.body.id, token, own.baseUrl);
      await own.stopWorker();
      const again = await api(own.baseUrl, 'GET', `/jobs/${started.body.id}`, { token });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(completed.body);
      expect(again.body.state).toMatchObject({ phase: 'COMPLETED', message: 'kept' });

      // A run closed while no worker answers has no state to keep: the answer stays 503.
      const unread = await api(own.baseUrl, 'POST', '/jobs/ping', { token, body: {} });
      await own.temporal.workflow.getHandle(unread.body.id).terminate('test');
      const refused = await api(own.baseUrl, 'GET', `/jobs/${unread.body.id}`, { token });
      expect(refused.status).toBe(503);
      expect(refused.body.detail).toContain('status TERMINATED');
    } finally {
      await own.close();
    }
  });

  it('answers 503 with the job status when no worker can answer its state query', async () => {
    const workerless = await startTestStack({ worker: false });
    try {
      const token = await login(workerless.baseUrl, workerless.admin);
      const started = await api(workerless.baseUrl, 'POST', '/jobs/ping', { token, body: {} });
      expect(started.status).toBe(202);
      const startedAt = Date.now();
      const job = await api(workerless.baseUrl, 'GET', `/jobs/${started.body.id}`, { token });
      expect(Date.now() - startedAt).toBeLessThan(15_000);
      expect(job.status).toBe(503);
      expect(job.body).toMatchObject({
        code: 'UNAVAILABLE',
        detail: expect.stringContaining('status RUNNING'),
      });
    } finally {
      await workerless.close();
    }
  });
});
