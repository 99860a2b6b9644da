/**
 * What 1,000 tokens in and out cost per AI provider and model: the AI half of
 * the credits price table (OBS-3).
 *
 * As for storage (prices.ts), the defaults are EXAMPLE figures in US dollars,
 * rounded from the providers' public list prices at one point in time, not
 * quotes. A model matches the longest model prefix with a row (so
 * `gpt-4o-mini-2024-07-18` takes the `gpt-4o-mini` row), else the provider's
 * `*` row. OTHER (self-hosted or unknown OpenAI-compatible endpoints) costs
 * nothing unless an admin prices it.
 */
import type { AiRates } from '../db/entities/index.ts';
import { anyRegion as anyModel } from './prices.ts';

export interface AiPriceEntry extends AiRates {
  provider: string;
  /** A model name or prefix; `*` covers the provider's other models. */
  model: string;
}

export interface AiPriceQuote extends AiPriceEntry {
  source: 'override' | 'default';
}

/** EXAMPLES, not quotes (see the file's comment). */
export const defaultAiPriceTable: readonly AiPriceEntry[] = [
  { provider: 'OPENAI', model: 'gpt-4o-mini', inputPer1000Tokens: 0.00015, outputPer1000Tokens: 0.0006 },
  { provider: 'OPENAI', model: 'gpt-4o', inputPer1000Tokens: 0.0025, outputPer1000Tokens: 0.01 },
  {
    provider: 'OPENAI',
    model: 'text-embedding-3-small',
    inputPer1000Tokens: 0.00002,
    outputPer1000Tokens: 0,
  },
  { provider: 'OPENAI', model: anyModel, inputPer1000Tokens: 0.0025, outputPer1000Tokens: 0.01 },
  {
    provider: 'ANTHROPIC',
    model: 'claude-3-5-haiku',
    inputPer1000Tokens: 0.0008,
    outputPer1000Tokens: 0.004,
  },
  { provider: 'ANTHROPIC', model: anyModel, inputPer1000Tokens: 0.003, outputPer1000Tokens: 0.015 },
  { provider: 'GOOGLE', model: 'gemini-2.0-flash', inputPer1000Tokens: 0.0001, outputPer1000Tokens: 0.0004 },
  { provider: 'GOOGLE', model: anyModel, inputPer1000Tokens: 0.00125, outputPer1000Tokens: 0.005 },
  { provider: 'AWS', model: anyModel, inputPer1000Tokens: 0.003, outputPer1000Tokens: 0.015 },
  { provider: 'OTHER', model: anyModel, inputPer1000Tokens: 0, outputPer1000Tokens: 0 },
];

export interface AiPriceBook {
  priceFor(provider: string, model: string | null | undefined): AiPriceQuote;
}

const free: AiRates = { inputPer1000Tokens: 0, outputPer1000Tokens: 0 };

/** The defaults with `overrides` on top: any override that matches wins over every default. */
export function createAiPriceBook(overrides: readonly AiPriceEntry[] = []): AiPriceBook {
  return {
    priceFor(provider, model) {
      const found =
        findAiEntry(overrides, provider, model, 'override') ??
        findAiEntry(defaultAiPriceTable, provider, model, 'default');
      return found ?? { provider, model: anyModel, ...free, source: 'default' };
    },
  };
}

function findAiEntry(
  table: readonly AiPriceEntry[],
  provider: string,
  model: string | null | undefined,
  source: AiPriceQuote['source'],
): AiPriceQuote | undefined {
  const ofProvider = table.filter((entry) => entry.provider === provider);
  // A model asked for as `<config-name>/<model>` is priced as `<model>`.
  const names = model ? [model, model.slice(model.indexOf('/') + 1)] : [];
  const byPrefix = ofProvider
    .filter((entry) => entry.model !== anyModel && names.some((name) => name.startsWith(entry.model)))
    .sort((a, b) => b.model.length - a.model.length)[0];
  const entry = byPrefix ?? ofProvider.find((candidate) => candidate.model === anyModel);
  return entry && { ...entry, source };
}

/** US dollars for one request's tokens. */
export function tokenCost(price: AiRates, tokensIn: number, tokensOut: number): number {
  return (tokensIn / 1000) * price.inputPer1000Tokens + (tokensOut / 1000) * price.outputPer1000Tokens;
}
