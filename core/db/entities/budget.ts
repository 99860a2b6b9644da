import { defineEntity, p } from '@mikro-orm/core';
import { budgetPeriods } from './ai-limits.ts';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { Organization } from './organization.ts';
import { Repository } from './repository.ts';

export const budgetSubjects = ['REPOSITORY', 'STORAGE_KEY', 'AI_KEY'] as const;
export type BudgetSubject = (typeof budgetSubjects)[number];

/**
 * A spending budget (OBS-3) on a repository or on one of its keys, in US
 * dollars per period, priced with the organization's price table. The S3
 * bridge and the AI gateway refuse requests once the period's spend reached
 * it; `alertThresholds` (percentages) post to `webhookUrl` once each per
 * period.
 */
const BudgetSchema = defineEntity({
  name: 'Budget',
  tableName: 'budgets',
  uniques: [{ properties: ['subjectKind', 'subjectId'] }],
  properties: {
    id: uuidPrimaryKey(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    repository: () => p.manyToOne(Repository).deleteRule('cascade'),
    subjectKind: p.enum(budgetSubjects),
    /** The repository's or the key's id. */
    subjectId: p.uuid(),
    amountUsd: p.double(),
    period: p.enum(budgetPeriods).default('MONTH'),
    alertThresholds: p.json<number[]>(),
    webhookUrl: p.string().length(2048).nullable(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class Budget extends BudgetSchema.class {}
BudgetSchema.setClass(Budget);

/**
 * A budget's spend in one period, shared by every bridge process and the
 * API, in billionths of a dollar so concurrent charges add exactly (a small request costs well under a millionth).
 */
const BudgetSpendSchema = defineEntity({
  name: 'BudgetSpend',
  tableName: 'budget_spends',
  properties: {
    budget: () => p.manyToOne(Budget).deleteRule('cascade').primary(),
    periodStart: p.datetime().primary(),
    spentNanoUsd: p.bigint('number').default(0),
    /** The highest alert threshold already sent for this period. */
    alertedPercent: p.integer().default(0),
  },
});

export class BudgetSpend extends BudgetSpendSchema.class {}
BudgetSpendSchema.setClass(BudgetSpend);
