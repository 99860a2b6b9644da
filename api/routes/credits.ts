/**
 * OBS-3, credits: the organization's price table (the example defaults with
 * the admins' own prices on top), spending budgets on repositories and on
 * their storage and AI keys, and each repository's spend.
 */
import { z } from 'zod';
import {
  activeBudgetOf,
  announceBudgetChange,
  type BudgetSpendFigures,
  spendOf,
} from '../../core/credits/budgets.ts';
import { repositorySpend } from '../../core/credits/spend.ts';
import {
  aiLlmTypes,
  Budget,
  type BudgetSubject,
  bucketProviders,
  budgetPeriods,
  Price,
  RepoAiKey,
  RepoStorageKey,
  Repository,
} from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { notFound } from '../../core/errors.ts';
import { assertUrlShapeAllowed, type OutboundPolicy } from '../../core/net/outbound-guard.ts';
import { defaultAiPriceTable } from '../../core/pricing/ai-prices.ts';
import { anyRegion, defaultPriceTable } from '../../core/pricing/prices.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { iso, uuid, webhookUrl } from '../schemas.ts';
import type { TenantScope } from '../tenancy.ts';
import { dayRange, daysQuery, rangeOf, scopeOf } from './stats.ts';

const dollars = z.number().finite().min(0).max(1_000_000);
const match = z.string().trim().min(1).max(200);

const priceBody = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('STORAGE'),
      provider: z.enum(bucketProviders),
      region: match.default(anyRegion),
      storagePerGbMonth: dollars,
      egressPerGb: dollars,
      operationsPer1000: dollars,
    })
    .strict(),
  z
    .object({
      kind: z.literal('AI'),
      provider: z.enum(aiLlmTypes),
      model: match.default(anyRegion),
      inputPer1000Tokens: dollars,
      outputPer1000Tokens: dollars,
    })
    .strict(),
]);
type PriceBody = z.infer<typeof priceBody>;

function ratesOf(body: PriceBody) {
  if (body.kind === 'STORAGE') {
    const { storagePerGbMonth, egressPerGb, operationsPer1000 } = body;
    return { match: body.region, rates: { storagePerGbMonth, egressPerGb, operationsPer1000 } };
  }
  const { inputPer1000Tokens, outputPer1000Tokens } = body;
  return { match: body.model, rates: { inputPer1000Tokens, outputPer1000Tokens } };
}

const presentPrice = (price: Price) => ({
  id: price.id,
  kind: price.kind,
  provider: price.provider,
  ...(price.kind === 'STORAGE' ? { region: price.match } : { model: price.match }),
  ...price.rates,
  source: 'override' as const,
  updatedAt: iso(price.updatedAt),
});

/** The overrides, then every default no override replaces. */
async function effectivePrices(em: EntityManager, organizationId: string) {
  const overrides = await em.find(Price, { organization: organizationId }, { orderBy: { createdAt: 'asc' } });
  const overridden = new Set(overrides.map((price) => `${price.kind}:${price.provider}:${price.match}`));
  const storageDefaults = defaultPriceTable
    .filter((entry) => !overridden.has(`STORAGE:${entry.provider}:${entry.region}`))
    .map((entry) => ({ kind: 'STORAGE' as const, ...entry, source: 'default' as const }));
  const aiDefaults = defaultAiPriceTable
    .filter((entry) => !overridden.has(`AI:${entry.provider}:${entry.model}`))
    .map((entry) => ({ kind: 'AI' as const, ...entry, source: 'default' as const }));
  const presented = overrides.map(presentPrice);
  return {
    currency: 'USD',
    storage: [...presented.filter((price) => price.kind === 'STORAGE'), ...storageDefaults],
    ai: [...presented.filter((price) => price.kind === 'AI'), ...aiDefaults],
  };
}

function priceRoutes(): AnyRoute[] {
  return [
    protectedRoute({
      method: 'get',
      path: '/prices',
      tag: 'credits',
      summary:
        "The organization's price table: its own prices, then the example defaults they do not replace",
      access: 'VIEWER',
      response: { status: 200, description: 'Storage and AI prices in US dollars' },
      async handler({ em, tenant }) {
        return { body: await effectivePrices(em, tenant.organizationId) };
      },
    }),
    protectedRoute({
      method: 'put',
      path: '/prices',
      tag: 'credits',
      summary: 'Set a storage price (provider and region) or an AI price (provider and model)',
      access: 'ADMIN',
      audit: 'price.set',
      body: priceBody,
      response: { status: 200, description: 'The price as stored' },
      async handler({ em, tenant, body, auditTarget }) {
        const { match, rates } = ratesOf(body);
        const where = {
          organization: tenant.organizationId,
          kind: body.kind,
          provider: body.provider,
          match,
        };
        const price =
          (await em.findOne(Price, where)) ??
          em.create(Price, { ...where, organization: tenant.organizationId, rates });
        price.rates = rates;
        await em.flush();
        auditTarget({ type: 'price', id: price.id }, { kind: body.kind, provider: body.provider, match });
        return { body: presentPrice(price) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: '/prices/:priceId',
      tag: 'credits',
      summary: 'Remove one of the organization’s prices (the default applies again)',
      access: 'ADMIN',
      audit: 'price.delete',
      params: z.object({ priceId: uuid }),
      response: { status: 204, description: 'Removed' },
      async handler({ em, tenant, params, auditTarget }) {
        const price = await em.findOne(Price, { id: params.priceId, organization: tenant.organizationId });
        if (!price) throw notFound('Price');
        em.remove(price);
        auditTarget({ type: 'price', id: price.id }, { kind: price.kind, provider: price.provider });
        return {};
      },
    }),
  ];
}

const budgetBody = z
  .object({
    amountUsd: z.number().finite().positive().max(1_000_000_000),
    period: z.enum(budgetPeriods).default('MONTH'),
    alertThresholds: z
      .array(z.number().int().min(1).max(100))
      .max(10)
      .default([50, 80, 100])
      .transform((thresholds) => [...new Set(thresholds)].sort((a, b) => a - b)),
    webhookUrl: webhookUrl.default(null),
  })
  .strict();

function presentBudget(budget: Budget, spend: BudgetSpendFigures) {
  const amountUsd = Number(budget.amountUsd);
  return {
    id: budget.id,
    repositoryId: budget.repository.id,
    subjectKind: budget.subjectKind,
    subjectId: budget.subjectId,
    amountUsd,
    period: budget.period,
    alertThresholds: budget.alertThresholds,
    webhookUrl: budget.webhookUrl ?? null,
    current: {
      periodStart: spend.periodStart.toISOString(),
      spentUsd: Math.round(spend.spentUsd * 1e6) / 1e6,
      remainingUsd: Math.max(0, Math.round((amountUsd - spend.spentUsd) * 1e6) / 1e6),
      percentUsed: Math.round((spend.spentUsd / amountUsd) * 1000) / 10,
      alertedPercent: spend.alertedPercent,
    },
    updatedAt: iso(budget.updatedAt),
  };
}

const present = async (em: EntityManager, budget: Budget) =>
  presentBudget(budget, await spendOf(em, activeBudgetOf(budget)));

/** Where a kind of subject's budget lives, and how its subject is found in the caller's organization. */
interface BudgetSubjectSpec {
  kind: BudgetSubject;
  path: string;
  label: string;
  params: z.ZodType<BudgetParams>;
  /** The repository and the subject's id; 404 when either is not the caller's. */
  find(tenant: TenantScope, params: BudgetParams): Promise<{ repository: Repository; subjectId: string }>;
}

interface BudgetParams {
  repoId: string;
  keyId?: string;
}

const keyOfKind =
  (entity: typeof RepoStorageKey | typeof RepoAiKey) => async (tenant: TenantScope, params: BudgetParams) => {
    const key = await tenant.findInRepository<{ id: string }>(
      entity,
      'Key',
      params.repoId,
      params.keyId ?? '',
    );
    const repository = await tenant.findInWorkspace(Repository, 'Repository', params.repoId);
    return { repository, subjectId: key.id };
  };

const keyParams = z.object({ repoId: uuid, keyId: uuid });

const budgetSubjectSpecs: BudgetSubjectSpec[] = [
  {
    kind: 'REPOSITORY',
    path: '/repo/:repoId/budget',
    label: 'a repository',
    params: z.object({ repoId: uuid }),
    async find(tenant, params) {
      const repository = await tenant.findInWorkspace(Repository, 'Repository', params.repoId);
      return { repository, subjectId: repository.id };
    },
  },
  {
    kind: 'STORAGE_KEY',
    path: '/repo/:repoId/apikey/:keyId/budget',
    label: 'a storage key',
    params: keyParams,
    find: keyOfKind(RepoStorageKey),
  },
  {
    kind: 'AI_KEY',
    path: '/repo/:repoId/ai/apikey/:keyId/budget',
    label: 'an AI key',
    params: keyParams,
    find: keyOfKind(RepoAiKey),
  },
];

function budgetRoutesOf(spec: BudgetSubjectSpec, deps: { outboundPolicy: OutboundPolicy }): AnyRoute[] {
  const budgetOf = async (em: EntityManager, tenant: TenantScope, params: BudgetParams) => {
    const { repository, subjectId } = await spec.find(tenant, params);
    return { repository, subjectId, budget: await em.findOne(Budget, { subjectKind: spec.kind, subjectId }) };
  };
  return [
    protectedRoute({
      method: 'get',
      path: spec.path,
      tag: 'credits',
      summary: `The spending budget of ${spec.label}, with this period's spend`,
      access: 'VIEWER',
      params: spec.params,
      response: { status: 200, description: 'The budget' },
      async handler({ em, tenant, params }) {
        const { budget } = await budgetOf(em, tenant, params);
        if (!budget) throw notFound('Budget');
        return { body: await present(em, budget) };
      },
    }),
    protectedRoute({
      method: 'put',
      path: spec.path,
      tag: 'credits',
      summary: `Set the spending budget of ${spec.label} (US dollars per period, alert thresholds, webhook)`,
      access: 'ADMIN',
      audit: 'budget.set',
      params: spec.params,
      body: budgetBody,
      response: { status: 200, description: 'The budget, with this period’s spend' },
      async handler({ em, tenant, params, body, auditTarget }) {
        if (body.webhookUrl) assertUrlShapeAllowed(body.webhookUrl, deps.outboundPolicy);
        const { repository, subjectId, budget: existing } = await budgetOf(em, tenant, params);
        const budget =
          existing ??
          em.create(Budget, {
            organization: tenant.organizationId,
            repository,
            subjectKind: spec.kind,
            subjectId,
            ...body,
          });
        em.assign(budget, body);
        await announceBudgetChange(em, subjectId);
        await em.flush();
        auditTarget(
          { type: 'budget', id: budget.id, workspaceId: repository.workspace.id },
          { subjectKind: spec.kind, subjectId, amountUsd: body.amountUsd, period: body.period },
        );
        return { body: await present(em, budget) };
      },
    }),
    protectedRoute({
      method: 'delete',
      path: spec.path,
      tag: 'credits',
      summary: `Remove the spending budget of ${spec.label}`,
      access: 'ADMIN',
      audit: 'budget.delete',
      params: spec.params,
      response: { status: 204, description: 'Removed' },
      async handler({ em, tenant, params, auditTarget }) {
        const { budget, subjectId } = await budgetOf(em, tenant, params);
        if (!budget) throw notFound('Budget');
        await announceBudgetChange(em, subjectId);
        em.remove(budget);
        auditTarget({ type: 'budget', id: budget.id }, { subjectKind: spec.kind, subjectId });
        return {};
      },
    }),
  ];
}

function spendRoute(): AnyRoute {
  return protectedRoute({
    method: 'get',
    path: '/credits/spend',
    tag: 'credits',
    summary: 'What each repository (or one: repoId) spent over a range of days, at the organization’s prices',
    access: 'VIEWER',
    query: daysQuery({ workspaceId: uuid.optional(), repoId: uuid.optional() }),
    response: { status: 200, description: 'Spend per repository' },
    async handler({ em, tenant, query }) {
      const range = dayRange(query);
      const repositories = await repositorySpend(em, await scopeOf(tenant, query, range));
      const totalUsd = repositories.reduce((sum, repository) => sum + repository.totalUsd, 0);
      return {
        body: {
          ...rangeOf(range, 'day'),
          currency: 'USD',
          totalUsd: Math.round(totalUsd * 1e6) / 1e6,
          repositories,
        },
      };
    },
  });
}

export function creditRoutes(deps: { outboundPolicy: OutboundPolicy }): AnyRoute[] {
  return [
    ...priceRoutes(),
    ...budgetSubjectSpecs.flatMap((spec) => budgetRoutesOf(spec, deps)),
    spendRoute(),
  ];
}
