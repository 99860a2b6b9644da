/**
 * Turns the route table into Express handlers. Every route goes through the
 * same steps, in this order: authenticate (401), role check (403), input
 * validation (400), handler inside one database transaction with tenancy
 * applied by TenantScope (404 across organizations), audit record, answer.
 */
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { TokenSigner } from '../../core/auth/tokens.ts';
import { AuditEvent, Membership, roleAtLeast } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { forbidden, unauthenticated } from '../../core/errors.ts';
import type { Caller } from '../caller.ts';
import { toAppError } from '../middleware/problem.ts';
import { TenantScope } from '../tenancy.ts';
import type { AnyRoute, AuditTarget, ProtectedRoute, PublicRoute, RouteResult } from './route.ts';

export interface MountDependencies {
  em: EntityManager;
  tokens: TokenSigner;
}

export function mountRoutes(router: Router, routes: AnyRoute[], deps: MountDependencies): void {
  for (const route of routes) {
    router[route.method](route.path, async (req, res) => {
      const result =
        route.access === 'public'
          ? await runPublic(route, req, res, deps)
          : await runProtected(route, req, res, deps);
      send(res, route, result);
    });
  }
}

/** Resolves `Authorization: Bearer <FB_JWT>` to the caller and their role in their organization. */
export async function authenticateRequest(req: Request, deps: MountDependencies): Promise<Caller> {
  const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
  if (!match?.[1]) throw unauthenticated('Send a session token as `Authorization: Bearer <FB_JWT>`');
  const { userId } = await deps.tokens.verify(match[1]);
  const membership = await deps.em
    .fork()
    .findOne(Membership, { user: userId }, { populate: ['user'], orderBy: { createdAt: 'asc' } });
  if (!membership) throw unauthenticated('Invalid or expired token');
  return {
    userId,
    email: membership.user.email,
    organizationId: membership.organization.id,
    role: membership.role,
  };
}

function parseInput(route: AnyRoute, req: Request) {
  return {
    params: (route.params ?? z.any()).parse(req.params),
    query: (route.query ?? z.any()).parse(req.query),
    body: route.body ? route.body.parse(req.body ?? {}) : undefined,
  };
}

async function runPublic(
  route: PublicRoute<z.ZodType, z.ZodType, z.ZodType>,
  req: Request,
  res: Response,
  deps: MountDependencies,
): Promise<RouteResult> {
  const input = parseInput(route, req);
  return deps.em
    .fork()
    .transactional((em) => route.handler({ ...input, em, req, res, requestId: requestIdOf(req) }));
}

async function runProtected(
  route: ProtectedRoute<z.ZodType, z.ZodType, z.ZodType>,
  req: Request,
  res: Response,
  deps: MountDependencies,
): Promise<RouteResult> {
  const caller = await authenticateRequest(req, deps);
  req.caller = caller;
  const audit = route.audit ? auditRecorder(route.audit, caller, req, deps.em) : undefined;
  try {
    if (!roleAtLeast(caller.role, route.access))
      throw forbidden(`This action needs the ${route.access} role or higher`);
    const input = parseInput(route, req);
    const afterCommit: (() => Promise<void>)[] = [];
    const result = await deps.em.fork().transactional(async (em) => {
      const context = {
        ...input,
        em,
        req,
        res,
        requestId: requestIdOf(req),
        caller,
        tenant: new TenantScope(em, caller),
        auditTarget: (target: AuditTarget, details?: Record<string, unknown>) =>
          audit?.target(target, details),
        afterCommit: (task: () => Promise<void>) => afterCommit.push(task),
      };
      const answer = await route.handler(context);
      audit?.recordIn(em, 'SUCCESS');
      return answer;
    });
    for (const task of afterCommit) await task();
    return result;
  } catch (error) {
    await audit?.recordFailure(error);
    throw error;
  }
}

function auditRecorder(action: string, caller: Caller, req: Request, rootEm: EntityManager) {
  let target: AuditTarget | undefined;
  let details: Record<string, unknown> | undefined;
  const event = (em: EntityManager, outcome: 'SUCCESS' | 'FAILURE', extra?: Record<string, unknown>) =>
    em.create(AuditEvent, {
      organization: caller.organizationId,
      actorUserId: caller.userId,
      actorEmail: caller.email,
      action,
      targetType: target?.type ?? null,
      targetId: target?.id ?? null,
      workspaceId: target?.workspaceId ?? null,
      outcome,
      details: details || extra ? { ...details, ...extra } : null,
      requestId: requestIdOf(req),
    });
  return {
    target(newTarget: AuditTarget, newDetails?: Record<string, unknown>) {
      target = newTarget;
      details = newDetails;
    },
    recordIn(em: EntityManager, outcome: 'SUCCESS') {
      event(em, outcome);
    },
    /** Outside the failed transaction, so the attempt is kept even though its change was rolled back. */
    async recordFailure(error: unknown) {
      const code =
        error instanceof z.ZodError ? 'VALIDATION_FAILED' : (toAppError(error)?.code ?? 'INTERNAL');
      const em = rootEm.fork();
      event(em, 'FAILURE', { error: code });
      await em.flush();
    },
  };
}

function send(res: Response, route: AnyRoute, result: RouteResult): void {
  if (result.answered) return;
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
  const status = result.status ?? route.response.status;
  if (result.body === undefined) {
    res.status(status).end();
    return;
  }
  res.status(status).json(result.body);
}

function requestIdOf(req: Request): string {
  return String(req.id ?? '');
}
