/**
 * The one place that decides what a caller may see: every lookup of a
 * tenant-owned resource goes through here, filtered by the caller's
 * organization. A resource of another organization is indistinguishable from
 * one that does not exist: both are 404.
 */
import type { EntityName } from '@mikro-orm/core';
import { Workspace } from '../core/db/entities/index.ts';
import type { EntityManager } from '../core/db/orm.ts';
import { notFound } from '../core/errors.ts';
import type { Caller } from './caller.ts';

/** Populate and ordering, as MikroORM takes them. */
export interface LookupOptions {
  populate?: readonly string[];
  orderBy?: Record<string, 'asc' | 'desc'>;
  fields?: readonly string[];
  limit?: number;
}

/**
 * Filters are built generically (`{ id, workspace: { organization } }`) for
 * entities whose shape the compiler cannot see here; `as never` hands them to
 * MikroORM, which checks them against the entity metadata at run time.
 */
export class TenantScope {
  readonly caller: Caller;
  readonly #em: EntityManager;

  constructor(em: EntityManager, caller: Caller) {
    this.#em = em;
    this.caller = caller;
  }

  get organizationId(): string {
    return this.caller.organizationId;
  }

  /** The named workspace of the caller's organization, or its default one. */
  async workspace(workspaceId?: string): Promise<Workspace> {
    const where = workspaceId
      ? { id: workspaceId, organization: this.organizationId }
      : { organization: this.organizationId, isDefault: true };
    const workspace = await this.#em.findOne(Workspace, where);
    if (!workspace) throw notFound('Workspace');
    return workspace;
  }

  /** A resource that belongs to a workspace (buckets, repositories, AI configs). */
  async findInWorkspace<T extends object>(
    entity: EntityName<T>,
    label: string,
    id: string,
    options?: LookupOptions,
  ): Promise<T> {
    const where = { id, workspace: { organization: this.organizationId } } as never;
    return this.#required(await this.#em.findOne(entity, where, options as never), label);
  }

  listInWorkspaces<T extends object>(entity: EntityName<T>, where: object = {}, options?: LookupOptions) {
    const scoped = {
      ...where,
      workspace: { ...(where as { workspace?: object }).workspace, organization: this.organizationId },
    };
    return this.#em.find(entity, scoped as never, options as never);
  }

  /** A resource that belongs to a repository (storage and AI keys). */
  async findInRepository<T extends object>(
    entity: EntityName<T>,
    label: string,
    repositoryId: string,
    id: string,
  ): Promise<T> {
    const where = {
      id,
      repository: { id: repositoryId, workspace: { organization: this.organizationId } },
    } as never;
    return this.#required(await this.#em.findOne(entity, where), label);
  }

  /** A resource that belongs to some repository of the organization (conversations). */
  async findInAnyRepository<T extends object>(
    entity: EntityName<T>,
    label: string,
    id: string,
    options?: LookupOptions,
  ): Promise<T> {
    const where = { id, repository: { workspace: { organization: this.organizationId } } } as never;
    return this.#required(await this.#em.findOne(entity, where, options as never), label);
  }

  listInRepositories<T extends object>(entity: EntityName<T>, where: object = {}, options?: LookupOptions) {
    const scoped = { ...where, repository: { workspace: { organization: this.organizationId } } };
    return this.#em.find(entity, scoped as never, options as never);
  }

  /** A resource that belongs directly to the organization (groups, policies, invitations). */
  async findInOrganization<T extends object>(
    entity: EntityName<T>,
    label: string,
    id: string,
    options?: LookupOptions,
  ): Promise<T> {
    const where = { id, organization: this.organizationId } as never;
    return this.#required(await this.#em.findOne(entity, where, options as never), label);
  }

  listInOrganization<T extends object>(entity: EntityName<T>, where: object = {}, options?: LookupOptions) {
    return this.#em.find(entity, { ...where, organization: this.organizationId } as never, options as never);
  }

  #required<T>(found: T | null, label: string): T {
    if (!found) throw notFound(label);
    return found;
  }
}
