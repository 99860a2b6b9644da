import { randomUUID } from 'node:crypto';
import { defineEntity, p } from '@mikro-orm/core';
import { Organization } from './organization.ts';
import { User } from './user.ts';

/** Roles within an organization, from most to least powerful. */
export const organizationRoles = ['OWNER', 'ADMIN', 'MEMBER', 'VIEWER'] as const;
export type OrganizationRole = (typeof organizationRoles)[number];

const MembershipSchema = defineEntity({
  name: 'Membership',
  tableName: 'memberships',
  uniques: [{ properties: ['user', 'organization'] }],
  indexes: [{ properties: ['organization'] }],
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    user: () => p.manyToOne(User).deleteRule('cascade'),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    role: p.enum(organizationRoles),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export class Membership extends MembershipSchema.class {}
MembershipSchema.setClass(Membership);

/** True when `role` is at least as powerful as `required`. */
export function roleAtLeast(role: OrganizationRole, required: OrganizationRole): boolean {
  return organizationRoles.indexOf(role) <= organizationRoles.indexOf(required);
}
