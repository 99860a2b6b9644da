import type { BudgetPeriod } from '../db/entities/index.ts';

/** The UTC calendar day or month holding `now`, or all time; `end` is exclusive (none for TOTAL). */
export function budgetWindow(period: BudgetPeriod, now: Date): { start: Date; end?: Date } {
  if (period === 'TOTAL') return { start: new Date(0) };
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  if (period === 'MONTH')
    return { start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) };
  const day = now.getUTCDate();
  return { start: new Date(Date.UTC(year, month, day)), end: new Date(Date.UTC(year, month, day + 1)) };
}
