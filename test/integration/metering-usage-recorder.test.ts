/** The usage recorder against a real PostgreSQL migrated to the latest schema. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageEvent } from '../../core/db/entities/index.ts';
import { openMigratedDatabase } from '../../core/db/migrate.ts';
import type { MikroORM } from '../../core/db/orm.ts';
import { UsageRecorder } from '../../core/metering/usage-recorder.ts';
import { createTestDatabase, quietLogger } from '../helpers/context.ts';

describe('usage events in PostgreSQL', () => {
  let orm: MikroORM;
  beforeAll(async () => {
    orm = await openMigratedDatabase(await createTestDatabase(), quietLogger());
  });
  afterAll(async () => {
    await orm?.close();
  });

  const execute = (sql: string) => orm.em.getConnection().execute(sql);
  const rowsOf = (repositoryId: string) =>
    orm.em.fork().find(UsageEvent, { repositoryId }, { orderBy: { id: 'asc' } });

  it('writes batches of events, every column round-tripping, under increasing ids', async () => {
    const recorder = new UsageRecorder({ em: orm.em, log: quietLogger(), maxBatch: 500 });
    const organizationId = randomUUID();
    const repositoryId = randomUUID();
    const occurredAt = new Date('2026-11-22T10:00:00.123Z');
    for (let index = 0; index < 1200; index++) {
      recorder.record({
        api: 'S3',
        organizationId,
        repositoryId,
        bucketId: randomUUID(),
        keyId: randomUUID(),
        operation: 'PutObject',
        status: 200,
        bytesIn: 5_000_000_000 + index, // beyond int4
        bytesOut: 0,
        latencyMs: 12,
        occurredAt,
      });
    }
    recorder.record({
      api: 'OPENAI',
      organizationId,
      repositoryId,
      operation: 'ChatCompletions',
      status: 200,
      bytesIn: 310,
      bytesOut: 2048,
      latencyMs: 900,
      model: 'gpt-4o-mini',
      tokensIn: 52,
      tokensOut: 410,
      conversationId: 'conv-1',
    });
    await recorder.stop();

    const rows = await rowsOf(repositoryId);
    expect(rows).toHaveLength(1201);
    expect(rows.map((row) => row.bytesIn).slice(0, 1200)).toEqual(
      Array.from({ length: 1200 }, (_, index) => 5_000_000_000 + index),
    );
    const ids = rows.map((row) => BigInt(row.id));
    expect(ids.every((id, index) => index === 0 || id > ids[index - 1]!)).toBe(true);
    expect(rows[0]).toMatchObject({ api: 'S3', occurredAt, status: 200, latencyMs: 12, model: null });
    expect(rows[1200]).toMatchObject({
      api: 'OPENAI',
      bucketId: null,
      keyId: null,
      model: 'gpt-4o-mini',
      tokensIn: 52,
      tokensOut: 410,
      conversationId: 'conv-1',
    });
  });

  it('accepts events whose resources no longer exist (no foreign keys)', async () => {
    const recorder = new UsageRecorder({ em: orm.em, log: quietLogger() });
    const repositoryId = randomUUID();
    recorder.record({
      api: 'S3',
      organizationId: randomUUID(),
      repositoryId,
      bucketId: randomUUID(),
      keyId: randomUUID(),
      operation: 'GetObject',
      status: 200,
      bytesIn: 0,
      bytesOut: 1,
      latencyMs: 1,
    });
    await recorder.flush();
    expect(await rowsOf(repositoryId)).toHaveLength(1);
  });

  it('keeps events while the table cannot be written, and writes them once it can', async () => {
    const recorder = new UsageRecorder({ em: orm.em, log: quietLogger(), maxBatch: 3 });
    const repositoryId = randomUUID();
    const record = (bytesOut: number) =>
      recorder.record({
        api: 'S3',
        organizationId: randomUUID(),
        repositoryId,
        operation: 'GetObject',
        status: 200,
        bytesIn: 0,
        bytesOut,
        latencyMs: 1,
      });
    record(1);
    record(2);
    await execute('alter table usage_events rename to usage_events_away');
    try {
      record(3);
      record(4);
      await expect(recorder.flush()).rejects.toThrow();
      record(5);
      await expect(recorder.flush()).rejects.toThrow();
      expect(recorder.buffered).toBe(5);
    } finally {
      await execute('alter table usage_events_away rename to usage_events');
    }
    await recorder.flush();
    expect((await rowsOf(repositoryId)).map((row) => row.bytesOut)).toEqual([1, 2, 3, 4, 5]);
  });
});
