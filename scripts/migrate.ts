/** `npm run migrate`: applies pending migrations to DATABASE_URL (every process also does this at start). */
import { loadConfig } from '../core/config.ts';
import { openMigratedDatabase } from '../core/db/migrate.ts';
import { createLogger } from '../core/logging.ts';

const config = loadConfig(['database']);
const log = createLogger({ level: config.logLevel, component: 'migrate' });
const orm = await openMigratedDatabase(config.database.url!, log);
const executed = await orm.migrator.getExecuted();
log.info({ latest: executed.at(-1)?.name, total: executed.length }, 'database schema is up to date');
await orm.close();
