/** CP-10: the audit log, filterable by time, actor, target and action, newest first with a cursor. */
import { z } from 'zod';
import { AuditEvent } from '../../core/db/entities/index.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { iso, isoDate, uuid } from '../schemas.ts';

const query = z.object({
  from: isoDate.optional(),
  to: isoDate.optional(),
  actor: z.string().min(1).max(320).optional().describe('user id or email'),
  action: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe('exact action, or a prefix ending in * (e.g. bucket.*)'),
  targetType: z.string().min(1).max(50).optional(),
  targetId: z.string().min(1).max(100).optional(),
  outcome: z.enum(['SUCCESS', 'FAILURE']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: isoDate.optional().describe('cursor: the createdAt of the last event of the previous page'),
});

export function auditRoutes(): AnyRoute[] {
  return [
    protectedRoute({
      method: 'get',
      path: '/audit',
      tag: 'audit',
      summary: 'Read the audit log',
      access: 'ADMIN',
      query,
      response: { status: 200, description: 'Events, newest first, and a cursor for the next page' },
      async handler({ tenant, query: filters }) {
        const createdAt: Record<string, Date> = {};
        if (filters.from) createdAt.$gte = new Date(filters.from);
        if (filters.to) createdAt.$lt = new Date(filters.to);
        if (filters.before)
          createdAt.$lt = new Date(
            Math.min(new Date(filters.before).getTime(), createdAt.$lt?.getTime() ?? Infinity),
          );
        const actor = filters.actor
          ? uuid.safeParse(filters.actor).success
            ? { actorUserId: filters.actor }
            : { actorEmail: filters.actor.toLowerCase() }
          : {};
        const action = filters.action?.endsWith('*')
          ? { action: { $like: `${filters.action.slice(0, -1).replace(/[%_\\]/g, '\\$&')}%` } }
          : filters.action
            ? { action: filters.action }
            : {};
        const where = {
          ...actor,
          ...action,
          ...(filters.targetType ? { targetType: filters.targetType } : {}),
          ...(filters.targetId ? { targetId: filters.targetId } : {}),
          ...(filters.outcome ? { outcome: filters.outcome } : {}),
          ...(Object.keys(createdAt).length > 0 ? { createdAt } : {}),
        };
        const events = await tenant.listInOrganization(AuditEvent, where, {
          orderBy: { createdAt: 'desc' },
          limit: filters.limit,
        });
        return {
          body: {
            events: events.map((event) => ({
              id: event.id,
              at: iso(event.createdAt),
              actor: { userId: event.actorUserId ?? null, email: event.actorEmail ?? null },
              action: event.action,
              target: {
                type: event.targetType ?? null,
                id: event.targetId ?? null,
                workspaceId: event.workspaceId ?? null,
              },
              outcome: event.outcome,
              details: event.details ?? null,
              requestId: event.requestId ?? null,
            })),
            nextBefore: events.length === filters.limit ? iso(events.at(-1)?.createdAt) : null,
          },
        };
      },
    }),
  ];
}
