/** Who is calling a protected route: resolved once per request by api/routing/mount.ts. */
import type { OrganizationRole } from '../core/db/entities/index.ts';

export interface Caller {
  userId: string;
  email: string;
  organizationId: string;
  role: OrganizationRole;
}

declare module 'express-serve-static-core' {
  interface Request {
    caller?: Caller;
  }
}
