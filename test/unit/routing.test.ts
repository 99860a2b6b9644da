/** BR-8 routing's pure parts: member ranking, the passive health and its circuit, replayable bodies. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BackendHealth, type CircuitSettings } from '../../core/routing/health.ts';
import { successorOf } from '../../core/routing/object-index.ts';
import { completePolicy } from '../../core/routing/policy.ts';
import { type MemberFactors, rankWriteCandidates } from '../../core/routing/ranking.ts';
import { ReplayableBody } from '../../core/routing/replayable-body.ts';

const member = (bucketId: string, position: number, extra: Partial<MemberFactors> = {}): MemberFactors => ({
  bucketId,
  position,
  errorRate: 0,
  storagePricePerGbMonth: 0.02,
  state: 'closed',
  latencyMs: 10,
  ...extra,
});

const order = (members: MemberFactors[], policy = completePolicy()) =>
  rankWriteCandidates(members, policy).map((ranked) => ranked.bucketId);

describe('ranking write candidates', () => {
  it('keeps the members’ order under PRIORITY, leaving out open circuits', () => {
    const members = [member('a', 0, { latencyMs: 500 }), member('b', 1, { state: 'open' }), member('c', 2)];
    expect(order(members, completePolicy({ strategy: 'PRIORITY' }))).toEqual(['a', 'c']);
  });

  it('ranks by latency, price and reputation under WEIGHTED, each by its weight', () => {
    const slowCheap = member('slow-cheap', 0, { latencyMs: 200, storagePricePerGbMonth: 0.01 });
    const fastDear = member('fast-dear', 1, { latencyMs: 20, storagePricePerGbMonth: 0.03 });
    const weights = (latency: number, price: number, reputation = 0) =>
      completePolicy({ weights: { latency, price, reputation } });
    expect(order([slowCheap, fastDear], weights(1, 0))).toEqual(['fast-dear', 'slow-cheap']);
    expect(order([slowCheap, fastDear], weights(0, 1))).toEqual(['slow-cheap', 'fast-dear']);
    const trusted = { ...slowCheap, reputation: 0.9 };
    const doubtful = { ...fastDear, reputation: 0.1 };
    expect(order([doubtful, trusted], weights(0, 0, 1))).toEqual(['slow-cheap', 'fast-dear']);
  });

  it('scales a member’s score by its success rate, and breaks ties by position', () => {
    expect(order([member('a', 0, { errorRate: 0.5 }), member('b', 1)])).toEqual(['b', 'a']);
    expect(order([member('b', 1), member('a', 0)])).toEqual(['a', 'b']);
  });

  it('offers writes to members failing their SLA only after every other member', () => {
    const failing = member('failing', 0, { failingSla: true, latencyMs: 1 });
    const others = [member('b', 1, { latencyMs: 50 }), member('c', 2, { latencyMs: 80 })];
    expect(order([failing, ...others])).toEqual(['b', 'c', 'failing']);
    expect(order([failing, ...others], completePolicy({ strategy: 'PRIORITY' }))).toEqual([
      'b',
      'c',
      'failing',
    ]);
  });

  it('tries a member not measured yet, and a half-open one first under WEIGHTED', () => {
    expect(order([member('known', 0, { latencyMs: 5 }), member('new', 1, { latencyMs: undefined })])).toEqual(
      ['new', 'known'],
    );
    const recovering = member('recovering', 1, { state: 'half-open', errorRate: 0.9 });
    expect(order([member('a', 0), recovering])).toEqual(['recovering', 'a']);
  });
});

describe('backend health', () => {
  const settings: CircuitSettings = { failureThreshold: 2, coolDownMs: 1000, slowCallMs: 100 };
  const ok = { failed: false, durationMs: 10, measuresLatency: true };
  const failure = { failed: true, durationMs: 10, measuresLatency: true };

  it('opens after consecutive failures or slow calls, lets one trial through after the cool-down, closes on success', () => {
    let now = 0;
    const health = new BackendHealth({ now: () => now });
    health.record('b', failure, settings);
    health.record('b', ok, settings);
    health.record('b', failure, settings);
    expect(health.figures('b', settings).state).toBe('closed');
    health.record('b', { ...ok, durationMs: 150 }, settings); // slow: a failure too
    expect(health.figures('b', settings).state).toBe('open');
    expect(health.claimWrite('b', settings)).toBe(false);
    now = 1000;
    expect(health.figures('b', settings).state).toBe('half-open');
    expect(health.claimWrite('b', settings)).toBe(true);
    expect(health.claimWrite('b', settings)).toBe(false); // one trial at a time
    health.record('b', failure, settings);
    expect(health.figures('b', settings).state).toBe('open');
    now = 2500;
    expect(health.claimWrite('b', settings)).toBe(true);
    health.record('b', { ...ok, durationMs: 7 }, settings);
    expect(health.figures('b', settings)).toEqual({ state: 'closed', errorRate: 0, latencyMs: 7 });
  });

  it('averages latency and error rate over recent calls', () => {
    const health = new BackendHealth({ alpha: 0.5 });
    health.record('b', { ...ok, durationMs: 10 }, settings);
    health.record('b', { ...ok, durationMs: 30 }, settings);
    health.record('b', { ...failure, measuresLatency: false }, settings);
    expect(health.figures('b', settings)).toEqual({ state: 'closed', latencyMs: 20, errorRate: 0.5 });
  });
});

describe('replayable request bodies', () => {
  const chunks = (count: number, size: number) =>
    Array.from({ length: count }, (_, index) => Buffer.alloc(size, 97 + index));
  const readAll = async (stream: Readable) => Buffer.concat(await stream.toArray());

  it('gives a second attempt every byte the failed one took, then the rest', async () => {
    const parts = chunks(4, 1000);
    const body = new ReplayableBody(Readable.from(parts, { objectMode: false }), 10_000);
    const first = body.attempt();
    const taken: Buffer[] = [];
    for await (const chunk of first) {
      taken.push(chunk as Buffer);
      if (taken.length === 2) break; // the backend failed after two chunks
    }
    expect(body.replayable).toBe(true);
    expect((await readAll(body.attempt())).equals(Buffer.concat(parts))).toBe(true);
  });

  it('cannot be replayed once more than its window was read', async () => {
    const body = new ReplayableBody(Readable.from(chunks(3, 1000), { objectMode: false }), 1500);
    expect((await readAll(body.attempt())).length).toBe(3000);
    expect(body.replayable).toBe(false);
    expect(() => body.attempt()).toThrow();
  });

  it('passes the source’s failure on, and is not replayable after it', async () => {
    const source = new Readable({ read() {} });
    const body = new ReplayableBody(source, 1000);
    const attempt = body.attempt();
    const failed = readAll(attempt);
    source.destroy(new Error('client went away'));
    await expect(failed).rejects.toThrow('client went away');
    expect([body.replayable, body.failed]).toEqual([false, true]);
  });
});

describe('successorOf', () => {
  it('is the least string above every string that starts with the text', () => {
    expect(successorOf('docs/')).toBe('docs0');
    expect(successorOf('a\u{10ffff}')).toBe('b');
    expect(successorOf('\u{d7ff}')).toBe('\u{e000}');
    expect(successorOf('')).toBeUndefined();
  });
});
