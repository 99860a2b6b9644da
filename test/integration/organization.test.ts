/** CP-1, CP-2, CP-10: sign-up, invitations, roles, groups and the audit log through the API. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { User } from '../../core/db/entities/index.ts';
import { api, startTestStack, type TestStack } from '../helpers/context.ts';

describe('organization, members, groups and audit', () => {
  let stack: TestStack;
  let owner: string;
  const call = (token: string, method: string, path: string, body?: unknown) =>
    api(stack.baseUrl, method, path, { token, body });

  beforeAll(async () => {
    stack = await startTestStack();
    const signup = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: { email: 'Founder@Example.test', password: 'founder-password', organizationName: 'Founders' },
    });
    expect(signup.status).toBe(201);
    expect(signup.body).toMatchObject({
      user: { email: 'founder@example.test' },
      organization: { name: 'Founders' },
      workspace: { name: 'default' },
    });
    owner = signup.body.token;
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('signs up with a slow password hash, logs in case-insensitively, and refuses duplicates and weak passwords', async () => {
    const user = await stack.orm.em
      .fork()
      .findOneOrFail(User, { email: 'founder@example.test' }, { populate: ['passwordHash'] });
    expect(user.passwordHash).toMatch(/^scrypt\$/);
    const login = await api(stack.baseUrl, 'POST', '/auth/login', {
      body: { email: 'FOUNDER@example.test', password: 'founder-password' },
    });
    expect(login.status).toBe(200);
    expect(new Date(login.body.expiresAt).getTime()).toBeGreaterThan(Date.now());
    const duplicate = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: { email: 'founder@example.test', password: 'another-password', organizationName: 'Again' },
    });
    expect(duplicate).toMatchObject({ status: 409, body: { code: 'CONFLICT' } });
    const weak = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: { email: 'w@example.test', password: 'short', organizationName: 'W' },
    });
    expect(weak).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    const neither = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: { email: 'n@example.test', password: 'long-enough-password' },
    });
    expect(neither.status).toBe(400);
  });

  it('invites a member who joins with the token once, with the invited role', async () => {
    const invitation = await call(owner, 'POST', '/organization/invitations', {
      email: 'Analyst@Example.test',
      role: 'VIEWER',
    });
    expect(invitation.status).toBe(201);
    expect(invitation.body.token).toMatch(/^sbinv_/);
    const listed = await call(owner, 'GET', '/organization/invitations');
    expect(JSON.stringify(listed.body)).not.toContain(invitation.body.token);
    const wrongEmail = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: {
        email: 'someone@example.test',
        password: 'analyst-password',
        invitationToken: invitation.body.token,
      },
    });
    expect(wrongEmail.status).toBe(403);
    const joined = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: {
        email: 'analyst@example.test',
        password: 'analyst-password',
        invitationToken: invitation.body.token,
      },
    });
    expect(joined.status).toBe(201);
    const org = await call(joined.body.token, 'GET', '/organization');
    expect(org.body).toMatchObject({ name: 'Founders', role: 'VIEWER' });
    const reused = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: {
        email: 'analyst2@example.test',
        password: 'analyst-password',
        invitationToken: invitation.body.token,
      },
    });
    expect(reused.status).toBe(403);
  });

  it('changes roles, but never below one OWNER, and only an OWNER touches OWNER', async () => {
    const members = (await call(owner, 'GET', '/organization/members')).body;
    const founder = members.find((member: { role: string }) => member.role === 'OWNER');
    const lastOwner = await call(owner, 'PATCH', `/organization/members/${founder.userId}`, {
      role: 'ADMIN',
    });
    expect(lastOwner).toMatchObject({ status: 409, body: { code: 'CONFLICT' } });
    const invitation = await call(owner, 'POST', '/organization/invitations', {
      email: 'admin@founders.test',
      role: 'ADMIN',
    });
    const admin = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: {
        email: 'admin@founders.test',
        password: 'admin-password',
        invitationToken: invitation.body.token,
      },
    });
    const promote = await call(admin.body.token, 'PATCH', `/organization/members/${admin.body.user.id}`, {
      role: 'OWNER',
    });
    expect(promote.status).toBe(403);
    const removeOwner = await call(admin.body.token, 'DELETE', `/organization/members/${founder.userId}`);
    expect(removeOwner.status).toBe(403);
  });

  it('manages groups with members and repository grants', async () => {
    const group = await call(owner, 'POST', '/group', { name: 'Data team', description: 'analysts' });
    expect(group.status).toBe(201);
    const members = (await call(owner, 'GET', '/organization/members')).body;
    const analyst = members.find((member: { email: string }) => member.email === 'analyst@example.test');
    const added = await call(owner, 'PUT', `/group/${group.body.id}/members/${analyst.userId}`);
    expect(added.body.memberIds).toEqual([analyst.userId]);
    const repo = await call(owner, 'POST', '/repo', { name: 'warehouse' });
    const granted = await call(owner, 'PUT', `/group/${group.body.id}/grants/${repo.body.id}`, {
      access: 'READ',
    });
    expect(granted.body.grants).toEqual([{ repositoryId: repo.body.id, access: 'READ' }]);
    const upgraded = await call(owner, 'PUT', `/group/${group.body.id}/grants/${repo.body.id}`, {
      access: 'WRITE',
    });
    expect(upgraded.body.grants).toEqual([{ repositoryId: repo.body.id, access: 'WRITE' }]);
    const badAccess = await call(owner, 'PUT', `/group/${group.body.id}/grants/${repo.body.id}`, {
      access: 'EVERYTHING',
    });
    expect(badAccess.status).toBe(400);
    const duplicate = await call(owner, 'POST', '/group', { name: 'Data team' });
    expect(duplicate.status).toBe(409);
  });

  it('records every change with actor, target and outcome, filterable', async () => {
    const workspace = await call(owner, 'POST', '/workspace', { name: 'staging' });
    await call(owner, 'PATCH', `/workspace/${workspace.body.id}`, { name: 'staging-2' });
    await call(owner, 'POST', '/workspace', { name: 'staging-2' }); // conflict: a failed attempt
    const all = await call(owner, 'GET', '/audit?action=workspace.*');
    const actions = all.body.events.map(
      (event: { action: string; outcome: string }) => `${event.action}:${event.outcome}`,
    );
    expect(actions).toEqual([
      'workspace.create:FAILURE',
      'workspace.update:SUCCESS',
      'workspace.create:SUCCESS',
    ]);
    const update = all.body.events[1];
    expect(update).toMatchObject({
      actor: { email: 'founder@example.test' },
      target: { type: 'workspace', id: workspace.body.id },
      details: { fields: ['name'] },
    });
    const failures = await call(owner, 'GET', '/audit?outcome=FAILURE&action=workspace.create');
    expect(failures.body.events).toHaveLength(1);
    expect(failures.body.events[0].details).toMatchObject({ error: 'CONFLICT' });
    const byTarget = await call(owner, 'GET', `/audit?targetId=${workspace.body.id}`);
    expect(byTarget.body.events).toHaveLength(2);
    const page = await call(owner, 'GET', '/audit?limit=1');
    expect(page.body.events).toHaveLength(1);
    expect(page.body.nextBefore).toBeTruthy();
    const future = await call(
      owner,
      'GET',
      `/audit?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
    );
    expect(future.body.events).toEqual([]);
  });
});
