import { afterAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../core/db/migrate.ts';
import { type MikroORM, openDatabase } from '../../core/db/orm.ts';
import { createTestDatabase } from '../helpers/context.ts';

describe('migrations', () => {
  const opened: MikroORM[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((orm) => orm.close()));
  });

  it('apply to an empty database, then again without change, and match the entities', async () => {
    const url = await createTestDatabase();
    const orm = await openDatabase(url);
    opened.push(orm);
    const first = await migrateToLatest(orm, url);
    expect(first.length).toBeGreaterThan(0);
    expect(first[0]).toMatch(/initial/);

    const second = await migrateToLatest(orm, url);
    expect(second).toEqual([]);

    // The checked-in migrations produce exactly the schema the entities describe.
    const drift = await orm.schema.getUpdateSchemaSQL({ wrap: false });
    expect(drift.trim()).toBe('');

    const tables = await orm.em
      .getConnection()
      .execute<{ table_name: string }[]>(
        "select table_name from information_schema.tables where table_schema = 'public' order by table_name",
      );
    expect(tables.map((row) => row.table_name)).toEqual(
      expect.arrayContaining(['memberships', 'organizations', 'users', 'workspaces']),
    );
  });

  it('serialise when several processes migrate the same database at once', async () => {
    const url = await createTestDatabase();
    const orms = await Promise.all([openDatabase(url), openDatabase(url), openDatabase(url)]);
    opened.push(...orms);
    const results = await Promise.all(orms.map((orm) => migrateToLatest(orm, url)));
    const applied = results.flat();
    expect(new Set(applied).size).toBe(applied.length);
    expect(results.filter((names) => names.length > 0)).toHaveLength(1);
  });
});
