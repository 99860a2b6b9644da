/**
 * OBS-3 on /v1 and in conversations: a request whose repository or key has a
 * used-up spending budget gets 429 `insufficient_quota` (code
 * `budget_exceeded`, `Retry-After` the end of the period, and no SDK retry);
 * an answered request is charged its tokens at the price of the provider and
 * model that answered.
 */
import { type ActiveBudget, BudgetExceeded, type SpendingDependencies } from '../../core/credits/budgets.ts';
import type { AiPrincipal } from '../../core/keys/ai-key-resolver.ts';
import { tokenCost } from '../../core/pricing/ai-prices.ts';
import { GatewayError } from './errors.ts';

/** The tokens a request used, and who answered it (none when no provider did). */
export interface TokenUsage {
  tokensIn: number;
  tokensOut: number;
  provider?: string;
  model?: string;
}

export class AiSpending {
  readonly #deps: SpendingDependencies;

  constructor(deps: SpendingDependencies) {
    this.#deps = deps;
  }

  async admit(principal: AiPrincipal): Promise<ActiveBudget[]> {
    try {
      return await this.#deps.guard.admit([principal.keyId ?? undefined, principal.repositoryId]);
    } catch (error) {
      if (!(error instanceof BudgetExceeded)) throw error;
      throw new GatewayError(
        429,
        { message: error.message, type: 'insufficient_quota', code: 'budget_exceeded' },
        { retryAfterSeconds: error.retryAfterSeconds, doNotRetry: true },
      );
    }
  }

  /** Off the response path: prices the tokens and charges them. */
  charge(principal: AiPrincipal, budgets: readonly ActiveBudget[], usage: TokenUsage): void {
    if (budgets.length === 0 || !usage.provider) return;
    const { provider, model } = usage;
    this.#deps.prices
      .pricesOf(principal.organizationId)
      .then((prices) => {
        const price = prices.ai.priceFor(provider, model);
        return this.#deps.guard.charge(budgets, tokenCost(price, usage.tokensIn, usage.tokensOut));
      })
      .catch((error: unknown) =>
        this.#deps.log.error({ err: error }, 'could not charge an AI request to its budgets'),
      );
  }
}
