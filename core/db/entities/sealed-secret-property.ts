import { p } from '@mikro-orm/core';
import type { SealedSecret } from '../../secrets/envelope.ts';

/**
 * A column holding a secret sealed by core/secrets (envelope encryption). The
 * plaintext never reaches the database, and the property is hidden so it is
 * never serialised into an API answer.
 */
export const sealedSecret = () => p.json<SealedSecret>().hidden().lazy();
