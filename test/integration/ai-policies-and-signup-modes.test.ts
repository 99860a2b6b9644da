/** CP-8 policies and their scopes; CP-1 sign-up modes (open, invite-only, closed). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AiPolicyViolation } from '../../core/db/entities/index.ts';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';

describe('AI policies', () => {
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

  it('creates policies at each scope, checking that the scope and its target agree', async () => {
    const workspace = (await call('GET', '/workspace')).body[0];
    const repo = (await call('POST', '/repo', { name: 'policed' })).body;
    const base = { rule: 'Never include customer emails', action: 'BLOCK', target: 'PROMPT' };
    const org = await call('POST', '/ai/policy', { ...base, name: 'org', scope: 'ORGANIZATION' });
    const ws = await call('POST', '/ai/policy', {
      ...base,
      name: 'ws',
      scope: 'WORKSPACE',
      workspaceId: workspace.id,
    });
    const rp = await call('POST', '/ai/policy', {
      ...base,
      name: 'repo',
      scope: 'REPOSITORY',
      repositoryId: repo.id,
    });
    expect([org.status, ws.status, rp.status]).toEqual([201, 201, 201]);
    expect(rp.body).toMatchObject({
      scope: 'REPOSITORY',
      repositoryId: repo.id,
      workspaceId: workspace.id,
      enabled: true,
    });
    const mismatched = [
      { ...base, name: 'x', scope: 'ORGANIZATION', repositoryId: repo.id },
      { ...base, name: 'x', scope: 'WORKSPACE' },
      { ...base, name: 'x', scope: 'REPOSITORY' },
      { ...base, name: 'x', scope: 'GALAXY' },
      { ...base, name: 'x', scope: 'ORGANIZATION', action: 'NUKE' },
    ];
    for (const body of mismatched) expect((await call('POST', '/ai/policy', body)).status).toBe(400);
    const listed = await call('GET', '/ai/policy?scope=REPOSITORY');
    expect(listed.body.map((policy: { name: string }) => policy.name)).toEqual(['repo']);
    const disabled = await call('PUT', `/ai/policy/${org.body.id}`, { enabled: false, action: 'LOG' });
    expect(disabled.body).toMatchObject({ enabled: false, action: 'LOG', scope: 'ORGANIZATION' });
    expect((await call('PUT', `/ai/policy/${org.body.id}`, { scope: 'WORKSPACE' })).status).toBe(400);
  });

  it('lists violations newest first and keeps them when their policy is deleted', async () => {
    const policy = (
      await call('POST', '/ai/policy', {
        name: 'pii',
        rule: 'no PII',
        scope: 'ORGANIZATION',
        action: 'LOG',
        target: 'BOTH',
      })
    ).body;
    const organization = (await call('GET', '/organization')).body;
    const em = stack.orm.em.fork();
    for (const detector of ['email', 'iban']) {
      em.create(AiPolicyViolation, {
        organization: organization.id,
        policy: policy.id,
        direction: 'PROMPT',
        detector,
        actionTaken: 'LOG',
        excerpt: '[redacted]',
        createdAt: new Date(Date.now() - (detector === 'email' ? 60_000 : 0)),
      });
    }
    await em.flush();
    const violations = await call('GET', `/ai/policy/violations?policyId=${policy.id}`);
    expect(violations.body.map((violation: { detector: string }) => violation.detector)).toEqual([
      'iban',
      'email',
    ]);
    expect((await call('DELETE', `/ai/policy/${policy.id}`)).status).toBe(204);
    const kept = await call('GET', '/ai/policy/violations');
    expect(
      kept.body.filter((violation: { policyId: string | null }) => violation.policyId === null),
    ).toHaveLength(2);
    expect((await call('GET', '/ai/policy/violations?limit=9999')).status).toBe(400);
  });
});

describe('sign-up modes', () => {
  const signup = (stack: TestStack, body: Record<string, unknown>) =>
    api(stack.baseUrl, 'POST', '/auth/signup', { body });
  const newcomer = { email: 'newcomer@example.test', password: 'newcomer-password', organizationName: 'New' };

  it('invite-only: refuses a new organization, accepts an invitation', async () => {
    const stack = await startTestStack({ signupMode: 'invite' });
    try {
      expect(await signup(stack, newcomer)).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
      const token = await login(stack.baseUrl, stack.admin);
      const invitation = await api(stack.baseUrl, 'POST', '/organization/invitations', {
        token,
        body: { email: newcomer.email },
      });
      const joined = await signup(stack, {
        email: newcomer.email,
        password: newcomer.password,
        invitationToken: invitation.body.token,
      });
      expect(joined.status).toBe(201);
    } finally {
      await stack.close();
    }
  });

  it('closed: refuses every sign-up', async () => {
    const stack = await startTestStack({ signupMode: 'closed' });
    try {
      expect(await signup(stack, newcomer)).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    } finally {
      await stack.close();
    }
  });
});
