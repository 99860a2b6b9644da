/**
 * `npm run secrets:rotate`: re-seals every stored secret under the active
 * (first) master key of SKYBRIDGE_MASTER_KEYS / SKYBRIDGE_MASTER_KEY_FILE.
 *   1. put a new key first:  SKYBRIDGE_MASTER_KEYS=new:<base64>,old:<base64>
 *   2. restart api and worker with it, then run this command
 *   3. when it reports 0 values left under other keys, drop the old key
 * `--generate` prints a new key line to put first.
 */
import { loadConfig } from '../core/config.ts';
import { openMigratedDatabase } from '../core/db/migrate.ts';
import { createLogger } from '../core/logging.ts';
import { generateMasterKey } from '../core/secrets/keyring.ts';
import { loadMasterKeyring } from '../core/secrets/load.ts';
import { rewrapAllSecrets } from '../core/secrets/rotation.ts';

if (process.argv.includes('--generate')) {
  const { id, keyBase64 } = generateMasterKey();
  process.stdout.write(`${id}:${keyBase64}\n`);
  process.exit(0);
}
const config = loadConfig(['database', 'masterKeys']);
const keyring = await loadMasterKeyring(config.secrets);
const orm = await openMigratedDatabase(
  config.database.url!,
  createLogger({ level: 'warn', component: 'rotate' }),
);
try {
  const report = await rewrapAllSecrets(orm.em, keyring);
  process.stdout.write(
    `re-sealed ${report.rewrapped} secret(s) under master key "${keyring.activeKeyId}"; ${report.alreadyCurrent} already were.\n`,
  );
} finally {
  await orm.close();
}
