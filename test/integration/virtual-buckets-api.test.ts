/**
 * BR-8 through the API: a repository's virtual buckets, their members and
 * routing policy, validated, kept apart from the repository's bucket names,
 * audited. Roles and tenancy are covered by the authorisation matrix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualObject } from '../../core/db/entities/index.ts';
import { defaultRoutingPolicy } from '../../core/routing/policy.ts';
import { type ApiCall, adminApi, startTestStack, type TestStack } from '../helpers/context.ts';
import { minioBucketRegistration, uniqueBucketName } from '../helpers/emulator-buckets.ts';

describe('virtual buckets API', () => {
  let stack: TestStack;
  let call: ApiCall;
  let repoId: string;
  const buckets: { id: string; name: string }[] = [];
  let unattachedId: string;

  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
    call = await adminApi(stack);
    for (let index = 0; index < 3; index++) {
      const created = await call(
        'POST',
        '/bucket',
        await minioBucketRegistration({ name: uniqueBucketName('vb') }),
      );
      buckets.push({ id: created.body.id, name: created.body.name });
    }
    unattachedId = buckets.pop()!.id;
    repoId = (await call('POST', '/repo', { name: 'routing', bucketIds: buckets.map((bucket) => bucket.id) }))
      .body.id;
  });
  afterAll(async () => {
    await stack?.close();
  });

  const path = (id = '') => `/repo/${repoId}/virtual-buckets${id ? `/${id}` : ''}`;
  const memberIds = () => buckets.map((bucket) => bucket.id);

  it('creates, lists, reads, updates and deletes a virtual bucket, with the policy’s defaults filled in', async () => {
    const created = await call('POST', path(), {
      name: 'media',
      memberBucketIds: memberIds(),
      policy: { weights: { price: 3 } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      name: 'media',
      repositoryId: repoId,
      memberBucketIds: memberIds(),
      policy: { ...defaultRoutingPolicy, weights: { ...defaultRoutingPolicy.weights, price: 3 } },
    });
    const { id } = created.body;
    expect((await call('GET', path())).body.map((item: { id: string }) => item.id)).toEqual([id]);

    const reordered = [...memberIds()].reverse();
    const updated = await call('PUT', path(id), {
      name: 'media-2',
      memberBucketIds: reordered,
      policy: { strategy: 'PRIORITY', coolDownSeconds: 5 },
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({
      name: 'media-2',
      memberBucketIds: reordered,
      policy: { strategy: 'PRIORITY', coolDownSeconds: 5, weights: { price: 3 } },
    });
    expect((await call('GET', path(id))).body).toMatchObject({ name: 'media-2', memberBucketIds: reordered });

    const audit = await call('GET', `/audit?targetId=${id}`);
    expect(audit.body.events.map((event: { action: string }) => event.action).sort()).toEqual([
      'virtual-bucket.create',
      'virtual-bucket.update',
    ]);
    expect((await call('DELETE', path(id))).status).toBe(204);
    expect((await call('GET', path(id))).status).toBe(404);
  });

  it('answers 400 to invalid names, member lists and policies', async () => {
    const invalid = [
      { name: 'Not_A_Bucket', memberBucketIds: memberIds() },
      { name: 'fine', memberBucketIds: [] },
      { name: 'fine', memberBucketIds: [buckets[0]!.id, buckets[0]!.id] },
      { name: 'fine', memberBucketIds: memberIds(), policy: { strategy: 'RANDOM' } },
      { name: 'fine', memberBucketIds: memberIds(), policy: { weights: { latency: -1 } } },
      { name: 'fine', memberBucketIds: memberIds(), policy: { failureThreshold: 0 } },
      { name: 'fine', memberBucketIds: memberIds(), extra: true },
    ];
    for (const body of invalid) {
      const answer = await call('POST', path(), body);
      expect({ body, status: answer.status, code: answer.body.code }).toEqual({
        body,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
    const notAttached = await call('POST', path(), { name: 'fine', memberBucketIds: [unattachedId] });
    expect([notAttached.status, notAttached.body.code]).toEqual([400, 'BAD_REQUEST']);
  });

  it('refuses a name a registered bucket of the repository or another virtual bucket already has', async () => {
    const clash = await call('POST', path(), { name: buckets[0]!.name, memberBucketIds: memberIds() });
    expect([clash.status, clash.body.code]).toEqual([409, 'CONFLICT']);
    const first = await call('POST', path(), { name: 'unique', memberBucketIds: memberIds() });
    expect(first.status).toBe(201);
    const second = await call('POST', path(), { name: 'unique', memberBucketIds: memberIds() });
    expect([second.status, second.body.code]).toEqual([409, 'CONFLICT']);
    const renamed = await call('PUT', path(first.body.id), { name: buckets[1]!.name });
    expect([renamed.status, renamed.body.code]).toEqual([409, 'CONFLICT']);
  });

  it('keeps a member that still holds objects of the virtual bucket', async () => {
    const created = await call('POST', path(), { name: 'holding', memberBucketIds: memberIds() });
    const em = stack.orm.em.fork();
    em.create(VirtualObject, {
      virtualBucket: created.body.id,
      key: 'kept.txt',
      bucket: buckets[1]!.id,
      size: 1,
      etag: '"x"',
      lastModified: new Date(),
      contentType: null,
    });
    await em.flush();
    const dropHolder = await call('PUT', path(created.body.id), { memberBucketIds: [buckets[0]!.id] });
    expect([dropHolder.status, dropHolder.body.code]).toEqual([409, 'CONFLICT']);
    const dropOther = await call('PUT', path(created.body.id), { memberBucketIds: [buckets[1]!.id] });
    expect(dropOther.body.memberBucketIds).toEqual([buckets[1]!.id]);
  });

  it('keeps its members attached to the repository and its name free of buckets attached later', async () => {
    const name = uniqueBucketName('vbname');
    const created = await call('POST', path(), { name, memberBucketIds: memberIds() });
    expect(created.status).toBe(201);
    const detach = await call('DELETE', `/repo/${repoId}/bucket/${buckets[0]!.id}`);
    expect([detach.status, detach.body.code]).toEqual([409, 'CONFLICT']);
    expect(detach.body.detail).toContain('is a member of the virtual bucket');

    const sameName = await call('POST', '/bucket', await minioBucketRegistration({ name }));
    expect(sameName.status).toBe(201);
    const attach = await call('PUT', `/repo/${repoId}/bucket/${sameName.body.id}`);
    expect([attach.status, attach.body.code]).toEqual([409, 'CONFLICT']);

    expect((await call('DELETE', path(created.body.id))).status).toBe(204);
    expect((await call('PUT', `/repo/${repoId}/bucket/${sameName.body.id}`)).status).toBe(200);
  });
});
