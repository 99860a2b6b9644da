import { describe, expect, it } from 'vitest';
import { createPriceBook, defaultPriceTable } from '../../core/pricing/prices.ts';
import {
  type BucketFigures,
  defaultPlannerThresholds,
  type PlannerThresholds,
  type PrefixSize,
} from '../../core/rebalancing/plan.ts';
import { planRebalance } from '../../core/rebalancing/planner.ts';
import type { StorageProvider } from '../../providers/storage/object-store.ts';

const GB = 1e9;
const prices = createPriceBook();

function bucket(
  name: string,
  options: Partial<Omit<BucketFigures, 'price'>> & { provider?: StorageProvider } = {},
): BucketFigures {
  const prefixes: PrefixSize[] = options.prefixes ?? [];
  const provider = options.provider ?? 'S3_COMPATIBLE';
  return {
    bucketId: `id-${name}`,
    name,
    provider,
    region: options.region ?? null,
    storedBytes: options.storedBytes ?? prefixes.reduce((total, prefix) => total + prefix.bytes, 0),
    prefixes,
    caps: { storageBytes: null, egressBytesPerDay: null, requestsPerMinute: null, ...options.caps },
    usage: {
      requests: 0,
      errors: 0,
      p95LatencyMs: null,
      egressBytesToday: 0,
      peakRequestsPerMinute: 0,
      ...options.usage,
    },
    price: prices.priceFor(provider, options.region ?? null),
  };
}

const prefix = (name: string, bytes: number, objects = 10): PrefixSize => ({ prefix: name, bytes, objects });
const plan = (buckets: BucketFigures[], overrides: Partial<PlannerThresholds> = {}) =>
  planRebalance(buckets, { ...defaultPlannerThresholds, ...overrides });

describe('rebalancing planner', () => {
  it('proposes nothing when no bucket is near a cap, failing, slow or dear', () => {
    const result = plan([
      bucket('a', {
        prefixes: [prefix('logs/', 10 * GB)],
        caps: { storageBytes: 100 * GB, egressBytesPerDay: null, requestsPerMinute: null },
      }),
      bucket('b', {
        prefixes: [prefix('img/', 5 * GB)],
        usage: { requests: 500, errors: 1, p95LatencyMs: 80, egressBytesToday: 0, peakRequestsPerMinute: 3 },
      }),
    ]);
    expect(result.moves).toEqual([]);
    expect(result.totalBytes).toBe(0);
    expect(result.notes).toEqual([]);
    expect(result.buckets.map((assessed) => assessed.triggers)).toEqual([[], []]);
  });

  it('moves the largest prefixes off a bucket near its storage cap until it is below the target, and explains each move', () => {
    const full = bucket('full', {
      prefixes: [prefix('video/', 50 * GB, 5), prefix('logs/', 30 * GB, 300), prefix('tmp/', 5 * GB, 50)],
      caps: { storageBytes: 100 * GB, egressBytesPerDay: null, requestsPerMinute: null },
    });
    const roomy = bucket('roomy', {
      prefixes: [prefix('old/', 10 * GB)],
      caps: { storageBytes: 200 * GB, egressBytesPerDay: null, requestsPerMinute: null },
    });
    const result = plan([full, roomy]);
    expect(result.moves.map((move) => [move.id, move.prefix, move.destinationBucketName])).toEqual([
      ['move-1', 'video/', 'roomy'],
    ]);
    const [move] = result.moves;
    expect(move?.reasons).toEqual(['NEAR_CAP']);
    expect(move?.figures.source.capUsePercent.storage).toBe(85);
    expect(move?.figures.source.capUsePercentAfter.storage).toBe(35);
    expect(move?.figures.destination.storageCapUsePercentAfter).toBe(30);
    expect(move?.figures.bytes).toBe(50 * GB);
    expect(move?.figures.objects).toBe(5);
    expect(move?.explanation).toContain('full/video/');
    expect(move?.explanation).toContain('storage 85%');
    expect(move?.explanation).toContain('storage 35%');
    expect(move?.explanation).toContain('$0.0150 → $0.0150 per GB-month');
    expect(result.totalBytes).toBe(50 * GB);
  });

  it('counts egress and request caps too, shrinking them with the share of bytes moved', () => {
    const busy = bucket('busy', {
      prefixes: [prefix('a/', 6 * GB), prefix('b/', 4 * GB)],
      caps: { storageBytes: null, egressBytesPerDay: 100 * GB, requestsPerMinute: null },
      usage: {
        requests: 0,
        errors: 0,
        p95LatencyMs: null,
        egressBytesToday: 90 * GB,
        peakRequestsPerMinute: 0,
      },
    });
    const result = plan([busy, bucket('spare')]);
    expect(result.moves.map((move) => move.prefix)).toEqual(['a/']);
    expect(result.moves[0]?.figures.source.capUsePercent.egress).toBe(90);
    expect(result.moves[0]?.figures.source.capUsePercentAfter.egress).toBe(36);
  });

  it('moves every prefix off a failing bucket to the one with the fewest errors', () => {
    const usage = (errors: number, p95LatencyMs: number) => ({
      requests: 100,
      errors,
      p95LatencyMs,
      egressBytesToday: 0,
      peakRequestsPerMinute: 5,
    });
    const result = plan([
      bucket('failing', { prefixes: [prefix('x/', GB), prefix('y/', GB / 2)], usage: usage(20, 100) }),
      bucket('shaky', { usage: usage(4, 50) }),
      bucket('solid', { usage: usage(0, 90) }),
    ]);
    expect(result.moves.map((move) => [move.prefix, move.destinationBucketName, move.reasons])).toEqual([
      ['x/', 'solid', ['FAILING']],
      ['y/', 'solid', ['FAILING']],
    ]);
    expect(result.moves[0]?.figures.source.errorRate).toBe(0.2);
    expect(result.moves[0]?.explanation).toContain('20% of its requests failed');
  });

  it('moves a slow bucket to a faster one only, and trusts latency only above minRequests', () => {
    const usage = (requests: number, p95LatencyMs: number) => ({
      requests,
      errors: 0,
      p95LatencyMs,
      egressBytesToday: 0,
      peakRequestsPerMinute: 1,
    });
    const slow = bucket('slow', { prefixes: [prefix('p/', GB)], usage: usage(50, 2500) });
    const slower = bucket('slower', { usage: usage(50, 900) });
    const fast = bucket('fast', { usage: usage(50, 40) });
    const result = plan([slow, slower, fast]);
    expect(result.moves.map((move) => [move.destinationBucketName, move.reasons])).toEqual([
      ['fast', ['SLOW']],
    ]);
    expect(result.moves[0]?.explanation).toContain('p95 2500 ms → 40 ms');
    expect(
      plan([bucket('slow', { prefixes: [prefix('p/', GB)], usage: usage(5, 2500) }), fast]).moves,
    ).toEqual([]);
    expect(plan([slow, fast], { slowP95LatencyMs: 3000 }).moves).toEqual([]);
  });

  it('sends no move to a bucket failing its SLA (low reputation), and prefers the better reputation', () => {
    const full = bucket('full', {
      prefixes: [prefix('video/', 50 * GB)],
      caps: { storageBytes: 60 * GB, egressBytesPerDay: null, requestsPerMinute: null },
    });
    const failing = { ...bucket('a-failing'), reputation: 0.2 };
    const shaky = { ...bucket('b-shaky'), reputation: 0.7 };
    const solid = { ...bucket('c-solid'), reputation: 0.99 };
    const destinationOf = (buckets: BucketFigures[]) =>
      plan(buckets).moves.map((m) => m.destinationBucketName);
    expect(destinationOf([full, failing, shaky, solid])).toEqual(['c-solid']);
    expect(destinationOf([full, failing, shaky])).toEqual(['b-shaky']);
    expect(destinationOf([full, failing])).toEqual([]);
    expect(plan([full, failing]).buckets.find((b) => b.name === 'a-failing')?.reputation).toBe(0.2);
  });

  it('moves a healthy bucket to a much cheaper one when the saving is worth it', () => {
    const dear = bucket('dear', {
      provider: 'S3',
      region: 'us-east-1',
      prefixes: [prefix('big/', 500 * GB), prefix('small/', 1 * GB)],
    });
    const cheap = bucket('cheap', { provider: 'S3_COMPATIBLE' });
    const result = plan([dear, cheap]);
    expect(result.moves.map((move) => [move.prefix, move.reasons])).toEqual([['big/', ['EXPENSIVE']]]);
    const [move] = result.moves;
    expect(move?.figures.source.pricePerGbMonth).toBe(0.023);
    expect(move?.figures.destination.pricePerGbMonth).toBe(0.015);
    expect(move?.figures.estimatedMonthlySaving).toBe(4);
    expect(move?.figures.oneTimeEgressCost).toBe(45);
    expect(result.estimatedMonthlySaving).toBe(4);
    expect(plan([dear, cheap], { minPriceDropPercent: 40 }).moves).toEqual([]);
    expect(plan([dear, cheap], { minMonthlySaving: 0.001 }).moves.map((m) => m.prefix)).toEqual([
      'big/',
      'small/',
    ]);
  });

  it('fills no destination beyond the target cap use, and says why a troubled bucket kept its data', () => {
    const full = bucket('full', {
      prefixes: [prefix('a/', 90 * GB)],
      caps: { storageBytes: 100 * GB, egressBytesPerDay: null, requestsPerMinute: null },
    });
    const small = bucket('small', {
      caps: { storageBytes: 100 * GB, egressBytesPerDay: null, requestsPerMinute: null },
    });
    const result = plan([full, small]);
    expect(result.moves).toEqual([]);
    expect(result.notes).toEqual(['full is NEAR_CAP but no bucket of the workspace can take its prefixes']);
    expect(plan([full, small], { targetCapUsePercent: 95, capUsePercent: 95 }).moves).toEqual([]);
    expect(plan([full, small], { capUsePercent: 80, targetCapUsePercent: 90 }).moves).toHaveLength(1);
  });

  it('never uses a bucket as both a source and a destination, and stops at maxMoves', () => {
    const usage = {
      requests: 100,
      errors: 50,
      p95LatencyMs: 10,
      egressBytesToday: 0,
      peakRequestsPerMinute: 1,
    };
    const one = bucket('one', { prefixes: [prefix('a/', GB), prefix('b/', GB), prefix('c/', GB)], usage });
    const two = bucket('two', { prefixes: [prefix('d/', GB)], usage });
    const healthy = bucket('healthy');
    const result = plan([one, two, healthy], { maxMoves: 2 });
    expect(
      result.moves.map((move) => `${move.sourceBucketName}/${move.prefix}→${move.destinationBucketName}`),
    ).toEqual(['one/a/→healthy', 'one/b/→healthy']);
    expect(result.notes[0]).toContain('maxMoves');
  });
});

describe('price book', () => {
  it('prefers the region, then the provider-wide row, and overrides win over the defaults', () => {
    expect(prices.priceFor('S3', 'eu-central-1')).toMatchObject({
      storagePerGbMonth: 0.0245,
      source: 'default',
    });
    expect(prices.priceFor('S3', 'ap-south-2')).toMatchObject({ region: '*', storagePerGbMonth: 0.025 });
    expect(prices.priceFor('GCS', null)).toMatchObject({ region: '*' });
    const edited = createPriceBook([
      { provider: 'S3', region: '*', storagePerGbMonth: 0.01, egressPerGb: 0.05, operationsPer1000: 0.004 },
    ]);
    expect(edited.priceFor('S3', 'us-east-1')).toMatchObject({ storagePerGbMonth: 0.01, source: 'override' });
    expect(edited.priceFor('AZURE', 'eastus')).toMatchObject({
      storagePerGbMonth: 0.0184,
      source: 'default',
    });
  });

  it('has a provider-wide default for every provider', () => {
    for (const provider of ['S3', 'S3_COMPATIBLE', 'GCS', 'AZURE'] as const)
      expect(defaultPriceTable.some((entry) => entry.provider === provider && entry.region === '*')).toBe(
        true,
      );
  });
});
