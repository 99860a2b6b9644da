/** What a job does on its own, without an API caller (pausing itself, finishing), written to the audit log. */
import { AuditEvent } from '../core/db/entities/index.ts';
import type { EntityManager } from '../core/db/orm.ts';
import type { JobAuditEntry } from '../workflows/definitions.ts';

export function auditActivities(deps: { em: EntityManager }) {
  return {
    async recordJobAudit(entry: JobAuditEntry): Promise<void> {
      const em = deps.em.fork();
      em.create(AuditEvent, {
        organization: entry.organizationId,
        actorUserId: null,
        actorEmail: null,
        action: entry.action,
        targetType: 'job',
        targetId: entry.jobId,
        workspaceId: entry.workspaceId ?? null,
        outcome: entry.outcome,
        details: entry.details ?? null,
        requestId: null,
      });
      await em.flush();
    },
  };
}
