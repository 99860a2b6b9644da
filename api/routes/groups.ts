/** CP-2: groups (departments, squads, projects) of members, and their grants on repositories. */
import { z } from 'zod';
import { Group, GroupGrant, groupGrantAccess, Membership, Repository } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { notFound } from '../../core/errors.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { description, displayName, idParam, iso, uuid } from '../schemas.ts';
import type { TenantScope } from '../tenancy.ts';
import { assertNameFree } from '../unique-names.ts';

const memberParams = z.object({ groupId: uuid, userId: uuid });
const grantParams = z.object({ groupId: uuid, repoId: uuid });

async function presentGroup(em: EntityManager, group: Group) {
  const grants = await em.find(GroupGrant, { group }, { orderBy: { createdAt: 'asc' } });
  return {
    id: group.id,
    name: group.name,
    description: group.description ?? null,
    memberIds: group.members.isInitialized() ? group.members.getItems().map((user) => user.id) : [],
    grants: grants.map((grant) => ({ repositoryId: grant.repository.id, access: grant.access })),
    createdAt: iso(group.createdAt),
  };
}

const loadGroup = (tenant: TenantScope, groupId: string) =>
  tenant.findInOrganization(Group, 'Group', groupId, { populate: ['members'] });

export function groupRoutes(): AnyRoute[] {
  return [
    protectedRoute({
      method: 'get',
      path: '/group',
      tag: 'organization',
      summary: 'List groups with their members and grants',
      access: 'VIEWER',
      response: { status: 200, description: 'Groups' },
      async handler({ em, tenant }) {
        const groups = await tenant.listInOrganization(
          Group,
          {},
          { populate: ['members'], orderBy: { name: 'asc' } },
        );
        return { body: await Promise.all(groups.map((group) => presentGroup(em, group))) };
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/group',
      tag: 'organization',
      summary: 'Create a group',
      access: 'ADMIN',
      audit: 'group.create',
      body: z.object({ name: displayName, description: description.optional() }).strict(),
      response: { status: 201, description: 'Created' },
      async handler({ em, tenant, body, auditTarget }) {
        await assertNameFree(em, Group, {
          scope: { organization: tenant.organizationId },
          name: body.name,
          label: 'A group',
        });
        const group = em.create(Group, {
          organization: tenant.organizationId,
          name: body.name,
          description: body.description ?? null,
        });
        await em.flush();
        auditTarget({ type: 'group', id: group.id }, { name: body.name });
        return { body: await presentGroup(em, group) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/group/:groupId',
      tag: 'organization',
      summary: 'Read a group',
      access: 'VIEWER',
      params: idParam('groupId'),
      response: { status: 200, description: 'The group' },
      async handler({ em, tenant, params }) {
        return { body: await presentGroup(em, await loadGroup(tenant, params.groupId)) };
      },
    }),
    protectedRoute({
      method: 'patch',
      path: '/group/:groupId',
      tag: 'organization',
      summary: 'Rename or describe a group',
      access: 'ADMIN',
      audit: 'group.update',
      params: idParam('groupId'),
      body: z
        .object({ name: displayName.optional(), description: description.nullable().optional() })
        .strict(),
      response: { status: 200, description: 'Updated' },
      async handler({ em, tenant, params, body, auditTarget }) {
        const group = await loadGroup(tenant, params.groupId);
        if (body.name && body.name !== group.name)
          await assertNameFree(em, Group, {
            scope: { organization: tenant.organizationId },
            name: body.name,
            label: 'A group',
          });
        if (body.name !== undefined) group.name = body.name;
        if (body.description !== undefined) group.description = body.description;
        auditTarget({ type: 'group', id: group.id }, { fields: Object.keys(body) });
        return { body: await presentGroup(em, group) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/group/:groupId',
      tag: 'organization',
      summary: 'Delete a group and its grants',
      access: 'ADMIN',
      audit: 'group.delete',
      params: idParam('groupId'),
      response: { status: 204, description: 'Deleted' },
      async handler({ em, tenant, params, auditTarget }) {
        const group = await loadGroup(tenant, params.groupId);
        auditTarget({ type: 'group', id: group.id }, { name: group.name });
        em.remove(group);
        return {};
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/group/:groupId/members/:userId',
      tag: 'organization',
      summary: 'Add a member of the organization to a group',
      access: 'ADMIN',
      audit: 'group.member.add',
      params: memberParams,
      response: { status: 200, description: 'The group' },
      async handler({ em, tenant, params, auditTarget }) {
        const group = await loadGroup(tenant, params.groupId);
        const membership = await em.findOne(Membership, {
          user: params.userId,
          organization: tenant.organizationId,
        });
        if (!membership) throw notFound('Member');
        group.members.add(membership.user);
        auditTarget({ type: 'group', id: group.id }, { userId: params.userId });
        return { body: await presentGroup(em, group) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/group/:groupId/members/:userId',
      tag: 'organization',
      summary: 'Remove a member from a group',
      access: 'ADMIN',
      audit: 'group.member.remove',
      params: memberParams,
      response: { status: 200, description: 'The group' },
      async handler({ em, tenant, params, auditTarget }) {
        const group = await loadGroup(tenant, params.groupId);
        const member = group.members.getItems().find((user) => user.id === params.userId);
        if (!member) throw notFound('Group member');
        group.members.remove(member);
        auditTarget({ type: 'group', id: group.id }, { userId: params.userId });
        return { body: await presentGroup(em, group) };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/group/:groupId/grants/:repoId',
      tag: 'organization',
      summary: 'Grant a group access to a repository (or change its level)',
      access: 'ADMIN',
      audit: 'group.grant.set',
      params: grantParams,
      body: z.object({ access: z.enum(groupGrantAccess) }).strict(),
      response: { status: 200, description: 'The group' },
      async handler({ em, tenant, params, body, auditTarget }) {
        const group = await loadGroup(tenant, params.groupId);
        const repository = await tenant.findInWorkspace(Repository, 'Repository', params.repoId);
        const grant =
          (await em.findOne(GroupGrant, { group, repository })) ??
          em.create(GroupGrant, { group, repository, access: body.access });
        grant.access = body.access;
        await em.flush();
        auditTarget({ type: 'group', id: group.id }, { repositoryId: repository.id, access: body.access });
        return { body: await presentGroup(em, group) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/group/:groupId/grants/:repoId',
      tag: 'organization',
      summary: "Withdraw a group's access to a repository",
      access: 'ADMIN',
      audit: 'group.grant.remove',
      params: grantParams,
      response: { status: 200, description: 'The group' },
      async handler({ em, tenant, params, auditTarget }) {
        const group = await loadGroup(tenant, params.groupId);
        const grant = await em.findOne(GroupGrant, { group, repository: params.repoId });
        if (!grant) throw notFound('Grant');
        em.remove(grant);
        await em.flush();
        auditTarget({ type: 'group', id: group.id }, { repositoryId: params.repoId });
        return { body: await presentGroup(em, group) };
      },
    }),
  ];
}
