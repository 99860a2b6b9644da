import { p } from '@mikro-orm/core';

export const budgetPeriods = ['DAY', 'MONTH', 'TOTAL'] as const;
export type BudgetPeriod = (typeof budgetPeriods)[number];

/** The AI gateway's limits (AI-6) on a repo AI key or on a whole repository; absent fields do not limit. */
export interface AiLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  /** Tokens in and out together, per `budgetPeriod` (UTC calendar day or month, or ever). */
  tokenBudget?: number;
  budgetPeriod?: BudgetPeriod;
}

export const aiLimitsProperty = () => p.json<AiLimits>().nullable();
