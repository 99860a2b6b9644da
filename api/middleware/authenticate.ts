/**
 * Who is calling: a Bearer session token (FB_JWT) resolved to a user and their
 * organization role. Every authenticated route goes through here; role checks
 * go through `requireRole`.
 */
import type { RequestHandler } from 'express';
import type { TokenSigner } from '../../core/auth/tokens.ts';
import { Membership, type OrganizationRole, roleAtLeast } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { forbidden, unauthenticated } from '../../core/errors.ts';

export interface Caller {
  userId: string;
  organizationId: string;
  role: OrganizationRole;
}

declare module 'express-serve-static-core' {
  interface Request {
    caller?: Caller;
  }
}

export function authenticate(deps: { tokens: TokenSigner; em: EntityManager }): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw unauthenticated('Send a session token as `Authorization: Bearer <FB_JWT>`');
    const { userId } = await deps.tokens.verify(match[1]);
    const membership = await deps.em
      .fork()
      .findOne(Membership, { user: userId }, { orderBy: { createdAt: 'asc' } });
    if (!membership) throw unauthenticated('Invalid or expired token');
    req.caller = { userId, organizationId: membership.organization.id, role: membership.role };
    next();
  };
}

export function requireRole(minimum: OrganizationRole): RequestHandler {
  return (req, _res, next) => {
    if (!req.caller) throw unauthenticated();
    if (!roleAtLeast(req.caller.role, minimum))
      throw forbidden(`This action needs the ${minimum} role or higher`);
    next();
  };
}

export function callerOf(req: { caller?: Caller }): Caller {
  if (!req.caller) throw unauthenticated();
  return req.caller;
}
