import { describe, expect, it } from 'vitest';
import { RelayCollector } from '../../core/metering/relay-collector.ts';

describe('RelayCollector', () => {
  it('collects once per threshold of relayed bytes, counting from the last collection', () => {
    let collections = 0;
    const collector = new RelayCollector(() => collections++, 1000);
    collector.relayed(600);
    expect(collections).toBe(0);
    collector.relayed(400);
    expect(collections).toBe(1);
    for (let i = 0; i < 19; i++) collector.relayed(100);
    expect(collections).toBe(2);
    collector.relayed(100);
    expect(collections).toBe(3);
  });

  it('does nothing without a collection to run (a process started without --expose-gc)', () => {
    const collector = new RelayCollector(undefined, 1);
    expect(() => collector.relayed(10)).not.toThrow();
  });
});
