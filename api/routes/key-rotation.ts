/**
 * JOB-3 from the API: `POST /repo/{repoId}/apikey/{keyId}/rotate` and
 * `POST /repo/{repoId}/ai/apikey/{keyId}/rotate` issue the successor key (its
 * secret is in this answer only, never in the workflow's history) and start
 * the rotation job, which keeps both keys valid for the grace period and then
 * revokes the old one. `PATCH /jobs/{id}` with `graceSeconds` moves the end.
 */
import { randomUUID } from 'node:crypto';
import type { EntityName } from '@mikro-orm/core';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { RepoAiKey, RepoStorageKey } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { AppError } from '../../core/errors.ts';
import type { MasterKeyring } from '../../core/secrets/keyring.ts';
import { type KeyRotationInput, maxGraceSeconds } from '../../workflows/definitions.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { uuid } from '../schemas.ts';
import type { TenantScope } from '../tenancy.ts';
import { jobStartOptions } from './jobs.ts';
import { issueAiKey, issueStorageKey } from './repo-keys.ts';

const keyParams = z.object({ repoId: uuid, keyId: uuid });
const rotateBody = z
  .object({ graceSeconds: z.number().int().min(0).max(maxGraceSeconds).default(86_400) })
  .strict();

export interface KeyRotationDependencies {
  temporal: Client;
  taskQueue: string;
  keyring: MasterKeyring;
}

function assertRotatable(key: { revokedAt?: Date | null }): void {
  if (key.revokedAt) throw new AppError('CONFLICT', 'A revoked key cannot be rotated');
}

/** Starts the job once the successor is committed; returns its id. */
function startRotation(
  deps: KeyRotationDependencies,
  context: { tenant: TenantScope; afterCommit(task: () => Promise<void>): void },
  input: KeyRotationInput,
  scope: { workspaceId: string; repositoryId: string },
): string {
  const jobId = `key-rotation-${randomUUID()}`;
  context.afterCommit(async () => {
    await deps.temporal.workflow.start('rotateKeyWorkflow', {
      workflowId: jobId,
      taskQueue: deps.taskQueue,
      args: [input],
      ...jobStartOptions({
        kind: 'key-rotation',
        organizationId: context.tenant.organizationId,
        startedBy: context.tenant.caller.userId,
        workspaceId: scope.workspaceId,
        repositoryId: scope.repositoryId,
      }),
    });
  });
  return jobId;
}

const graceEndOf = (graceSeconds: number) => new Date(Date.now() + graceSeconds * 1000).toISOString();

/** What differs between rotating a storage key and an AI key. */
interface RotatableKey<K extends RepoStorageKey | RepoAiKey> {
  keyKind: 'storage' | 'ai';
  entity: EntityName<K>;
  path: string;
  what: string;
  /** The successor, with the old key's settings; `present()` includes its secret. */
  issue(em: EntityManager, old: K, createdBy: string): { key: { id: string }; present(): unknown };
}

function rotationRoute<K extends RepoStorageKey | RepoAiKey>(
  deps: KeyRotationDependencies,
  spec: RotatableKey<K>,
): AnyRoute {
  return protectedRoute({
    method: 'post',
    path: spec.path,
    tag: 'repository keys',
    summary: `Rotate ${spec.what}: a successor now (its secret shown once), the old key revoked after the grace period`,
    access: 'MEMBER',
    audit: `${spec.keyKind === 'storage' ? 'storage-key' : 'ai-key'}.rotate`,
    params: keyParams,
    body: rotateBody,
    response: { status: 202, description: 'The successor key and the rotation job' },
    async handler({ em, tenant, caller, params, body, auditTarget, afterCommit }) {
      const old = await tenant.findInRepository(spec.entity, 'Key', params.repoId, params.keyId);
      assertRotatable(old);
      await em.populate(old, ['repository.workspace'] as never);
      const issued = spec.issue(em, old, caller.userId);
      await em.flush();
      const scope = { workspaceId: old.repository.workspace.id, repositoryId: old.repository.id };
      const input = {
        keyKind: spec.keyKind,
        oldKeyId: old.id,
        newKeyId: issued.key.id,
        graceSeconds: body.graceSeconds,
      };
      const jobId = startRotation(deps, { tenant, afterCommit }, input, scope);
      auditTarget(
        {
          type: `${spec.keyKind === 'storage' ? 'storage' : 'ai'}-key`,
          id: old.id,
          workspaceId: scope.workspaceId,
        },
        { jobId, successor: issued.key.id },
      );
      return {
        headers: { location: `/jobs/${jobId}` },
        body: { jobId, graceEndsAt: graceEndOf(body.graceSeconds), key: issued.present() },
      };
    },
  });
}

export function keyRotationRoutes(deps: KeyRotationDependencies): AnyRoute[] {
  return [
    rotationRoute<RepoStorageKey>(deps, {
      keyKind: 'storage',
      entity: RepoStorageKey,
      path: '/repo/:repoId/apikey/:keyId/rotate',
      what: 'a storage key',
      issue: (em, old, createdBy) =>
        issueStorageKey(em, deps.keyring, {
          repository: old.repository,
          name: old.name,
          scope: old.scope,
          expiresAt: old.expiresAt,
          createdBy,
        }),
    }),
    rotationRoute<RepoAiKey>(deps, {
      keyKind: 'ai',
      entity: RepoAiKey,
      path: '/repo/:repoId/ai/apikey/:keyId/rotate',
      what: 'an AI key',
      issue: (em, old, createdBy) =>
        issueAiKey(em, {
          repository: old.repository,
          name: old.name,
          expiresAt: old.expiresAt,
          aiLimits: old.aiLimits,
          createdBy,
        }),
    }),
  ];
}
