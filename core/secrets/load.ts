import type { Config } from '../config.ts';
import { type MasterKeyring, parseMasterKeyring, readMasterKeyringFile } from './keyring.ts';

/** The master keyring named by the configuration (variable first, then key file). */
export async function loadMasterKeyring(secrets: Config['secrets']): Promise<MasterKeyring> {
  if (secrets.masterKeys) return parseMasterKeyring(secrets.masterKeys, 'SKYBRIDGE_MASTER_KEYS');
  if (secrets.masterKeyFile) return readMasterKeyringFile(secrets.masterKeyFile);
  throw new Error('no master keys configured: set SKYBRIDGE_MASTER_KEYS or SKYBRIDGE_MASTER_KEY_FILE');
}
