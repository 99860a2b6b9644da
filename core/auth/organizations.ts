/** Creating an organization and joining one: the domain side of sign-up and invitations. */
import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  Invitation,
  Membership,
  Organization,
  type OrganizationRole,
  User,
  Workspace,
} from '../db/entities/index.ts';
import { AppError } from '../errors.ts';
import { hashPassword } from './passwords.ts';

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export async function assertEmailFree(em: EntityManager, email: string): Promise<void> {
  if ((await em.count(User, { email })) > 0)
    throw new AppError('CONFLICT', 'An account with this email already exists');
}

export async function createOrganizationWithOwner(
  em: EntityManager,
  input: { email: string; password: string; organizationName: string; displayName?: string },
) {
  await assertEmailFree(em, input.email);
  const organization = em.create(Organization, { name: input.organizationName });
  const workspace = em.create(Workspace, { organization, name: 'default', isDefault: true });
  const user = em.create(User, {
    email: input.email,
    displayName: input.displayName ?? null,
    passwordHash: await hashPassword(input.password),
  });
  em.create(Membership, { user, organization, role: 'OWNER' });
  await em.flush();
  return { organization, workspace, user };
}

/** Issues an invitation; the token is returned once and stored only as a hash. */
export async function inviteMember(
  em: EntityManager,
  input: {
    organizationId: string;
    email: string;
    role: OrganizationRole;
    invitedBy: string;
    ttlHours: number;
  },
) {
  const token = `sbinv_${randomBytes(24).toString('base64url')}`;
  const invitation = em.create(Invitation, {
    organization: input.organizationId,
    email: input.email,
    role: input.role,
    tokenHash: hashToken(token),
    expiresAt: new Date(Date.now() + input.ttlHours * 3_600_000),
    invitedBy: input.invitedBy,
  });
  await em.flush();
  return { invitation, token };
}

export async function acceptInvitation(
  em: EntityManager,
  input: { token: string; email: string; password: string; displayName?: string },
) {
  const invitation = await em.findOne(
    Invitation,
    { tokenHash: hashToken(input.token) },
    { populate: ['organization'] },
  );
  const usable = invitation && !invitation.acceptedAt && invitation.expiresAt > new Date();
  if (!usable) throw new AppError('FORBIDDEN', 'The invitation is invalid, expired or already used');
  if (invitation.email !== input.email)
    throw new AppError('FORBIDDEN', 'The invitation was issued for another email');
  await assertEmailFree(em, input.email);
  const user = em.create(User, {
    email: input.email,
    displayName: input.displayName ?? null,
    passwordHash: await hashPassword(input.password),
  });
  em.create(Membership, { user, organization: invitation.organization, role: invitation.role });
  invitation.acceptedAt = new Date();
  await em.flush();
  const workspace = await em.findOneOrFail(Workspace, {
    organization: invitation.organization,
    isDefault: true,
  });
  return { organization: invitation.organization, workspace, user };
}
