/**
 * CP-5 and CP-7: a repository's storage keys (SigV4 access key pairs) and AI
 * keys (bearer tokens). Secrets are shown once, in the creation answer.
 */
import { z } from 'zod';
import {
  type AiLimits,
  RepoAiKey,
  RepoStorageKey,
  Repository,
  storageKeyScopes,
} from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { announceAiKeyChange } from '../../core/keys/ai-key-resolver.ts';
import { newAiKey, newStorageKeyPair, sealStorageKeySecret } from '../../core/keys/repo-keys.ts';
import { announceStorageKeyChange } from '../../core/keys/storage-key-resolver.ts';
import type { MasterKeyring } from '../../core/secrets/keyring.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { aiLimits, displayName, iso, isoDate, uuid } from '../schemas.ts';

const repoParams = z.object({ repoId: uuid });
const keyParams = z.object({ repoId: uuid, keyId: uuid });
const expiresAt = isoDate
  .refine((value) => new Date(value) > new Date(), 'must be in the future')
  .nullable()
  .optional();

function lifecycle(key: { expiresAt?: Date | null; revokedAt?: Date | null }) {
  if (key.revokedAt) return 'REVOKED';
  if (key.expiresAt && key.expiresAt <= new Date()) return 'EXPIRED';
  return 'ACTIVE';
}

const presentStorageKey = (key: RepoStorageKey) => ({
  id: key.id,
  repositoryId: key.repository.id,
  name: key.name,
  accessKeyId: key.accessKeyId,
  scope: key.scope,
  status: lifecycle(key),
  expiresAt: iso(key.expiresAt),
  revokedAt: iso(key.revokedAt),
  lastUsedAt: iso(key.lastUsedAt),
  createdAt: iso(key.createdAt),
});

const presentAiKey = (key: RepoAiKey) => ({
  id: key.id,
  repositoryId: key.repository.id,
  name: key.name,
  prefix: key.prefix,
  status: lifecycle(key),
  expiresAt: iso(key.expiresAt),
  revokedAt: iso(key.revokedAt),
  lastUsedAt: iso(key.lastUsedAt),
  limits: key.aiLimits ?? null,
  createdAt: iso(key.createdAt),
});

/** A new storage key of the repository; its secret is returned here and nowhere else. */
export function issueStorageKey(
  em: EntityManager,
  keyring: MasterKeyring,
  fields: Pick<RepoStorageKey, 'repository' | 'name' | 'scope'> & {
    expiresAt?: Date | null;
    createdBy: string;
  },
) {
  const { accessKeyId, secretAccessKey } = newStorageKeyPair();
  const key = em.create(RepoStorageKey, {
    ...fields,
    accessKeyId,
    secret: sealStorageKeySecret(keyring, accessKeyId, secretAccessKey),
    expiresAt: fields.expiresAt ?? null,
  });
  return { key, secretAccessKey, present: () => ({ ...presentStorageKey(key), secretAccessKey }) };
}

/** A new AI key of the repository; the key itself is returned here and nowhere else. */
export function issueAiKey(
  em: EntityManager,
  fields: Pick<RepoAiKey, 'repository' | 'name'> & {
    expiresAt?: Date | null;
    aiLimits?: AiLimits | null;
    createdBy: string;
  },
) {
  const { key: secret, prefix, secretHash } = newAiKey();
  const key = em.create(RepoAiKey, {
    ...fields,
    prefix,
    secretHash,
    expiresAt: fields.expiresAt ?? null,
    aiLimits: fields.aiLimits ?? null,
  });
  return { key, present: () => ({ ...presentAiKey(key), key: secret }) };
}

export function storageKeyRoutes(deps: { keyring: MasterKeyring }): AnyRoute[] {
  return [
    protectedRoute({
      method: 'post',
      path: '/repo/:repoId/apikey',
      tag: 'repository keys',
      summary: 'Create a storage key; the secret access key is in this answer only',
      access: 'MEMBER',
      audit: 'storage-key.create',
      params: repoParams,
      body: z.object({ name: displayName, scope: z.enum(storageKeyScopes), expiresAt }).strict(),
      response: { status: 201, description: 'The key, with its secret (shown once)' },
      async handler({ em, tenant, caller, params, body, auditTarget }) {
        const repository = await tenant.findInWorkspace(Repository, 'Repository', params.repoId);
        const issued = issueStorageKey(em, deps.keyring, {
          repository,
          name: body.name,
          scope: body.scope,
          expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
          createdBy: caller.userId,
        });
        await em.flush();
        auditTarget(
          { type: 'storage-key', id: issued.key.id, workspaceId: repository.workspace.id },
          { accessKeyId: issued.key.accessKeyId, scope: body.scope },
        );
        return { body: issued.present() };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/repo/:repoId/apikey',
      tag: 'repository keys',
      summary: "List a repository's storage keys (never their secrets)",
      access: 'VIEWER',
      params: repoParams,
      response: { status: 200, description: 'Keys' },
      async handler({ em, tenant, params }) {
        const repository = await tenant.findInWorkspace(Repository, 'Repository', params.repoId);
        const keys = await em.find(RepoStorageKey, { repository }, { orderBy: { createdAt: 'asc' } });
        return { body: keys.map(presentStorageKey) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/repo/:repoId/apikey/:keyId',
      tag: 'repository keys',
      summary: 'Read a storage key (never its secret)',
      access: 'VIEWER',
      params: keyParams,
      response: { status: 200, description: 'The key' },
      async handler({ tenant, params }) {
        return {
          body: presentStorageKey(
            await tenant.findInRepository(RepoStorageKey, 'Key', params.repoId, params.keyId),
          ),
        };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/repo/:repoId/apikey/:keyId',
      tag: 'repository keys',
      summary: 'Rename a storage key or change its scope or expiry',
      access: 'MEMBER',
      audit: 'storage-key.update',
      params: keyParams,
      body: z
        .object({ name: displayName.optional(), scope: z.enum(storageKeyScopes).optional(), expiresAt })
        .strict(),
      response: { status: 200, description: 'Updated' },
      async handler({ em, tenant, params, body, auditTarget }) {
        const key = await tenant.findInRepository(RepoStorageKey, 'Key', params.repoId, params.keyId);
        await announceStorageKeyChange(em, key.accessKeyId);
        if (body.name !== undefined) key.name = body.name;
        if (body.scope !== undefined) key.scope = body.scope;
        if (body.expiresAt !== undefined) key.expiresAt = body.expiresAt ? new Date(body.expiresAt) : null;
        auditTarget({ type: 'storage-key', id: key.id }, { fields: Object.keys(body) });
        return { body: presentStorageKey(key) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/repo/:repoId/apikey/:keyId',
      tag: 'repository keys',
      summary: 'Revoke a storage key (effective immediately)',
      access: 'MEMBER',
      audit: 'storage-key.revoke',
      params: keyParams,
      response: { status: 204, description: 'Revoked' },
      async handler({ em, tenant, params, auditTarget }) {
        const key = await tenant.findInRepository(RepoStorageKey, 'Key', params.repoId, params.keyId);
        await announceStorageKeyChange(em, key.accessKeyId);
        key.revokedAt ??= new Date();
        auditTarget({ type: 'storage-key', id: key.id }, { accessKeyId: key.accessKeyId });
        return {};
      },
    }),
  ];
}

export function aiKeyRoutes(): AnyRoute[] {
  return [
    protectedRoute({
      method: 'post',
      path: '/repo/:repoId/ai/apikey',
      tag: 'repository keys',
      summary: 'Create an AI key (a bearer token for the OpenAI-compatible endpoint); shown once',
      access: 'MEMBER',
      audit: 'ai-key.create',
      params: repoParams,
      body: z.object({ name: displayName, expiresAt, limits: aiLimits.optional() }).strict(),
      response: { status: 201, description: 'The key, shown once' },
      async handler({ em, tenant, caller, params, body, auditTarget }) {
        const repository = await tenant.findInWorkspace(Repository, 'Repository', params.repoId);
        const issued = issueAiKey(em, {
          repository,
          name: body.name,
          expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
          aiLimits: body.limits ?? null,
          createdBy: caller.userId,
        });
        await em.flush();
        auditTarget(
          { type: 'ai-key', id: issued.key.id, workspaceId: repository.workspace.id },
          { prefix: issued.key.prefix },
        );
        return { body: issued.present() };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/repo/:repoId/ai/apikey',
      tag: 'repository keys',
      summary: "List a repository's AI keys (prefixes only)",
      access: 'VIEWER',
      params: repoParams,
      response: { status: 200, description: 'Keys' },
      async handler({ em, tenant, params }) {
        const repository = await tenant.findInWorkspace(Repository, 'Repository', params.repoId);
        const keys = await em.find(RepoAiKey, { repository }, { orderBy: { createdAt: 'asc' } });
        return { body: keys.map(presentAiKey) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/repo/:repoId/ai/apikey/:keyId',
      tag: 'repository keys',
      summary: 'Read an AI key (prefix only)',
      access: 'VIEWER',
      params: keyParams,
      response: { status: 200, description: 'The key' },
      async handler({ tenant, params }) {
        return {
          body: presentAiKey(await tenant.findInRepository(RepoAiKey, 'Key', params.repoId, params.keyId)),
        };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/repo/:repoId/ai/apikey/:keyId',
      tag: 'repository keys',
      summary: 'Rename an AI key, or change its expiry or limits',
      access: 'MEMBER',
      audit: 'ai-key.update',
      params: keyParams,
      body: z.object({ name: displayName.optional(), expiresAt, limits: aiLimits.optional() }).strict(),
      response: { status: 200, description: 'Updated' },
      async handler({ em, tenant, params, body, auditTarget }) {
        const key = await tenant.findInRepository(RepoAiKey, 'Key', params.repoId, params.keyId);
        if (body.name !== undefined) key.name = body.name;
        if (body.limits !== undefined) key.aiLimits = body.limits;
        if (body.expiresAt !== undefined) key.expiresAt = body.expiresAt ? new Date(body.expiresAt) : null;
        await announceAiKeyChange(em, key.prefix);
        auditTarget({ type: 'ai-key', id: key.id }, { fields: Object.keys(body) });
        return { body: presentAiKey(key) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/repo/:repoId/ai/apikey/:keyId',
      tag: 'repository keys',
      summary: 'Revoke an AI key (effective immediately)',
      access: 'MEMBER',
      audit: 'ai-key.revoke',
      params: keyParams,
      response: { status: 204, description: 'Revoked' },
      async handler({ em, tenant, params, auditTarget }) {
        const key = await tenant.findInRepository(RepoAiKey, 'Key', params.repoId, params.keyId);
        key.revokedAt ??= new Date();
        await announceAiKeyChange(em, key.prefix);
        auditTarget({ type: 'ai-key', id: key.id }, { prefix: key.prefix });
        return {};
      },
    }),
  ];
}
