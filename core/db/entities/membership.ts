import { defineEntity, p } from '@mikro-orm/core';
import { createdAt, uuidPrimaryKey } from './common-properties.ts';
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
    id: uuidPrimaryKey(),
    user: () => p.manyToOne(User).deleteRule('cascade'),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    role: p.enum(organizationRoles),
    createdAt: createdAt(),
  },
});

export class Membership extends MembershipSchema.class {}
MembershipSchema.setClass(Membership);

/** True when `role` is at least as powerful as `required`. */
export function roleAtLeast(role: OrganizationRole, required: OrganizationRole): boolean {
  return organizationRoles.indexOf(role) <= organizationRoles.indexOf(required);
}
