/**
 * Spending budgets (OBS-3) as the S3 bridge, the AI gateway and the API's
 * conversations enforce them.
 *
 * A request made with a key whose repository or key has a budget is admitted
 * only while each budget's spend in the current period is below its amount,
 * by one conditional add in PostgreSQL shared by every process, which also
 * charges what the request costs whatever happens (an S3 operation's price);
 * what only its end tells (egress bytes, tokens) is added when it ends. So
 * once a budget is reached no request is admitted any more, and only the
 * requests already admitted can still add to it: the overshoot is at most
 * what the requests in flight cost. Keys and
 * repositories without a budget cost no database round trip: budget rows are
 * cached per subject and evicted on every process when the API changes one.
 *
 * Crossing an alert threshold (a percentage of the amount) posts to the
 * budget's webhook once per threshold and period, whichever process crossed
 * it: the process that raises `alerted_percent` sends it.
 */
import { Budget, type BudgetPeriod, type BudgetSubject } from '../db/entities/index.ts';
import type { EntityManager } from '../db/orm.ts';
import { announceChange, NotifiedCache } from '../keys/notified-cache.ts';
import type { Logger } from '../logging.ts';
import type { OutboundPolicy } from '../net/outbound-guard.ts';
import { postWebhook } from '../net/webhooks.ts';
import type { OrganizationPriceCache } from '../pricing/organization-prices.ts';
import { budgetWindow } from './periods.ts';

/** What a bridge's spending enforcement needs: the shared guard, the organizations' prices, a log. */
export interface SpendingDependencies {
  guard: BudgetGuard;
  prices: OrganizationPriceCache;
  log: Logger;
}

export const BUDGET_CHANGES_CHANNEL = 'skybridge_budget_changes';

const NANO_PER_USD = 1e9;
const toNano = (usd: number) => Math.round(usd * NANO_PER_USD);

interface SpendRow {
  spent_nano_usd: string;
  alerted_percent: number;
}

/** A budget as the enforcing processes keep it. */
export interface ActiveBudget {
  id: string;
  repositoryId: string;
  subjectKind: BudgetSubject;
  subjectId: string;
  amountUsd: number;
  period: BudgetPeriod;
  alertThresholds: number[];
  webhookUrl: string | null;
}

/** Refused because `budget` is used up for its period; retrying helps only once the period ends. */
export class BudgetExceeded extends Error {
  readonly budget: ActiveBudget;
  readonly retryAfterSeconds: number | undefined;

  constructor(budget: ActiveBudget, now: Date) {
    const who = budget.subjectKind === 'REPOSITORY' ? "this key's repository" : 'this key';
    const span = budget.period === 'TOTAL' ? 'for good' : `for this ${budget.period.toLowerCase()} (UTC)`;
    super(`The spending budget of ${who} (${budget.amountUsd} USD) is used up ${span}`);
    this.name = 'BudgetExceeded';
    this.budget = budget;
    const end = budgetWindow(budget.period, now).end;
    this.retryAfterSeconds = end ? Math.max(1, Math.ceil((end.getTime() - now.getTime()) / 1000)) : undefined;
  }
}

/** Call inside the transaction that changes the budget of `subjectId` (delivered on commit). */
export function announceBudgetChange(em: EntityManager, subjectId: string): Promise<void> {
  return announceChange(em, BUDGET_CHANGES_CHANNEL, subjectId);
}

export interface BudgetSpendFigures {
  periodStart: Date;
  spentUsd: number;
  alertedPercent: number;
}

/** The spend of `budget` in the period holding `now` (zero before the first charge). */
export async function spendOf(
  em: EntityManager,
  budget: ActiveBudget,
  now = new Date(),
): Promise<BudgetSpendFigures> {
  const periodStart = budgetWindow(budget.period, now).start;
  const [row] = await em
    .getConnection()
    .execute<{ spent_nano_usd: string; alerted_percent: number }[]>(
      'select spent_nano_usd, alerted_percent from budget_spends where budget_id = ? and period_start = ?',
      [budget.id, periodStart],
    );
  return {
    periodStart,
    spentUsd: Number(row?.spent_nano_usd ?? 0) / NANO_PER_USD,
    alertedPercent: row?.alerted_percent ?? 0,
  };
}

export function activeBudgetOf(budget: Budget): ActiveBudget {
  return {
    id: budget.id,
    repositoryId: budget.repository.id,
    subjectKind: budget.subjectKind,
    subjectId: budget.subjectId,
    amountUsd: Number(budget.amountUsd),
    period: budget.period,
    alertThresholds: budget.alertThresholds,
    webhookUrl: budget.webhookUrl ?? null,
  };
}

export interface BudgetGuardOptions {
  em: EntityManager;
  outboundPolicy: OutboundPolicy;
  log: Logger;
  webhookTimeoutMs?: number;
  now?: () => Date;
}

export class BudgetGuard {
  readonly #em: EntityManager;
  readonly #options: BudgetGuardOptions;
  readonly #now: () => Date;
  readonly #cache: NotifiedCache<ActiveBudget>;

  constructor(options: BudgetGuardOptions) {
    this.#em = options.em;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#cache = new NotifiedCache({
      channel: BUDGET_CHANGES_CHANNEL,
      load: async (subjectId) => {
        const budget = await this.#em.fork().findOne(Budget, { subjectId });
        return budget && activeBudgetOf(budget);
      },
    });
  }

  /** Evicts budgets the moment the API changes them; without it they are re-read within 30 s. */
  listen(databaseUrl: string): Promise<void> {
    return this.#cache.listen(databaseUrl);
  }

  close(): Promise<void> {
    return this.#cache.close();
  }

  /**
   * The budgets of the subjects (repository and key ids), each charged `upfrontUsd()` (what the request
   * costs whatever it turns out to be; only asked when there is a budget) in one transaction; throws
   * `BudgetExceeded` for the first budget already used up, and then charges none.
   */
  async admit(
    subjectIds: ReadonlyArray<string | undefined>,
    upfrontUsd: () => number | Promise<number> = () => 0,
  ): Promise<ActiveBudget[]> {
    const budgets: ActiveBudget[] = [];
    for (const subjectId of subjectIds) {
      const budget = subjectId ? await this.#cache.get(subjectId) : null;
      if (budget) budgets.push(budget);
    }
    if (budgets.length === 0) return budgets;
    const now = this.#now();
    const upfront = toNano(await upfrontUsd());
    const charged = await this.#em.fork().transactional(async (em) => {
      const rows: SpendRow[] = [];
      for (const budget of budgets) {
        // em.execute runs in the transaction; a pool connection of its own would deadlock a full pool.
        const [row] = await em.execute<SpendRow[]>(
          `insert into budget_spends (budget_id, period_start, spent_nano_usd, alerted_percent) values (?, ?, ?, 0)
           on conflict (budget_id, period_start) do update
             set spent_nano_usd = budget_spends.spent_nano_usd + excluded.spent_nano_usd
             where budget_spends.spent_nano_usd < ?
           returning spent_nano_usd, alerted_percent`,
          [budget.id, budgetWindow(budget.period, now).start, upfront, toNano(budget.amountUsd)],
        );
        if (!row) throw new BudgetExceeded(budget, now);
        rows.push(row);
      }
      return rows;
    });
    if (upfront > 0) await this.#alertsAfter(budgets, charged, now);
    return budgets;
  }

  /** Adds `costUsd` to each budget's current period and sends the alerts it crossed. */
  async charge(budgets: readonly ActiveBudget[], costUsd: number): Promise<void> {
    const nanoUsd = toNano(costUsd);
    if (budgets.length === 0 || nanoUsd <= 0) return;
    const now = this.#now();
    const connection = this.#em.fork().getConnection();
    const charged: SpendRow[] = [];
    for (const budget of budgets) {
      const [row] = await connection.execute<SpendRow[]>(
        `insert into budget_spends (budget_id, period_start, spent_nano_usd, alerted_percent) values (?, ?, ?, 0)
         on conflict (budget_id, period_start) do update
           set spent_nano_usd = budget_spends.spent_nano_usd + excluded.spent_nano_usd
         returning spent_nano_usd, alerted_percent`,
        [budget.id, budgetWindow(budget.period, now).start, nanoUsd],
      );
      if (row) charged.push(row);
    }
    await this.#alertsAfter(budgets, charged, now);
  }

  async #alertsAfter(budgets: readonly ActiveBudget[], charged: SpendRow[], now: Date): Promise<void> {
    for (const [index, row] of charged.entries()) {
      const budget = budgets[index]!;
      const periodStart = budgetWindow(budget.period, now).start;
      await this.#alertIfCrossed(
        budget,
        periodStart,
        Number(row.spent_nano_usd) / NANO_PER_USD,
        row.alerted_percent,
      );
    }
  }

  async #alertIfCrossed(budget: ActiveBudget, periodStart: Date, spentUsd: number, alertedPercent: number) {
    const percent = (spentUsd / budget.amountUsd) * 100;
    const crossed = Math.max(0, ...budget.alertThresholds.filter((threshold) => threshold <= percent));
    if (crossed <= alertedPercent || !budget.webhookUrl) return;
    const claimed = await this.#em
      .fork()
      .getConnection()
      .execute(
        `update budget_spends set alerted_percent = ? where budget_id = ? and period_start = ? and alerted_percent < ? returning budget_id`,
        [crossed, budget.id, periodStart, crossed],
      );
    if (claimed.length === 0) return;
    const payload = {
      event: 'budget.threshold_reached',
      budget: {
        id: budget.id,
        subjectKind: budget.subjectKind,
        subjectId: budget.subjectId,
        amountUsd: budget.amountUsd,
        period: budget.period,
      },
      repositoryId: budget.repositoryId,
      thresholdPercent: crossed,
      spentUsd,
      periodStart: periodStart.toISOString(),
      occurredAt: this.#now().toISOString(),
    };
    postWebhook(budget.webhookUrl, payload, {
      outboundPolicy: this.#options.outboundPolicy,
      timeoutMs: this.#options.webhookTimeoutMs ?? 5_000,
    }).catch((error: unknown) =>
      this.#options.log.warn({ err: error, budgetId: budget.id }, 'the budget alert was not delivered'),
    );
  }
}
