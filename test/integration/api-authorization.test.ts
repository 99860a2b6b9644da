/**
 * The authorisation matrix, generated from the route table so that a new
 * route cannot be forgotten: every protected route without a token, with an
 * expired or forged token, with another organization's token, and with each
 * role too low for it. Expected: 401, 401, 404, 403.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyRoute } from '../../api/routing/route.ts';
import { hashPassword } from '../../core/auth/passwords.ts';
import { createTokenSigner } from '../../core/auth/tokens.ts';
import {
  Conversation,
  Membership,
  organizationRoles,
  roleAtLeast,
  User,
} from '../../core/db/entities/index.ts';
import type { OrganizationRole } from '../../core/db/entities/membership.ts';
import { api, login, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration, uniqueBucketName } from '../helpers/emulator-buckets.ts';

type Ids = Record<string, string>;

/** A valid body for each route that takes one, so that the cross-organization case reaches the tenancy check. */
const validBodies: Record<string, (ids: Ids) => unknown> = {
  'patch /organization': () => ({ name: 'Renamed' }),
  'post /workspace': () => ({ name: `ws-${Date.now()}` }),
  'patch /workspace/:workspaceId': () => ({ name: `ws-${Date.now()}` }),
  'post /organization/invitations': () => ({ email: 'invitee@example.test' }),
  'patch /organization/members/:userId': () => ({ role: 'VIEWER' }),
  'post /group': () => ({ name: `group-${Date.now()}` }),
  'patch /group/:groupId': () => ({ name: `group-${Date.now()}` }),
  'put /group/:groupId/grants/:repoId': () => ({ access: 'READ' }),
  'post /jobs/ping': () => ({}),
  'post /bucket': () => ({}),
  'put /bucket/:bucketId': () => ({ forcePathStyle: true }),
  'put /bucket/:bucketId/sla': () => ({ availabilityPercent: 99.5 }),
  'post /repo': () => ({ name: `repo-${Date.now()}` }),
  'put /repo/:repoId': () => ({ description: 'x' }),
  'post /repo/:repoId/apikey': () => ({ name: 'k', scope: 'READ' }),
  'post /repo/:repoId/virtual-buckets': (ids) => ({
    name: 'matrix-virtual',
    memberBucketIds: [ids.bucketId],
  }),
  'put /repo/:repoId/virtual-buckets/:virtualBucketId': () => ({ policy: { strategy: 'PRIORITY' } }),
  'put /repo/:repoId/apikey/:keyId': () => ({ name: 'renamed' }),
  'post /repo/:repoId/ai/apikey': () => ({ name: 'k' }),
  'put /repo/:repoId/ai/apikey/:keyId': () => ({ name: 'renamed' }),
  'post /ai/llm': () => ({}),
  'put /ai/llm/:configId': () => ({ name: `renamed-${Date.now()}` }),
  'post /ai/policy': () => ({}),
  'put /ai/policy/:policyId': () => ({ enabled: false }),
  'post /conversation/:conversationId/prompt': () => ({ content: 'hello' }),
  'post /repo/:repoId/apikey/:keyId/rotate': () => ({ graceSeconds: 60 }),
  'post /repo/:repoId/ai/apikey/:keyId/rotate': () => ({ graceSeconds: 60 }),
  'patch /jobs/:jobId': () => ({ graceSeconds: 0 }),
  'post /jobs/migrations': (ids) => ({ sourceBucketId: ids.bucketId, destinationBucketId: ids.bucketId }),
  'post /jobs/:jobId/pause': () => ({ reason: 'matrix' }),
  'post /jobs/:jobId/approve': () => ({ reason: 'matrix' }),
  'post /jobs/:jobId/reject': () => ({ reason: 'matrix' }),
  'put /repo/:repoId/budget': () => ({ amountUsd: 10 }),
  'put /repo/:repoId/apikey/:keyId/budget': () => ({ amountUsd: 10 }),
  'put /repo/:repoId/ai/apikey/:keyId/budget': () => ({ amountUsd: 10 }),
  'post /bucket/:bucketId/credentials/rotate': () => ({
    credentials: { type: 'ACCESS_KEY', accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wrong' },
  }),
};

const routeKey = (route: AnyRoute) => `${route.method} ${route.path}`;

/** Authentication and role checks come before validation: any JSON body will do, and GET has none. */
const bodyFor = (route: AnyRoute) => (route.method === 'get' ? undefined : {});

/** The concrete id for each path parameter, picked by the route it appears in. */
function concretePath(route: AnyRoute, ids: Ids): string {
  return route.path.replace(/:(\w+)/g, (_, name: string) => {
    if (name === 'keyId') return route.path.includes('/ai/apikey') ? ids.aiKeyId! : ids.storageKeyId!;
    if (name === 'resourceId') return route.path.includes('/ai/llm') ? ids.configId! : ids.bucketId!;
    const id = ids[name];
    if (!id) throw new Error(`no fixture id for :${name} in ${routeKey(route)}`);
    return id;
  });
}

describe('authorisation matrix over every protected route', () => {
  let stack: TestStack;
  const ids: Ids = {};
  const tokens: Partial<Record<OrganizationRole, string>> = {};
  let outsiderToken: string;
  let expiredToken: string;
  let forgedToken: string;
  let protectedRoutes: AnyRoute[];

  async function addUser(role: OrganizationRole, organizationId: string) {
    const em = stack.orm.em.fork();
    const email = `${role.toLowerCase()}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.test`;
    const user = em.create(User, { email, passwordHash: await hashPassword('password-123') });
    em.create(Membership, { user, organization: organizationId, role });
    await em.flush();
    return { user, token: await login(stack.baseUrl, { email, password: 'password-123' }) };
  }

  beforeAll(async () => {
    stack = await startTestStack();
    const owner = await login(stack.baseUrl, stack.admin);
    tokens.OWNER = owner;
    const call = (method: string, path: string, body?: unknown) =>
      api(stack.baseUrl, method, path, { token: owner, body });
    const organization = await call('GET', '/organization');
    for (const role of ['ADMIN', 'MEMBER', 'VIEWER'] as const) {
      const { user, token } = await addUser(role, organization.body.id);
      tokens[role] = token;
      if (role === 'VIEWER') ids.userId = user.id;
    }
    ids.workspaceId = (await call('POST', '/workspace', { name: 'second' })).body.id;
    ids.groupId = (await call('POST', '/group', { name: 'squad' })).body.id;
    ids.bucketId = (
      await call('POST', '/bucket', await minioBucketRegistration({ name: uniqueBucketName('matrix') }))
    ).body.id;
    ids.configId = (
      await call('POST', '/ai/llm', {
        name: 'local',
        type: 'OTHER',
        apiEndpoint: 'http://127.0.0.1:9/v1',
        apiSecret: 's3cret-value',
      })
    ).body.id;
    ids.repoId = (
      await call('POST', '/repo', { name: 'matrix', bucketIds: [ids.bucketId], aiConfigIds: [ids.configId] })
    ).body.id;
    ids.storageKeyId = (
      await call('POST', `/repo/${ids.repoId}/apikey`, { name: 'k', scope: 'READ' })
    ).body.id;
    ids.aiKeyId = (await call('POST', `/repo/${ids.repoId}/ai/apikey`, { name: 'k' })).body.id;
    ids.virtualBucketId = (
      await call('POST', `/repo/${ids.repoId}/virtual-buckets`, {
        name: 'matrix',
        memberBucketIds: [ids.bucketId],
      })
    ).body.id;
    ids.policyId = (
      await call('POST', '/ai/policy', {
        name: 'no pii',
        rule: 'No personal data',
        scope: 'ORGANIZATION',
        action: 'LOG',
        target: 'BOTH',
      })
    ).body.id;
    ids.jobId = (await call('POST', '/jobs/ping', {})).body.id;
    ids.priceId = (
      await call('PUT', '/prices', {
        kind: 'AI',
        provider: 'OTHER',
        model: 'matrix',
        inputPer1000Tokens: 0.1,
        outputPer1000Tokens: 0.2,
      })
    ).body.id;
    // Created directly: starting one through the API checks that a live provider serves its model.
    const em = stack.orm.em.fork();
    const conversation = em.create(Conversation, {
      repository: ids.repoId!,
      title: 'matrix',
      model: 'any',
      contextTokens: 1000,
    });
    await em.flush();
    ids.conversationId = conversation.id;
    for (const [name, id] of Object.entries(ids)) expect(id, name).toBeTruthy();

    const outsider = await api(stack.baseUrl, 'POST', '/auth/signup', {
      body: { email: 'outsider@other.test', password: 'password-123', organizationName: 'Other org' },
    });
    outsiderToken = outsider.body.token;
    const me = (await call('GET', '/organization/members')).body.find(
      (member: { role: string }) => member.role === 'OWNER',
    );
    expiredToken = (await createTokenSigner(stack.jwtSecret, -60).issue({ userId: me.userId })).token;
    forgedToken = (await createTokenSigner('f'.repeat(64), 3600).issue({ userId: me.userId })).token;
    protectedRoutes = stack.routes.filter((route) => route.access !== 'public');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('covers the whole route table', () => {
    expect(protectedRoutes.length).toBeGreaterThan(50);
    for (const route of protectedRoutes) expect(() => concretePath(route, ids)).not.toThrow();
  });

  it('answers 401 without a token, with an expired one and with a forged one', async () => {
    for (const route of protectedRoutes) {
      const path = concretePath(route, ids);
      for (const [label, token] of [
        ['none', undefined],
        ['expired', expiredToken],
        ['forged', forgedToken],
      ] as const) {
        const answer = await api(stack.baseUrl, route.method.toUpperCase(), path, {
          token,
          body: bodyFor(route),
        });
        expect({ route: routeKey(route), label, status: answer.status, code: answer.body?.code }).toEqual({
          route: routeKey(route),
          label,
          status: 401,
          code: 'UNAUTHENTICATED',
        });
      }
    }
  });

  it('answers 403 to every role below the one a route needs', async () => {
    let checked = 0;
    for (const route of protectedRoutes) {
      for (const role of organizationRoles) {
        if (roleAtLeast(role, route.access as OrganizationRole)) continue;
        const answer = await api(stack.baseUrl, route.method.toUpperCase(), concretePath(route, ids), {
          token: tokens[role],
          body: bodyFor(route),
        });
        expect({ route: routeKey(route), role, status: answer.status, code: answer.body?.code }).toEqual({
          route: routeKey(route),
          role,
          status: 403,
          code: 'FORBIDDEN',
        });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it("answers 404 to another organization's owner for every resource of this one", async () => {
    const routesWithIds = protectedRoutes.filter((route) => route.path.includes(':'));
    expect(routesWithIds.length).toBeGreaterThan(30);
    for (const route of routesWithIds) {
      const body = route.body ? validBodies[routeKey(route)] : undefined;
      if (route.body && !body) throw new Error(`add a valid body for ${routeKey(route)} to validBodies`);
      const answer = await api(stack.baseUrl, route.method.toUpperCase(), concretePath(route, ids), {
        token: outsiderToken,
        body: body?.(ids),
      });
      expect({ route: routeKey(route), status: answer.status, code: answer.body?.code }).toEqual({
        route: routeKey(route),
        status: 404,
        code: 'NOT_FOUND',
      });
    }
  });

  it('documents every route in /openapi.json, with its schemas', async () => {
    const document = (await api(stack.baseUrl, 'GET', '/openapi.json')).body;
    expect(document.openapi).toBe('3.1.0');
    for (const route of stack.routes) {
      const path = route.path.replace(/:(\w+)/g, '{$1}');
      expect(document.paths[path]?.[route.method], routeKey(route)).toBeDefined();
      if (route.body) expect(document.paths[path][route.method].requestBody, routeKey(route)).toBeDefined();
    }
    const createBucket = document.paths['/bucket'].post.requestBody.content['application/json'].schema;
    expect(createBucket.properties.provider.enum).toEqual(['S3', 'S3_COMPATIBLE', 'GCS', 'AZURE']);
  });
});
