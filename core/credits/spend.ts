/**
 * What each repository spent over a range of days (OBS-3), from the day
 * aggregates: storage egress and operations at its buckets' prices, tokens
 * at the answering provider's and model's prices, all from the
 * organization's price table over the example defaults.
 */
import type { EntityManager } from '../db/orm.ts';
import { tokenCost } from '../pricing/ai-prices.ts';
import { loadOrganizationPrices } from '../pricing/organization-prices.ts';
import { keyOf, type StatsScope, sumAggregates } from '../stats/figures.ts';
import { storageFigures } from '../stats/storage-stats.ts';

export interface RepositorySpend {
  repositoryId: string;
  storageUsd: number;
  aiUsd: number;
  totalUsd: number;
  tokensIn: number;
  tokensOut: number;
}

const micro = (usd: number) => Math.round(usd * 1e6) / 1e6;

export async function repositorySpend(em: EntityManager, scope: StatsScope): Promise<RepositorySpend[]> {
  const storage = await storageFigures(em, 'day', scope, 'repository_id');
  const ai = await aiSpend(em, scope);
  const ids = new Set([...storage.keys(), ...ai.keys()]);
  return [...ids].sort().map((repositoryId) => {
    const storageUsd = storage.get(repositoryId)?.costUsd ?? 0;
    const tokens = ai.get(repositoryId) ?? { usd: 0, tokensIn: 0, tokensOut: 0 };
    return {
      repositoryId,
      storageUsd: micro(storageUsd),
      aiUsd: micro(tokens.usd),
      totalUsd: micro(storageUsd + tokens.usd),
      tokensIn: tokens.tokensIn,
      tokensOut: tokens.tokensOut,
    };
  });
}

async function aiSpend(em: EntityManager, scope: StatsScope) {
  const rows = await sumAggregates(
    em,
    'ai_usage_days',
    scope,
    ['repository_id', 'provider', 'model'],
    'sum(tokens_in) as tokens_in, sum(tokens_out) as tokens_out',
  );
  const book = (await loadOrganizationPrices(em, scope.organizationId)).ai;
  const byRepository = new Map<string, { usd: number; tokensIn: number; tokensOut: number }>();
  for (const row of rows) {
    const tokensIn = Number(row.tokens_in ?? 0);
    const tokensOut = Number(row.tokens_out ?? 0);
    const price = row.provider ? book.priceFor(keyOf(row.provider), keyOf(row.model)) : undefined;
    const spend = byRepository.get(keyOf(row.repository_id)) ?? { usd: 0, tokensIn: 0, tokensOut: 0 };
    spend.usd += price ? tokenCost(price, tokensIn, tokensOut) : 0;
    spend.tokensIn += tokensIn;
    spend.tokensOut += tokensOut;
    byRepository.set(keyOf(row.repository_id), spend);
  }
  return byRepository;
}
