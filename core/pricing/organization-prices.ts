/**
 * An organization's price books: the documented defaults with the prices its
 * admins set (the `prices` table) on top. Read through a short cache by the
 * bridges, which price every request they charge to a budget.
 */

import type { StorageProvider } from '../../providers/storage/object-store.ts';
import { type AiRates, Price, type StorageRates } from '../db/entities/index.ts';
import type { EntityManager } from '../db/orm.ts';
import { type AiPriceBook, type AiPriceEntry, createAiPriceBook } from './ai-prices.ts';
import { createPriceBook, type PriceBook, type PriceEntry } from './prices.ts';

export interface OrganizationPrices {
  storage: PriceBook;
  ai: AiPriceBook;
}

export async function loadOrganizationPrices(
  em: EntityManager,
  organizationId: string,
): Promise<OrganizationPrices> {
  const rows = await em
    .fork()
    .find(Price, { organization: organizationId }, { orderBy: { createdAt: 'asc' } });
  const storage: PriceEntry[] = [];
  const ai: AiPriceEntry[] = [];
  for (const row of rows) {
    if (row.kind === 'STORAGE')
      storage.push({
        provider: row.provider as StorageProvider,
        region: row.match,
        ...(row.rates as StorageRates),
      });
    else ai.push({ provider: row.provider, model: row.match, ...(row.rates as AiRates) });
  }
  return { storage: createPriceBook(storage), ai: createAiPriceBook(ai) };
}

/** Price books per organization, kept `ttlMs` (a price an admin changes applies within it). */
export class OrganizationPriceCache {
  readonly #em: EntityManager;
  readonly #ttlMs: number;
  readonly #books = new Map<string, { prices: Promise<OrganizationPrices>; expires: number }>();

  constructor(options: { em: EntityManager; ttlMs?: number }) {
    this.#em = options.em;
    this.#ttlMs = options.ttlMs ?? 30_000;
  }

  pricesOf(organizationId: string): Promise<OrganizationPrices> {
    const cached = this.#books.get(organizationId);
    if (cached && cached.expires > Date.now()) return cached.prices;
    const prices = loadOrganizationPrices(this.#em, organizationId);
    this.#books.set(organizationId, { prices, expires: Date.now() + this.#ttlMs });
    prices.catch(() => this.#books.delete(organizationId));
    return prices;
  }
}
