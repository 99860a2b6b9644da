/** BR-8 reads the OBS-4 reputations (scores and SLA compliance) through a cached source. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Reputation } from '../../core/db/entities/index.ts';
import { slaReputationSource } from '../../core/routing/sla-reputation.ts';
import { startTestStack, type TestStack } from '../helpers/context.ts';

describe('routing reputation source', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function recordReputation(subjectId: string, score: number, compliant: boolean | null) {
    const em = stack.orm.em.fork();
    em.create(Reputation, {
      subjectKind: 'BUCKET',
      subjectId,
      score,
      availabilityPercent: 99,
      p95LatencyMs: 100,
      compliant,
      recentFailures: 0,
      measuredAt: new Date(),
    });
    await em.flush();
  }

  it('gives each bucket its score and SLA compliance, none for a bucket never measured, and caches them', async () => {
    const [good, failing, unknown] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    await recordReputation(good, 0.95, true);
    await recordReputation(failing, 0.4, false);
    let now = 0;
    const source = slaReputationSource(stack.orm.em, { ttlMs: 1000, now: () => now });
    const first = await source.reputationsOf([good, failing, unknown]);
    expect(Object.fromEntries(first)).toEqual({
      [good]: { score: 0.95, failingSla: false },
      [failing]: { score: 0.4, failingSla: true },
    });
    await recordReputation(unknown, 0.7, null);
    expect((await source.reputationsOf([unknown])).has(unknown)).toBe(false); // still cached
    now = 1000;
    expect((await source.reputationsOf([unknown])).get(unknown)).toEqual({ score: 0.7, failingSla: false });
  });
});
