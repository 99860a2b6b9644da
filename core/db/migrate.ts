import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { Logger } from '../logging.ts';
import { openDatabase } from './orm.ts';

/** Arbitrary but fixed: serialises migrations when several replicas start at once. */
const MIGRATION_LOCK_ID = 704_236_611;

/**
 * Applies pending migrations; returns the names applied. The advisory lock is
 * held on its own connection because session locks belong to one connection
 * and the ORM's pool may hand out a different one for each statement.
 */
export async function migrateToLatest(orm: MikroORM, databaseUrl: string): Promise<string[]> {
  const lockClient = new pg.Client({ connectionString: databaseUrl });
  await lockClient.connect();
  try {
    await lockClient.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    const applied = await orm.migrator.up();
    return applied.map((migration) => migration.name);
  } finally {
    await lockClient.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await lockClient.end();
  }
}

/** Opens the database and brings its schema up to date; every process starts with this. */
export async function openMigratedDatabase(databaseUrl: string, log: Logger): Promise<MikroORM> {
  const orm = await openDatabase(databaseUrl);
  try {
    const applied = await migrateToLatest(orm, databaseUrl);
    if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');
    return orm;
  } catch (error) {
    await orm.close();
    throw error;
  }
}
