import { defineEntity, p } from '@mikro-orm/core';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { Organization } from './organization.ts';

export const priceKinds = ['STORAGE', 'AI'] as const;
export type PriceKind = (typeof priceKinds)[number];

/** What a STORAGE price row sets (US dollars). */
export interface StorageRates {
  storagePerGbMonth: number;
  egressPerGb: number;
  operationsPer1000: number;
}

/** What an AI price row sets (US dollars per 1,000 tokens). */
export interface AiRates {
  inputPer1000Tokens: number;
  outputPer1000Tokens: number;
}

/**
 * An organization's own price (OBS-3), layered over the documented example
 * defaults (core/pricing): a storage price per provider and region, or an AI
 * price per provider and model. `match` is the region or the model; `*`
 * covers every region or model of the provider without a row of its own.
 */
const PriceSchema = defineEntity({
  name: 'Price',
  tableName: 'prices',
  uniques: [{ properties: ['organization', 'kind', 'provider', 'match'] }],
  properties: {
    id: uuidPrimaryKey(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    kind: p.enum(priceKinds),
    provider: p.string().length(20),
    match: p.string().length(200),
    rates: p.json<StorageRates | AiRates>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class Price extends PriceSchema.class {}
PriceSchema.setClass(Price);
