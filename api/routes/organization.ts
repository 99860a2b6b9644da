/** The caller's organization, its workspaces, members and invitations. */
import { z } from 'zod';
import { inviteMember } from '../../core/auth/organizations.ts';
import {
  Invitation,
  Membership,
  Organization,
  type OrganizationRole,
  organizationRoles,
  roleAtLeast,
  Workspace,
} from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { AppError, forbidden, notFound } from '../../core/errors.ts';
import type { Caller } from '../caller.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { displayName, email, idParam, iso } from '../schemas.ts';
import { assertNameFree } from '../unique-names.ts';

const role = z.enum(organizationRoles);

const presentWorkspace = (workspace: Workspace) => ({
  id: workspace.id,
  name: workspace.name,
  isDefault: workspace.isDefault,
  createdAt: iso(workspace.createdAt),
});

const presentMember = (membership: Membership) => ({
  userId: membership.user.id,
  email: membership.user.email,
  displayName: membership.user.displayName ?? null,
  role: membership.role,
  joinedAt: iso(membership.createdAt),
});

/** Only an OWNER may hand out or take away OWNER, and an organization never loses its last OWNER. */
async function assertRoleChangeAllowed(
  em: EntityManager,
  caller: Caller,
  member: Membership,
  newRole?: OrganizationRole,
) {
  const touchesOwner = member.role === 'OWNER' || newRole === 'OWNER';
  if (touchesOwner && caller.role !== 'OWNER')
    throw forbidden('Only an OWNER may grant or change the OWNER role');
  if (member.role === 'OWNER' && newRole !== 'OWNER') {
    const owners = await em.count(Membership, { organization: caller.organizationId, role: 'OWNER' });
    if (owners <= 1) throw new AppError('CONFLICT', 'The organization must keep at least one OWNER');
  }
}

async function findMember(em: EntityManager, caller: Caller, userId: string): Promise<Membership> {
  const member = await em.findOne(
    Membership,
    { user: userId, organization: caller.organizationId },
    { populate: ['user'] },
  );
  if (!member) throw notFound('Member');
  return member;
}

export function organizationRoutes(): AnyRoute[] {
  return [
    protectedRoute({
      method: 'get',
      path: '/organization',
      tag: 'organization',
      summary: "The caller's organization and role",
      access: 'VIEWER',
      response: { status: 200, description: 'The organization' },
      async handler({ em, caller }) {
        const organization = await em.findOneOrFail(Organization, caller.organizationId);
        return {
          body: {
            id: organization.id,
            name: organization.name,
            role: caller.role,
            createdAt: iso(organization.createdAt),
          },
        };
      },
    }),
    protectedRoute({
      method: 'patch',
      path: '/organization',
      tag: 'organization',
      summary: 'Rename the organization',
      access: 'ADMIN',
      audit: 'organization.update',
      body: z.object({ name: z.string().trim().min(1).max(200) }).strict(),
      response: { status: 200, description: 'Updated' },
      async handler({ em, caller, body, auditTarget }) {
        const organization = await em.findOneOrFail(Organization, caller.organizationId);
        organization.name = body.name;
        auditTarget({ type: 'organization', id: organization.id }, { fields: ['name'] });
        return { body: { id: organization.id, name: organization.name } };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/workspace',
      tag: 'organization',
      summary: "List the organization's workspaces",
      access: 'VIEWER',
      response: { status: 200, description: 'Workspaces' },
      async handler({ em, caller }) {
        const workspaces = await em.find(
          Workspace,
          { organization: caller.organizationId },
          { orderBy: { createdAt: 'asc' } },
        );
        return { body: workspaces.map(presentWorkspace) };
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/workspace',
      tag: 'organization',
      summary: 'Create a workspace',
      access: 'ADMIN',
      audit: 'workspace.create',
      body: z.object({ name: displayName }).strict(),
      response: { status: 201, description: 'Created' },
      async handler({ em, caller, body, auditTarget }) {
        const scope = { organization: caller.organizationId };
        await assertNameFree(em, Workspace, { scope, name: body.name, label: 'A workspace' });
        const workspace = em.create(Workspace, { organization: caller.organizationId, name: body.name });
        await em.flush();
        auditTarget({ type: 'workspace', id: workspace.id, workspaceId: workspace.id });
        return { body: presentWorkspace(workspace) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/workspace/:workspaceId',
      tag: 'organization',
      summary: 'Read a workspace',
      access: 'VIEWER',
      params: idParam('workspaceId'),
      response: { status: 200, description: 'The workspace' },
      async handler({ tenant, params }) {
        return { body: presentWorkspace(await tenant.workspace(params.workspaceId)) };
      },
    }),
    protectedRoute({
      method: 'patch',
      path: '/workspace/:workspaceId',
      tag: 'organization',
      summary: 'Rename a workspace',
      access: 'ADMIN',
      audit: 'workspace.update',
      params: idParam('workspaceId'),
      body: z.object({ name: displayName }).strict(),
      response: { status: 200, description: 'Updated' },
      async handler({ em, tenant, params, body, auditTarget }) {
        const workspace = await tenant.workspace(params.workspaceId);
        const scope = { organization: tenant.organizationId };
        await assertNameFree(em, Workspace, {
          scope,
          name: body.name,
          label: 'A workspace',
          except: workspace.id,
        });
        workspace.name = body.name;
        auditTarget({ type: 'workspace', id: workspace.id, workspaceId: workspace.id }, { fields: ['name'] });
        return { body: presentWorkspace(workspace) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/workspace/:workspaceId',
      tag: 'organization',
      summary: 'Delete a workspace and everything in it',
      access: 'OWNER',
      audit: 'workspace.delete',
      params: idParam('workspaceId'),
      response: { status: 204, description: 'Deleted' },
      async handler({ em, tenant, params, auditTarget }) {
        const workspace = await tenant.workspace(params.workspaceId);
        if (workspace.isDefault) throw new AppError('CONFLICT', 'The default workspace cannot be deleted');
        auditTarget(
          { type: 'workspace', id: workspace.id, workspaceId: workspace.id },
          { name: workspace.name },
        );
        em.remove(workspace);
        return {};
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/organization/members',
      tag: 'organization',
      summary: 'List members and their roles',
      access: 'VIEWER',
      response: { status: 200, description: 'Members' },
      async handler({ em, caller }) {
        const members = await em.find(
          Membership,
          { organization: caller.organizationId },
          { populate: ['user'], orderBy: { createdAt: 'asc' } },
        );
        return { body: members.map(presentMember) };
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/organization/invitations',
      tag: 'organization',
      summary: 'Invite someone by email; the invitation token is shown once',
      access: 'ADMIN',
      audit: 'member.invite',
      body: z
        .object({
          email,
          role: role.default('MEMBER'),
          expiresInHours: z.number().int().min(1).max(720).default(168),
        })
        .strict(),
      response: { status: 201, description: 'Invitation and its one-time token' },
      async handler({ em, caller, body, auditTarget }) {
        if (body.role === 'OWNER' && caller.role !== 'OWNER')
          throw forbidden('Only an OWNER may invite an OWNER');
        const { invitation, token } = await inviteMember(em, {
          organizationId: caller.organizationId,
          email: body.email,
          role: body.role,
          invitedBy: caller.userId,
          ttlHours: body.expiresInHours,
        });
        auditTarget({ type: 'invitation', id: invitation.id }, { email: body.email, role: body.role });
        return {
          body: {
            id: invitation.id,
            email: invitation.email,
            role: invitation.role,
            expiresAt: iso(invitation.expiresAt),
            token,
          },
        };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/organization/invitations',
      tag: 'organization',
      summary: 'List invitations (tokens are never shown again)',
      access: 'ADMIN',
      response: { status: 200, description: 'Invitations' },
      async handler({ tenant }) {
        const invitations = await tenant.listInOrganization(
          Invitation,
          {},
          { orderBy: { createdAt: 'desc' } },
        );
        return {
          body: invitations.map((invitation) => ({
            id: invitation.id,
            email: invitation.email,
            role: invitation.role,
            expiresAt: iso(invitation.expiresAt),
            acceptedAt: iso(invitation.acceptedAt),
          })),
        };
      },
    }),
    protectedRoute({
      method: 'patch',
      path: '/organization/members/:userId',
      tag: 'organization',
      summary: "Change a member's role",
      access: 'ADMIN',
      audit: 'member.role.change',
      params: idParam('userId'),
      body: z.object({ role }).strict(),
      response: { status: 200, description: 'Updated member' },
      async handler({ em, caller, params, body, auditTarget }) {
        const member = await findMember(em, caller, params.userId);
        await assertRoleChangeAllowed(em, caller, member, body.role);
        auditTarget({ type: 'member', id: member.user.id }, { from: member.role, to: body.role });
        member.role = body.role;
        return { body: presentMember(member) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/organization/members/:userId',
      tag: 'organization',
      summary: 'Remove a member from the organization',
      access: 'ADMIN',
      audit: 'member.remove',
      params: idParam('userId'),
      response: { status: 204, description: 'Removed' },
      async handler({ em, caller, params, auditTarget }) {
        const member = await findMember(em, caller, params.userId);
        if (!roleAtLeast(caller.role, member.role))
          throw forbidden('You cannot remove a member with a higher role');
        await assertRoleChangeAllowed(em, caller, member, undefined);
        auditTarget({ type: 'member', id: member.user.id }, { role: member.role });
        em.remove(member);
        return {};
      },
    }),
  ];
}
