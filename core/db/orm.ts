/**
 * MikroORM on PostgreSQL. Schema changes go through the checked-in migrations
 * in ./migrations; nothing outside tests synchronises the schema.
 */
import path from 'node:path';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, MikroORM, type Options } from '@mikro-orm/postgresql';
import { allEntities } from './entities/index.ts';

export type { EntityManager } from '@mikro-orm/postgresql';
export { MikroORM };

export const migrationsDir = path.join(import.meta.dirname, 'migrations');

export function ormOptions(databaseUrl: string, overrides: Partial<Options> = {}): Options {
  return defineConfig({
    clientUrl: databaseUrl,
    entities: allEntities,
    extensions: [Migrator],
    migrations: {
      tableName: 'skybridge_migrations',
      path: migrationsDir,
      glob: '!(*.d).{js,ts}',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      emit: 'ts',
      silent: true,
    },
    // SQL functions and aggregates are written by hand in migrations (the stats rollups' histogram_sum).
    schemaGenerator: { ignoreRoutines: true },
    pool: { min: 0, max: 10 },
    debug: false,
    ...overrides,
  });
}

export async function openDatabase(databaseUrl: string, overrides: Partial<Options> = {}): Promise<MikroORM> {
  return MikroORM.init(ormOptions(databaseUrl, overrides));
}
