import { defineEntity, p } from '@mikro-orm/core';
import { createdAt, uuidPrimaryKey } from './common-properties.ts';
import { Organization } from './organization.ts';

export const auditOutcomes = ['SUCCESS', 'FAILURE'] as const;

const AuditEventSchema = defineEntity({
  name: 'AuditEvent',
  tableName: 'audit_events',
  indexes: [{ properties: ['organization', 'createdAt'] }],
  properties: {
    id: uuidPrimaryKey(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    actorUserId: p.uuid().nullable(),
    actorEmail: p.string().length(320).nullable(),
    action: p.string().length(100),
    targetType: p.string().length(50).nullable(),
    targetId: p.string().length(100).nullable(),
    workspaceId: p.uuid().nullable(),
    outcome: p.enum(auditOutcomes),
    /** Never holds a secret: handlers pass only names, ids and changed field names. */
    details: p.json<Record<string, unknown>>().nullable(),
    requestId: p.string().length(128).nullable(),
    createdAt: createdAt(),
  },
});

export class AuditEvent extends AuditEventSchema.class {}
AuditEventSchema.setClass(AuditEvent);
