/** CP-8: AI policies (natural-language rules with a scope, an action and a target) and their violations. */
import { z } from 'zod';
import { detectorNames } from '../../core/ai/policy/detectors.ts';
import {
  AiLlmConfig,
  AiPolicy,
  AiPolicyViolation,
  aiPolicyActions,
  aiPolicyScopes,
  aiPolicyTargets,
  Repository,
} from '../../core/db/entities/index.ts';
import { AppError } from '../../core/errors.ts';
import { assertUrlShapeAllowed, type OutboundPolicy } from '../../core/net/outbound-guard.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { displayName, idParam, iso, isoDate, uuid, webhookUrl } from '../schemas.ts';
import type { TenantScope } from '../tenancy.ts';

const policyFields = {
  name: displayName,
  rule: z.string().trim().min(1).max(10_000),
  action: z.enum(aiPolicyActions),
  target: z.enum(aiPolicyTargets),
  enabled: z.boolean(),
  detectors: z
    .array(z.enum(detectorNames))
    .max(detectorNames.length)
    .transform((names) => [...new Set(names)])
    .nullable(),
  redact: z.boolean(),
  streamHoldBack: z.boolean(),
  judgeConfigId: uuid.nullable(),
  judgeModel: z.string().trim().min(1).max(200).nullable(),
  webhookUrl,
};

const createBody = z
  .object({
    ...policyFields,
    enabled: policyFields.enabled.default(true),
    detectors: policyFields.detectors.default(null),
    redact: policyFields.redact.default(false),
    streamHoldBack: policyFields.streamHoldBack.default(true),
    judgeConfigId: policyFields.judgeConfigId.default(null),
    judgeModel: policyFields.judgeModel.default(null),
    webhookUrl: policyFields.webhookUrl.default(null),
    scope: z.enum(aiPolicyScopes),
    workspaceId: uuid.optional(),
    repositoryId: uuid.optional(),
  })
  .strict();

const updateBody = z.object(policyFields).partial().strict();

interface JudgeFields {
  judgeConfigId?: string | null;
  judgeModel?: string | null;
}

/** A judge is an AI config of the caller's organization and the model to ask it; both or neither. */
async function assertJudge(tenant: TenantScope, judge: JudgeFields): Promise<void> {
  if (!judge.judgeConfigId) {
    if (judge.judgeModel) throw new AppError('VALIDATION_FAILED', 'a judgeModel needs a judgeConfigId');
    return;
  }
  if (!judge.judgeModel) throw new AppError('VALIDATION_FAILED', 'a judgeConfigId needs a judgeModel');
  await tenant.findInWorkspace(AiLlmConfig, 'AI LLM config', judge.judgeConfigId);
}

const presentPolicy = (policy: AiPolicy) => ({
  id: policy.id,
  name: policy.name,
  rule: policy.rule,
  scope: policy.scope,
  workspaceId: policy.workspace?.id ?? null,
  repositoryId: policy.repository?.id ?? null,
  action: policy.action,
  target: policy.target,
  enabled: policy.enabled,
  detectors: policy.detectors ?? null,
  redact: policy.redact,
  streamHoldBack: policy.streamHoldBack,
  judgeConfigId: policy.judgeConfigId ?? null,
  judgeModel: policy.judgeModel ?? null,
  webhookUrl: policy.webhookUrl ?? null,
  createdAt: iso(policy.createdAt),
  updatedAt: iso(policy.updatedAt),
});

/** Resolves what a policy applies to; the ids must match the scope and belong to the caller's organization. */
async function scopeTargets(tenant: TenantScope, body: z.infer<typeof createBody>) {
  if (body.scope === 'ORGANIZATION') {
    if (body.workspaceId || body.repositoryId)
      throw new AppError('VALIDATION_FAILED', 'an ORGANIZATION policy takes no workspaceId or repositoryId');
    return { workspace: null, repository: null };
  }
  if (body.scope === 'WORKSPACE') {
    if (!body.workspaceId || body.repositoryId)
      throw new AppError('VALIDATION_FAILED', 'a WORKSPACE policy needs a workspaceId and no repositoryId');
    return { workspace: await tenant.workspace(body.workspaceId), repository: null };
  }
  if (!body.repositoryId) throw new AppError('VALIDATION_FAILED', 'a REPOSITORY policy needs a repositoryId');
  const repository = await tenant.findInWorkspace(Repository, 'Repository', body.repositoryId);
  return { workspace: repository.workspace, repository };
}

/**
 * A webhook address the server may post to: its scheme and, for an IP
 * literal, its address. Host names are resolved and checked at every post
 * (the DNS answer then is the one that matters).
 */
function assertWebhookAllowed(url: string | null | undefined, outboundPolicy: OutboundPolicy): void {
  if (url) assertUrlShapeAllowed(url, outboundPolicy);
}

export function aiPolicyRoutes(deps: { outboundPolicy: OutboundPolicy }): AnyRoute[] {
  return [
    protectedRoute({
      method: 'get',
      path: '/ai/policy',
      tag: 'ai',
      summary: 'List AI policies',
      access: 'VIEWER',
      query: z.object({ scope: z.enum(aiPolicyScopes).optional(), repositoryId: uuid.optional() }),
      response: { status: 200, description: 'Policies' },
      async handler({ tenant, query }) {
        const where = {
          ...(query.scope ? { scope: query.scope } : {}),
          ...(query.repositoryId ? { repository: query.repositoryId } : {}),
        };
        const policies = await tenant.listInOrganization(AiPolicy, where, { orderBy: { createdAt: 'asc' } });
        return { body: policies.map(presentPolicy) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/ai/policy/violations',
      tag: 'ai',
      summary: 'List policy violations recorded by the AI gateway',
      access: 'VIEWER',
      query: z.object({
        policyId: uuid.optional(),
        repositoryId: uuid.optional(),
        from: isoDate.optional(),
        to: isoDate.optional(),
        limit: z.coerce.number().int().min(1).max(500).default(100),
      }),
      response: { status: 200, description: 'Violations, newest first' },
      async handler({ tenant, query }) {
        const createdAt = {
          ...(query.from ? { $gte: new Date(query.from) } : {}),
          ...(query.to ? { $lt: new Date(query.to) } : {}),
        };
        const where = {
          ...(query.policyId ? { policy: query.policyId } : {}),
          ...(query.repositoryId ? { repository: query.repositoryId } : {}),
          ...(Object.keys(createdAt).length > 0 ? { createdAt } : {}),
        };
        const violations = await tenant.listInOrganization(AiPolicyViolation, where, {
          orderBy: { createdAt: 'desc' },
          limit: query.limit,
        });
        return {
          body: violations.map((violation) => ({
            id: violation.id,
            policyId: violation.policy?.id ?? null,
            repositoryId: violation.repository?.id ?? null,
            direction: violation.direction,
            detector: violation.detector,
            actionTaken: violation.actionTaken,
            excerpt: violation.excerpt ?? null,
            createdAt: iso(violation.createdAt),
          })),
        };
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/ai/policy',
      tag: 'ai',
      summary: 'Create an AI policy',
      access: 'ADMIN',
      audit: 'ai-policy.create',
      body: createBody,
      response: { status: 201, description: 'Created' },
      async handler({ em, tenant, body, auditTarget }) {
        const targets = await scopeTargets(tenant, body);
        await assertJudge(tenant, body);
        assertWebhookAllowed(body.webhookUrl, deps.outboundPolicy);
        const { workspaceId: _workspace, repositoryId: _repository, ...fields } = body;
        const policy = em.create(AiPolicy, { organization: tenant.organizationId, ...fields, ...targets });
        await em.flush();
        auditTarget(
          { type: 'ai-policy', id: policy.id },
          { name: body.name, scope: body.scope, action: body.action },
        );
        return { body: presentPolicy(policy) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/ai/policy/:policyId',
      tag: 'ai',
      summary: 'Read an AI policy',
      access: 'VIEWER',
      params: idParam('policyId'),
      response: { status: 200, description: 'The policy' },
      async handler({ tenant, params }) {
        return {
          body: presentPolicy(await tenant.findInOrganization(AiPolicy, 'AI policy', params.policyId)),
        };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/ai/policy/:policyId',
      tag: 'ai',
      summary: 'Update an AI policy (its scope is fixed at creation)',
      access: 'ADMIN',
      audit: 'ai-policy.update',
      params: idParam('policyId'),
      body: updateBody,
      response: { status: 200, description: 'Updated' },
      async handler({ tenant, params, body, auditTarget }) {
        const policy = await tenant.findInOrganization(AiPolicy, 'AI policy', params.policyId);
        const changes = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
        if ('judgeConfigId' in changes || 'judgeModel' in changes) {
          await assertJudge(tenant, {
            judgeConfigId: policy.judgeConfigId,
            judgeModel: policy.judgeModel,
            ...changes,
          });
        }
        assertWebhookAllowed(body.webhookUrl, deps.outboundPolicy);
        Object.assign(policy, changes);
        auditTarget({ type: 'ai-policy', id: policy.id }, { fields: Object.keys(changes) });
        return { body: presentPolicy(policy) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/ai/policy/:policyId',
      tag: 'ai',
      summary: 'Delete an AI policy (its recorded violations are kept)',
      access: 'ADMIN',
      audit: 'ai-policy.delete',
      params: idParam('policyId'),
      response: { status: 204, description: 'Deleted' },
      async handler({ em, tenant, params, auditTarget }) {
        const policy = await tenant.findInOrganization(AiPolicy, 'AI policy', params.policyId);
        auditTarget({ type: 'ai-policy', id: policy.id }, { name: policy.name });
        em.remove(policy);
        return {};
      },
    }),
  ];
}
