/**
 * The first start of an empty database creates one organization, its default
 * workspace and an OWNER whose password is generated and handed back exactly
 * once, to be printed to the operator's terminal (never to the log).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { Membership, Organization, User, Workspace } from '../db/entities/index.ts';
import { generatePassword, hashPassword } from './passwords.ts';

export interface BootstrapCredential {
  email: string;
  password: string;
}

const BOOTSTRAP_LOCK_ID = 704_236_612;

/** Returns the new credential, or null when users already exist. */
export async function ensureBootstrapAdmin(
  em: EntityManager,
  email: string,
): Promise<BootstrapCredential | null> {
  return em.fork().transactional(async (tx) => {
    // Two processes starting together must not both create an admin.
    await tx.execute('select pg_advisory_xact_lock(?)', [BOOTSTRAP_LOCK_ID]);
    if ((await tx.count(User)) > 0) return null;
    const password = generatePassword();
    const organization = tx.create(Organization, { name: 'Default organization' });
    tx.create(Workspace, { organization, name: 'default', isDefault: true });
    const user = tx.create(User, {
      email: email.toLowerCase(),
      displayName: 'Bootstrap admin',
      passwordHash: await hashPassword(password),
    });
    tx.create(Membership, { user, organization, role: 'OWNER' });
    return { email: user.email, password };
  });
}

export function formatBootstrapCredential(credential: BootstrapCredential): string {
  return [
    'Bootstrap admin credential (shown once, store it now):',
    `  email:    ${credential.email}`,
    `  password: ${credential.password}`,
  ].join('\n');
}
