import { defineEntity, p } from '@mikro-orm/core';
import { createdAt, uuidPrimaryKey } from './common-properties.ts';
import { organizationRoles } from './membership.ts';
import { Organization } from './organization.ts';

const InvitationSchema = defineEntity({
  name: 'Invitation',
  tableName: 'invitations',
  properties: {
    id: uuidPrimaryKey(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    email: p.string().length(320),
    role: p.enum(organizationRoles),
    /** SHA-256 of the invitation token; the token itself is shown once to the inviter. */
    tokenHash: p.string().length(64).unique().hidden(),
    expiresAt: p.datetime(),
    acceptedAt: p.datetime().nullable(),
    invitedBy: p.uuid().nullable(),
    createdAt: createdAt(),
  },
});

export class Invitation extends InvitationSchema.class {}
InvitationSchema.setClass(Invitation);
