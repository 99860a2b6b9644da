/**
 * Every API route is declared once, as data: method, path, who may call it,
 * the schemas of its input and output, and its handler. One mounting step
 * (mount.ts) applies authentication, the role check, tenancy, validation and
 * auditing to all of them; the OpenAPI document (openapi.ts) and the
 * authorisation test matrix are generated from the same table.
 */
import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { OrganizationRole } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import type { Caller } from '../caller.ts';
import type { TenantScope } from '../tenancy.ts';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** `public`: no token. Otherwise the least role in the caller's organization. */
export type Access = 'public' | OrganizationRole;

export interface AuditTarget {
  type: string;
  id: string;
  workspaceId?: string;
}

export interface RouteContext<Params, Query, Body> {
  params: Params;
  query: Query;
  body: Body;
  /** A request-scoped entity manager. */
  em: EntityManager;
  req: Request;
  res: Response;
  requestId: string;
}

export interface AuthenticatedContext<Params, Query, Body> extends RouteContext<Params, Query, Body> {
  caller: Caller;
  tenant: TenantScope;
  /** Names what the change touched, for the audit record written when the handler succeeds. */
  auditTarget(target: AuditTarget, details?: Record<string, unknown>): void;
  /** Work that must see the committed change, such as starting a workflow that reads it. */
  afterCommit(task: () => Promise<void>): void;
}

export interface RouteResult {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** The handler's after-commit work writes the response itself (a streamed answer). */
  answered?: boolean;
}

interface RouteBase<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: HttpMethod;
  /** Express syntax: `/bucket/:bucketId`. */
  path: string;
  summary: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  /** The success answer, for the OpenAPI document. */
  response: { status: number; description: string; schema?: z.ZodType };
}

export interface PublicRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>
  extends RouteBase<P, Q, B> {
  access: 'public';
  handler(ctx: RouteContext<z.output<P>, z.output<Q>, z.output<B>>): Promise<RouteResult>;
}

export interface ProtectedRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>
  extends RouteBase<P, Q, B> {
  access: OrganizationRole;
  /** Audit action recorded for this route (required for every change: post, put, patch, delete). */
  audit?: string;
  handler(ctx: AuthenticatedContext<z.output<P>, z.output<Q>, z.output<B>>): Promise<RouteResult>;
}

// biome-ignore lint/suspicious/noExplicitAny: a table of routes with different input schemas
export type AnyRoute = PublicRoute<any, any, any> | ProtectedRoute<any, any, any>;

export function publicRoute<
  P extends z.ZodType = z.ZodUndefined,
  Q extends z.ZodType = z.ZodUndefined,
  B extends z.ZodType = z.ZodUndefined,
>(route: Omit<PublicRoute<P, Q, B>, 'access'>): AnyRoute {
  return { ...route, access: 'public' } as AnyRoute;
}

export function protectedRoute<
  P extends z.ZodType = z.ZodUndefined,
  Q extends z.ZodType = z.ZodUndefined,
  B extends z.ZodType = z.ZodUndefined,
>(route: ProtectedRoute<P, Q, B>): AnyRoute {
  return route as AnyRoute;
}

export const isChange = (route: AnyRoute) => route.method !== 'get';
