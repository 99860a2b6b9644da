/** CP-6: AI LLM configs (provider connections) with sealed secrets, validation and model listing. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { aiProviderConnection, sealAiConfigSecret } from '../../core/ai/config-secrets.ts';
import { AiLlmConfig, aiLlmTypes, Repository } from '../../core/db/entities/index.ts';
import { AppError } from '../../core/errors.ts';
import { assertUrlAllowed, type OutboundPolicy } from '../../core/net/outbound-guard.ts';
import type { MasterKeyring } from '../../core/secrets/keyring.ts';
import { listModels } from '../../providers/ai/index.ts';
import { AiProviderError } from '../../providers/ai/provider.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { idParam, iso, workspaceSelector } from '../schemas.ts';
import type { TenantScope } from '../tenancy.ts';
import { assertNameFree } from '../unique-names.ts';

const configName = z.string().trim().min(1).max(100);
const apiEndpoint = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048);
const secret = z.string().min(1).max(8192);

const createBody = workspaceSelector
  .extend({
    name: configName,
    type: z.enum(aiLlmTypes),
    apiEndpoint,
    apiKey: secret.optional(),
    apiSecret: secret,
  })
  .strict();

const updateBody = z
  .object({
    name: configName.optional(),
    type: z.enum(aiLlmTypes).optional(),
    apiEndpoint: apiEndpoint.optional(),
    apiKey: secret.nullable().optional(),
    apiSecret: secret.optional(),
  })
  .strict();

/** What the API shows of a config: whether a key is set, never the key. */
export function presentAiConfig(config: AiLlmConfig) {
  return {
    id: config.id,
    workspaceId: config.workspace.id,
    name: config.name,
    type: config.type,
    apiEndpoint: config.apiEndpoint,
    hasApiKey: config.apiKey !== null && config.apiKey !== undefined,
    status: config.status,
    statusReason: config.statusReason ?? null,
    lastValidatedAt: iso(config.lastValidatedAt),
    createdAt: iso(config.createdAt),
    updatedAt: iso(config.updatedAt),
  };
}

const loadWithSecrets = (tenant: TenantScope, configId: string) =>
  tenant.findInWorkspace(AiLlmConfig, 'AI LLM config', configId, { populate: ['apiKey', 'apiSecret'] });

export function aiConfigRoutes(deps: { keyring: MasterKeyring; outboundPolicy: OutboundPolicy }): AnyRoute[] {
  const fetchModels = (config: AiLlmConfig) =>
    listModels(aiProviderConnection(deps.keyring, config), { outboundPolicy: deps.outboundPolicy });

  return [
    protectedRoute({
      method: 'get',
      path: '/ai/llm',
      tag: 'ai',
      summary: 'List AI LLM configs',
      access: 'VIEWER',
      query: workspaceSelector,
      response: { status: 200, description: 'Configs' },
      async handler({ tenant, query }) {
        const where = query.workspaceId ? { workspace: { id: query.workspaceId } } : {};
        const configs = await tenant.listInWorkspaces(AiLlmConfig, where, {
          populate: ['apiKey'],
          orderBy: { name: 'asc' },
        });
        return { body: configs.map(presentAiConfig) };
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/ai/llm',
      tag: 'ai',
      summary: 'Connect an AI provider (BYOK); secrets are sealed and never returned',
      access: 'MEMBER',
      audit: 'ai-config.create',
      body: createBody,
      response: { status: 201, description: 'Created (status UNVALIDATED until validated)' },
      async handler({ em, tenant, body, auditTarget }) {
        const workspace = await tenant.workspace(body.workspaceId);
        await assertNameFree(em, AiLlmConfig, {
          scope: { workspace: workspace.id },
          name: body.name,
          label: 'An AI LLM config',
        });
        await assertUrlAllowed(body.apiEndpoint, deps.outboundPolicy);
        const id = randomUUID();
        const config = em.create(AiLlmConfig, {
          id,
          workspace,
          name: body.name,
          type: body.type,
          apiEndpoint: body.apiEndpoint,
          apiKey: body.apiKey ? sealAiConfigSecret(deps.keyring, id, 'apiKey', body.apiKey) : null,
          apiSecret: sealAiConfigSecret(deps.keyring, id, 'apiSecret', body.apiSecret),
        });
        await em.flush();
        auditTarget(
          { type: 'ai-config', id, workspaceId: workspace.id },
          { name: body.name, type: body.type },
        );
        return { body: presentAiConfig(config) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/ai/llm/:configId',
      tag: 'ai',
      summary: 'Read an AI LLM config (never its secrets)',
      access: 'VIEWER',
      params: idParam('configId'),
      response: { status: 200, description: 'The config' },
      async handler({ tenant, params }) {
        const config = await tenant.findInWorkspace(AiLlmConfig, 'AI LLM config', params.configId, {
          populate: ['apiKey'],
        });
        return { body: presentAiConfig(config) };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/ai/llm/:configId',
      tag: 'ai',
      summary: 'Update an AI LLM config; a new endpoint or secret marks it unvalidated',
      access: 'MEMBER',
      audit: 'ai-config.update',
      params: idParam('configId'),
      body: updateBody,
      response: { status: 200, description: 'Updated' },
      async handler({ em, tenant, params, body, auditTarget }) {
        const config = await loadWithSecrets(tenant, params.configId);
        if (body.name && body.name !== config.name) {
          const scope = { workspace: config.workspace.id };
          await assertNameFree(em, AiLlmConfig, { scope, name: body.name, label: 'An AI LLM config' });
        }
        if (body.apiEndpoint) await assertUrlAllowed(body.apiEndpoint, deps.outboundPolicy);
        const changed = Object.keys(body).filter((field) => body[field as keyof typeof body] !== undefined);
        if (body.name !== undefined) config.name = body.name;
        if (body.type !== undefined) config.type = body.type;
        if (body.apiEndpoint !== undefined) config.apiEndpoint = body.apiEndpoint;
        if (body.apiSecret !== undefined)
          config.apiSecret = sealAiConfigSecret(deps.keyring, config.id, 'apiSecret', body.apiSecret);
        if (body.apiKey !== undefined) {
          config.apiKey =
            body.apiKey === null ? null : sealAiConfigSecret(deps.keyring, config.id, 'apiKey', body.apiKey);
        }
        if (changed.some((field) => field !== 'name')) {
          config.status = 'UNVALIDATED';
          config.statusReason = null;
        }
        auditTarget(
          { type: 'ai-config', id: config.id, workspaceId: config.workspace.id },
          { fields: changed },
        );
        return { body: presentAiConfig(config) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/ai/llm/:configId',
      tag: 'ai',
      summary: 'Delete an AI LLM config',
      access: 'MEMBER',
      audit: 'ai-config.delete',
      params: idParam('configId'),
      response: { status: 204, description: 'Deleted' },
      async handler({ em, tenant, params, auditTarget }) {
        const config = await tenant.findInWorkspace(AiLlmConfig, 'AI LLM config', params.configId);
        const attachedTo = await em.find(Repository, { aiConfigs: config.id }, { fields: ['name'] });
        if (attachedTo.length > 0) {
          throw new AppError(
            'CONFLICT',
            `The config is attached to repositories ${attachedTo.map((repo) => `"${repo.name}"`).join(', ')}; detach it first`,
          );
        }
        auditTarget(
          { type: 'ai-config', id: config.id, workspaceId: config.workspace.id },
          { name: config.name },
        );
        em.remove(config);
        return {};
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/ai/llm/:configId/validate',
      tag: 'ai',
      summary: 'Validate a config with a real call to the provider (its model list)',
      access: 'MEMBER',
      audit: 'ai-config.validate',
      params: idParam('configId'),
      response: { status: 200, description: 'The outcome; the config keeps it as its status' },
      async handler({ tenant, params, auditTarget }) {
        const config = await loadWithSecrets(tenant, params.configId);
        const outcome = await fetchModels(config).then(
          (models) => ({ status: 'VALID' as const, reason: null, modelCount: models.length }),
          (error: unknown) => ({
            status: 'INVALID' as const,
            reason: providerFailure(error),
            modelCount: null,
          }),
        );
        config.status = outcome.status;
        config.statusReason = outcome.reason;
        config.lastValidatedAt = new Date();
        auditTarget(
          { type: 'ai-config', id: config.id, workspaceId: config.workspace.id },
          { status: outcome.status },
        );
        return { body: { ...outcome, lastValidatedAt: iso(config.lastValidatedAt) } };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/ai/llm/:configId/models',
      tag: 'ai',
      summary: 'The models the provider offers with this config',
      access: 'VIEWER',
      params: idParam('configId'),
      response: { status: 200, description: 'Models' },
      async handler({ tenant, params }) {
        const config = await loadWithSecrets(tenant, params.configId);
        try {
          return { body: { models: await fetchModels(config) } };
        } catch (error) {
          throw new AppError(
            'UPSTREAM_FAILED',
            `The provider could not list its models: ${providerFailure(error)}`,
          );
        }
      },
    }),
  ];
}

function providerFailure(error: unknown): string {
  if (error instanceof AiProviderError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
