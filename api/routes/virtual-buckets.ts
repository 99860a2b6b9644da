/**
 * BR-8: a repository's virtual buckets, one bucket name spread over several
 * of its registered buckets, with the routing policy that places writes
 * (core/routing/policy.ts). Bridges pick up a change within their cache TTL.
 */
import { z } from 'zod';
import {
  type Bucket,
  Repository,
  VirtualBucket,
  VirtualBucketMember,
  VirtualObject,
} from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { AppError } from '../../core/errors.ts';
import { completePolicy, routingStrategies } from '../../core/routing/policy.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { iso, uuid } from '../schemas.ts';
import type { TenantScope } from '../tenancy.ts';
import { assertNameFree } from '../unique-names.ts';
import { bridgeBucketName } from './buckets.ts';

const repoParams = z.object({ repoId: uuid });
const virtualBucketParams = z.object({ repoId: uuid, virtualBucketId: uuid });

const weight = z.number().min(0).max(100);
const policy = z
  .object({
    strategy: z.enum(routingStrategies).optional(),
    weights: z.object({ reputation: weight, latency: weight, price: weight }).partial().strict().optional(),
    failureThreshold: z.number().int().min(1).max(100).optional(),
    coolDownSeconds: z.number().int().min(1).max(86_400).optional(),
    slowCallMs: z.number().int().min(1).max(600_000).optional(),
  })
  .strict();

const memberBucketIds = z
  .array(uuid)
  .min(1)
  .max(16)
  .refine((ids) => new Set(ids).size === ids.length, 'must not name a bucket twice');

const createBody = z.object({ name: bridgeBucketName, memberBucketIds, policy: policy.optional() }).strict();
const updateBody = z
  .object({
    name: bridgeBucketName.optional(),
    memberBucketIds: memberBucketIds.optional(),
    policy: policy.optional(),
  })
  .strict();

function presentVirtualBucket(virtualBucket: VirtualBucket) {
  return {
    id: virtualBucket.id,
    repositoryId: virtualBucket.repository.id,
    name: virtualBucket.name,
    memberBucketIds: virtualBucket.members
      .getItems()
      .toSorted((a, b) => a.position - b.position)
      .map((member) => member.bucket.id),
    policy: completePolicy(virtualBucket.policy),
    createdAt: iso(virtualBucket.createdAt),
    updatedAt: iso(virtualBucket.updatedAt),
  };
}

const loadRepository = (tenant: TenantScope, repoId: string) =>
  tenant.findInWorkspace(Repository, 'Repository', repoId, { populate: ['buckets'] });

async function loadVirtualBucket(
  em: EntityManager,
  repository: Repository,
  id: string,
): Promise<VirtualBucket> {
  const found = await em.findOne(VirtualBucket, { id, repository }, { populate: ['members'] });
  if (!found) throw new AppError('NOT_FOUND', 'Virtual bucket not found');
  return found;
}

/** The named buckets, each attached to the repository (and so of its workspace). */
function attachedBuckets(repository: Repository, ids: readonly string[]): Bucket[] {
  const attached = new Map(repository.buckets.getItems().map((bucket) => [bucket.id, bucket]));
  return ids.map((id) => {
    const bucket = attached.get(id);
    if (!bucket) throw new AppError('BAD_REQUEST', `Bucket ${id} is not attached to the repository`);
    return bucket;
  });
}

/** Clients address registered and virtual buckets alike: one name, one bucket. */
async function assertBridgeNameFree(
  em: EntityManager,
  repository: Repository,
  name: string,
  except?: string,
): Promise<void> {
  if (repository.buckets.getItems().some((bucket) => bucket.name === name))
    throw new AppError('CONFLICT', `A bucket of the repository is named "${name}"`);
  await assertNameFree(em, VirtualBucket, {
    scope: { repository: repository.id },
    name,
    label: 'A virtual bucket',
    except,
  });
}

/** Sets the members and their order; a member still holding objects cannot be removed. */
async function setMembers(em: EntityManager, virtualBucket: VirtualBucket, buckets: Bucket[]): Promise<void> {
  const wanted = new Map(buckets.map((bucket, position) => [bucket.id, position]));
  const removed = virtualBucket.members.getItems().filter((member) => !wanted.has(member.bucket.id));
  const holding = removed.length
    ? await em.count(VirtualObject, {
        virtualBucket,
        bucket: { $in: removed.map((member) => member.bucket.id) },
      })
    : 0;
  if (holding > 0)
    throw new AppError(
      'CONFLICT',
      `The members to remove still hold ${holding} object(s) of the virtual bucket; delete them first`,
    );
  for (const member of removed) virtualBucket.members.remove(member);
  const kept = new Map(virtualBucket.members.getItems().map((member) => [member.bucket.id, member]));
  for (const [bucketId, position] of wanted) {
    const member = kept.get(bucketId);
    if (member) member.position = position;
    else
      virtualBucket.members.add(
        em.create(VirtualBucketMember, { virtualBucket, bucket: bucketId, position }),
      );
  }
}

const auditTargetOf = (virtualBucket: VirtualBucket, repository: Repository) => ({
  type: 'virtual-bucket',
  id: virtualBucket.id,
  workspaceId: repository.workspace.id,
});

export function virtualBucketRoutes(): AnyRoute[] {
  return [
    protectedRoute({
      method: 'post',
      path: '/repo/:repoId/virtual-buckets',
      tag: 'virtual buckets',
      summary: "Create a virtual bucket over some of the repository's buckets",
      access: 'MEMBER',
      audit: 'virtual-bucket.create',
      params: repoParams,
      body: createBody,
      response: { status: 201, description: 'The virtual bucket' },
      async handler({ em, tenant, params, body, auditTarget }) {
        const repository = await loadRepository(tenant, params.repoId);
        const members = attachedBuckets(repository, body.memberBucketIds);
        await assertBridgeNameFree(em, repository, body.name);
        const virtualBucket = em.create(VirtualBucket, {
          repository,
          name: body.name,
          policy: completePolicy(body.policy),
        });
        await setMembers(em, virtualBucket, members);
        await em.flush();
        auditTarget(auditTargetOf(virtualBucket, repository), {
          name: body.name,
          memberBucketIds: body.memberBucketIds,
        });
        return { body: presentVirtualBucket(virtualBucket) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/repo/:repoId/virtual-buckets',
      tag: 'virtual buckets',
      summary: "List the repository's virtual buckets",
      access: 'VIEWER',
      params: repoParams,
      response: { status: 200, description: 'Virtual buckets' },
      async handler({ em, tenant, params }) {
        const repository = await loadRepository(tenant, params.repoId);
        const found = await em.find(
          VirtualBucket,
          { repository },
          { populate: ['members'], orderBy: { name: 'asc' } },
        );
        return { body: found.map(presentVirtualBucket) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/repo/:repoId/virtual-buckets/:virtualBucketId',
      tag: 'virtual buckets',
      summary: 'Read a virtual bucket',
      access: 'VIEWER',
      params: virtualBucketParams,
      response: { status: 200, description: 'The virtual bucket' },
      async handler({ em, tenant, params }) {
        const repository = await loadRepository(tenant, params.repoId);
        return {
          body: presentVirtualBucket(await loadVirtualBucket(em, repository, params.virtualBucketId)),
        };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/repo/:repoId/virtual-buckets/:virtualBucketId',
      tag: 'virtual buckets',
      summary: 'Rename a virtual bucket, change its members or their order, or its routing policy',
      access: 'MEMBER',
      audit: 'virtual-bucket.update',
      params: virtualBucketParams,
      body: updateBody,
      response: { status: 200, description: 'The virtual bucket' },
      async handler({ em, tenant, params, body, auditTarget }) {
        const repository = await loadRepository(tenant, params.repoId);
        const virtualBucket = await loadVirtualBucket(em, repository, params.virtualBucketId);
        if (body.name !== undefined && body.name !== virtualBucket.name) {
          await assertBridgeNameFree(em, repository, body.name, virtualBucket.id);
          virtualBucket.name = body.name;
        }
        if (body.memberBucketIds)
          await setMembers(em, virtualBucket, attachedBuckets(repository, body.memberBucketIds));
        if (body.policy)
          virtualBucket.policy = completePolicy(body.policy, completePolicy(virtualBucket.policy));
        auditTarget(auditTargetOf(virtualBucket, repository), {
          fields: Object.keys(body).filter((field) => body[field as keyof typeof body] !== undefined),
        });
        return { body: presentVirtualBucket(virtualBucket) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/repo/:repoId/virtual-buckets/:virtualBucketId',
      tag: 'virtual buckets',
      summary: 'Delete a virtual bucket and its object index (the objects stay in the member buckets)',
      access: 'MEMBER',
      audit: 'virtual-bucket.delete',
      params: virtualBucketParams,
      response: { status: 204, description: 'Deleted' },
      async handler({ em, tenant, params, auditTarget }) {
        const repository = await loadRepository(tenant, params.repoId);
        const virtualBucket = await loadVirtualBucket(em, repository, params.virtualBucketId);
        auditTarget(auditTargetOf(virtualBucket, repository), { name: virtualBucket.name });
        // The index can be large: the database's cascade removes it, not the unit of work.
        await em.nativeDelete(VirtualBucket, { id: virtualBucket.id });
        return {};
      },
    }),
  ];
}
