/** CP-4: repositories group a workspace's buckets and AI LLM configs behind one API. */
import type { EntityName } from '@mikro-orm/core';
import { z } from 'zod';
import {
  AiLlmConfig,
  aiEndpointTypes,
  Bucket,
  RepoAiKey,
  RepoStorageKey,
  Repository,
  storageEndpointTypes,
  VirtualBucket,
  VirtualBucketMember,
} from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { AppError } from '../../core/errors.ts';
import { announceAiKeyChange } from '../../core/keys/ai-key-resolver.ts';
import { announceStorageKeyChange } from '../../core/keys/storage-key-resolver.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { aiLimits, description, displayName, iso, uuid, workspaceSelector } from '../schemas.ts';
import type { TenantScope } from '../tenancy.ts';
import { assertNameFree } from '../unique-names.ts';

const repoParams = z.object({ repoId: uuid });
const attachParams = z.object({ repoId: uuid, resourceId: uuid });

const endpointTypes = {
  storageEndpointType: z.enum(storageEndpointTypes).nullable().optional(),
  aiEndpointType: z.enum(aiEndpointTypes).nullable().optional(),
};

const createBody = workspaceSelector
  .extend({
    name: displayName,
    description: description.optional(),
    ...endpointTypes,
    bucketIds: z.array(uuid).max(100).default([]),
    aiConfigIds: z.array(uuid).max(100).default([]),
    aiLimits: aiLimits.optional(),
  })
  .strict();

const updateBody = z
  .object({
    name: displayName.optional(),
    description: description.nullable().optional(),
    ...endpointTypes,
    aiLimits: aiLimits.optional(),
  })
  .strict();

export function presentRepository(repository: Repository) {
  return {
    id: repository.id,
    workspaceId: repository.workspace.id,
    name: repository.name,
    description: repository.description ?? null,
    storageEndpointType: repository.storageEndpointType ?? null,
    aiEndpointType: repository.aiEndpointType ?? null,
    aiLimits: repository.aiLimits ?? null,
    bucketIds: repository.buckets.isInitialized()
      ? repository.buckets.getItems().map((bucket) => bucket.id)
      : undefined,
    aiConfigIds: repository.aiConfigs.isInitialized()
      ? repository.aiConfigs.getItems().map((config) => config.id)
      : undefined,
    createdAt: iso(repository.createdAt),
    updatedAt: iso(repository.updatedAt),
  };
}

/** The bridges cache each AI key with its repository's limits: evict the repository's keys. */
async function announceRepositoryKeysChanged(em: EntityManager, repository: Repository): Promise<void> {
  for (const key of await em.find(RepoAiKey, { repository })) await announceAiKeyChange(em, key.prefix);
}

/** Only resources of the repository's own workspace can be attached. */
function assertSameWorkspace(repository: Repository, resource: { workspace: { id: string } }, label: string) {
  if (resource.workspace.id !== repository.workspace.id) {
    throw new AppError('CONFLICT', `The ${label} belongs to another workspace than the repository`);
  }
}

const loadRepository = (tenant: TenantScope, repoId: string) =>
  tenant.findInWorkspace(Repository, 'Repository', repoId, { populate: ['buckets', 'aiConfigs'] });

function attachmentRoutes<T extends Bucket | AiLlmConfig>(spec: {
  path: string;
  label: string;
  entity: typeof Bucket | typeof AiLlmConfig;
  collection: 'buckets' | 'aiConfigs';
  auditName: string;
  /** Throws when the change would break something that depends on the attachment. */
  check?: (
    em: EntityManager,
    repository: Repository,
    resource: T,
    change: 'attach' | 'detach',
  ) => Promise<void>;
}): AnyRoute[] {
  return [
    protectedRoute({
      method: 'put',
      path: `/repo/:repoId/${spec.path}/:resourceId`,
      tag: 'repositories',
      summary: `Attach a ${spec.label} to the repository`,
      access: 'MEMBER',
      audit: `repository.${spec.auditName}.attach`,
      params: attachParams,
      response: { status: 200, description: 'The repository' },
      async handler({ em, tenant, params, auditTarget }) {
        const repository = await loadRepository(tenant, params.repoId);
        const resource = (await tenant.findInWorkspace(
          spec.entity as EntityName<T>,
          spec.label,
          params.resourceId,
        )) as T;
        assertSameWorkspace(repository, resource, spec.label);
        await spec.check?.(em, repository, resource, 'attach');
        (repository[spec.collection] as { add(item: T): void }).add(resource);
        auditTarget(
          { type: 'repository', id: repository.id, workspaceId: repository.workspace.id },
          { [spec.auditName]: resource.id },
        );
        return { body: presentRepository(repository) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: `/repo/:repoId/${spec.path}/:resourceId`,
      tag: 'repositories',
      summary: `Detach a ${spec.label} from the repository`,
      access: 'MEMBER',
      audit: `repository.${spec.auditName}.detach`,
      params: attachParams,
      response: { status: 200, description: 'The repository' },
      async handler({ em, tenant, params, auditTarget }) {
        const repository = await loadRepository(tenant, params.repoId);
        const attached = (repository[spec.collection].getItems() as T[]).find(
          (item) => item.id === params.resourceId,
        );
        if (!attached)
          throw new AppError('NOT_FOUND', `This ${spec.label} is not attached to the repository`);
        await spec.check?.(em, repository, attached, 'detach');
        (repository[spec.collection] as { remove(item: T): void }).remove(attached);
        auditTarget(
          { type: 'repository', id: repository.id, workspaceId: repository.workspace.id },
          { [spec.auditName]: attached.id },
        );
        return { body: presentRepository(repository) };
      },
    }),
  ];
}

/**
 * BR-8: a virtual bucket's members must stay attached, and a bucket attached later must not take a
 * virtual bucket's name (the bridge would serve the one and hide the other).
 */
async function checkVirtualBuckets(
  em: EntityManager,
  repository: Repository,
  bucket: Bucket,
  change: 'attach' | 'detach',
): Promise<void> {
  if (change === 'attach') {
    const clash = await em.findOne(VirtualBucket, { repository, name: bucket.name });
    if (clash)
      throw new AppError(
        'CONFLICT',
        `The repository has a virtual bucket named ${bucket.name}: rename one of them first`,
      );
    return;
  }
  const membership = await em.findOne(
    VirtualBucketMember,
    { bucket, virtualBucket: { repository } },
    { populate: ['virtualBucket'] },
  );
  if (membership)
    throw new AppError(
      'CONFLICT',
      `The bucket is a member of the virtual bucket ${membership.virtualBucket.name}: remove it there first`,
    );
}

export function repositoryRoutes(): AnyRoute[] {
  return [
    protectedRoute({
      method: 'get',
      path: '/repo',
      tag: 'repositories',
      summary: 'List repositories',
      access: 'VIEWER',
      query: workspaceSelector,
      response: { status: 200, description: 'Repositories' },
      async handler({ tenant, query }) {
        const where = query.workspaceId ? { workspace: { id: query.workspaceId } } : {};
        const repositories = await tenant.listInWorkspaces(Repository, where, {
          populate: ['buckets', 'aiConfigs'],
          orderBy: { name: 'asc' },
        });
        return { body: repositories.map(presentRepository) };
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/repo',
      tag: 'repositories',
      summary: 'Create a repository, optionally with buckets and AI LLM configs attached',
      access: 'MEMBER',
      audit: 'repository.create',
      body: createBody,
      response: { status: 201, description: 'Created' },
      async handler({ em, tenant, body, auditTarget }) {
        const workspace = await tenant.workspace(body.workspaceId);
        await assertNameFree(em, Repository, {
          scope: { workspace: workspace.id },
          name: body.name,
          label: 'A repository',
        });
        const repository = em.create(Repository, {
          workspace,
          name: body.name,
          description: body.description ?? null,
          storageEndpointType: body.storageEndpointType ?? (body.bucketIds.length > 0 ? 'S3' : null),
          aiEndpointType: body.aiEndpointType ?? (body.aiConfigIds.length > 0 ? 'OPENAI' : null),
          aiLimits: body.aiLimits ?? null,
        });
        for (const id of body.bucketIds) {
          const bucket = await tenant.findInWorkspace(Bucket, 'Bucket', id);
          assertSameWorkspace(repository, bucket, 'bucket');
          repository.buckets.add(bucket);
        }
        for (const id of body.aiConfigIds) {
          const config = await tenant.findInWorkspace(AiLlmConfig, 'AI LLM config', id);
          assertSameWorkspace(repository, config, 'AI LLM config');
          repository.aiConfigs.add(config);
        }
        await em.flush();
        auditTarget(
          { type: 'repository', id: repository.id, workspaceId: workspace.id },
          { name: body.name },
        );
        return { body: presentRepository(repository) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/repo/:repoId',
      tag: 'repositories',
      summary: 'Read a repository with its attached resources',
      access: 'VIEWER',
      params: repoParams,
      response: { status: 200, description: 'The repository' },
      async handler({ tenant, params }) {
        return { body: presentRepository(await loadRepository(tenant, params.repoId)) };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/repo/:repoId',
      tag: 'repositories',
      summary: 'Update a repository',
      access: 'MEMBER',
      audit: 'repository.update',
      params: repoParams,
      body: updateBody,
      response: { status: 200, description: 'Updated' },
      async handler({ em, tenant, params, body, auditTarget }) {
        const repository = await loadRepository(tenant, params.repoId);
        if (body.name && body.name !== repository.name) {
          const scope = { workspace: repository.workspace.id };
          await assertNameFree(em, Repository, { scope, name: body.name, label: 'A repository' });
        }
        const changed = Object.entries(body)
          .filter(([, value]) => value !== undefined)
          .map(([field]) => field);
        Object.assign(
          repository,
          Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined)),
        );
        if (body.aiLimits !== undefined) await announceRepositoryKeysChanged(em, repository);
        auditTarget(
          { type: 'repository', id: repository.id, workspaceId: repository.workspace.id },
          { fields: changed },
        );
        return { body: presentRepository(repository) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/repo/:repoId',
      tag: 'repositories',
      summary: 'Delete a repository and its keys (attached buckets and configs stay registered)',
      access: 'ADMIN',
      audit: 'repository.delete',
      params: repoParams,
      response: { status: 204, description: 'Deleted' },
      async handler({ em, tenant, params, auditTarget }) {
        const repository = await loadRepository(tenant, params.repoId);
        auditTarget(
          { type: 'repository', id: repository.id, workspaceId: repository.workspace.id },
          { name: repository.name },
        );
        for (const key of await em.find(RepoStorageKey, { repository }, { fields: ['accessKeyId'] })) {
          await announceStorageKeyChange(em, key.accessKeyId);
        }
        em.remove(repository);
        return {};
      },
    }),
    ...attachmentRoutes<Bucket>({
      path: 'bucket',
      label: 'Bucket',
      entity: Bucket,
      collection: 'buckets',
      auditName: 'bucket',
      check: checkVirtualBuckets,
    }),
    ...attachmentRoutes<AiLlmConfig>({
      path: 'ai/llm',
      label: 'AI LLM config',
      entity: AiLlmConfig,
      collection: 'aiConfigs',
      auditName: 'aiConfig',
    }),
  ];
}
