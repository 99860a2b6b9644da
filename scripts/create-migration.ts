/**
 * `npm run migration:create -- <name>`: writes a migration for the difference
 * between the entities and a database migrated to the latest checked-in
 * migration (DATABASE_URL, or a throw-away embedded PostgreSQL).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../core/config.ts';
import { openMigratedDatabase } from '../core/db/migrate.ts';
import { createLogger } from '../core/logging.ts';
import { startEmbeddedPostgres } from './services/embedded-postgres.ts';
import { freePort } from './services/free-port.ts';
import { makeScratchDir } from './services/scratch-dir.ts';

const name = process.argv[2];
if (!name || !/^[a-z][a-z0-9_-]*$/i.test(name)) {
  console.error('usage: npm run migration:create -- <name>   (letters, digits, - and _)');
  process.exit(64);
}
const config = loadConfig();
const log = createLogger({ level: 'warn', component: 'migration' });
const scratch = config.database.url ? undefined : await makeScratchDir('skybridge-migration-');
const postgres = scratch
  ? await startEmbeddedPostgres({
      rootDir: scratch,
      port: await freePort(),
      logFile: path.join(scratch, 'postgres.log'),
    })
  : undefined;
try {
  const url = config.database.url ?? postgres!.databaseUrl('postgres');
  const orm = await openMigratedDatabase(url, log);
  const result = await orm.migrator.create(undefined, false, false, name);
  console.log(
    result.fileName
      ? `created core/db/migrations/${result.fileName}`
      : 'no entity changes: nothing to migrate',
  );
  await orm.close();
} finally {
  await postgres?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
}
