import { p } from '@mikro-orm/core';

/**
 * A column holding a secret sealed by core/secrets (envelope encryption). The
 * plaintext never reaches the database, and the property is hidden so it is
 * never serialised into an API answer.
 */
export const sealedSecret = () => p.json<Record<string, string | number>>().hidden().lazy();
