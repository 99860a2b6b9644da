/**
 * What storing, reading out and touching a byte costs at each provider and
 * region: the input of the rebalancing planner's cost figures (JOB-6) and of
 * migration cost estimates.
 *
 * The default table below holds EXAMPLE figures in US dollars, rounded from
 * the providers' public list prices for their standard storage class at one
 * point in time. They are not quotes: real prices depend on the storage
 * class, tiered volumes, negotiated discounts and the date. An organization's
 * own prices (issue 7: edited by admins, stored in PostgreSQL) are layered on
 * top with `createPriceBook(overrides)`: an override for a provider and region
 * wins over a default for the same pair, and a provider-wide override (region
 * `*`) wins over every default of that provider.
 */
import type { StorageProvider } from '../../providers/storage/object-store.ts';

export interface StoragePrice {
  /** Per GB (10^9 bytes) stored for a month. */
  storagePerGbMonth: number;
  /** Per GB sent out of the provider (to the internet or another provider). */
  egressPerGb: number;
  /** Per 1,000 requests (write-class operations, the dearer kind). */
  operationsPer1000: number;
}

/** One row of a price table; `region` `*` covers every region of the provider without its own row. */
export interface PriceEntry extends StoragePrice {
  provider: StorageProvider;
  region: string;
}

/** A price and the row it came from, so explanations can say which price was used. */
export interface PriceQuote extends StoragePrice {
  provider: StorageProvider;
  region: string;
  source: 'override' | 'default';
}

export const anyRegion = '*';

/** EXAMPLES, not quotes (see the file's comment). */
export const defaultPriceTable: readonly PriceEntry[] = [
  {
    provider: 'S3',
    region: 'us-east-1',
    storagePerGbMonth: 0.023,
    egressPerGb: 0.09,
    operationsPer1000: 0.005,
  },
  {
    provider: 'S3',
    region: 'eu-west-1',
    storagePerGbMonth: 0.023,
    egressPerGb: 0.09,
    operationsPer1000: 0.005,
  },
  {
    provider: 'S3',
    region: 'eu-central-1',
    storagePerGbMonth: 0.0245,
    egressPerGb: 0.09,
    operationsPer1000: 0.0054,
  },
  {
    provider: 'S3',
    region: anyRegion,
    storagePerGbMonth: 0.025,
    egressPerGb: 0.09,
    operationsPer1000: 0.0055,
  },
  {
    provider: 'GCS',
    region: 'us-central1',
    storagePerGbMonth: 0.02,
    egressPerGb: 0.12,
    operationsPer1000: 0.005,
  },
  {
    provider: 'GCS',
    region: 'europe-west1',
    storagePerGbMonth: 0.02,
    egressPerGb: 0.12,
    operationsPer1000: 0.005,
  },
  {
    provider: 'GCS',
    region: anyRegion,
    storagePerGbMonth: 0.023,
    egressPerGb: 0.12,
    operationsPer1000: 0.005,
  },
  {
    provider: 'AZURE',
    region: 'eastus',
    storagePerGbMonth: 0.0184,
    egressPerGb: 0.087,
    operationsPer1000: 0.0065,
  },
  {
    provider: 'AZURE',
    region: 'westeurope',
    storagePerGbMonth: 0.0196,
    egressPerGb: 0.087,
    operationsPer1000: 0.0065,
  },
  {
    provider: 'AZURE',
    region: anyRegion,
    storagePerGbMonth: 0.02,
    egressPerGb: 0.087,
    operationsPer1000: 0.0065,
  },
  // Self-hosted or third-party S3-compatible storage (MinIO, Ceph, R2, Wasabi...): a mid-range guess.
  {
    provider: 'S3_COMPATIBLE',
    region: anyRegion,
    storagePerGbMonth: 0.015,
    egressPerGb: 0.01,
    operationsPer1000: 0.0045,
  },
];

export interface PriceBook {
  priceFor(provider: StorageProvider, region: string | null | undefined): PriceQuote;
}

/** The defaults with `overrides` on top (an override matches before any default). */
export function createPriceBook(overrides: readonly PriceEntry[] = []): PriceBook {
  return {
    priceFor(provider, region) {
      const found =
        findEntry(overrides, provider, region, 'override') ??
        findEntry(defaultPriceTable, provider, region, 'default');
      if (!found) throw new Error(`No price for provider ${provider}`);
      return found;
    },
  };
}

function findEntry(
  table: readonly PriceEntry[],
  provider: StorageProvider,
  region: string | null | undefined,
  source: PriceQuote['source'],
): PriceQuote | undefined {
  const ofProvider = table.filter((entry) => entry.provider === provider);
  const entry =
    ofProvider.find((candidate) => region && candidate.region === region) ??
    ofProvider.find((candidate) => candidate.region === anyRegion);
  return entry && { ...entry, source };
}
