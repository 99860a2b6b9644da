export { Membership, type OrganizationRole, organizationRoles, roleAtLeast } from './membership.ts';
export { Organization } from './organization.ts';
export { User } from './user.ts';
export { Workspace } from './workspace.ts';

import { Membership } from './membership.ts';
import { Organization } from './organization.ts';
import { User } from './user.ts';
import { Workspace } from './workspace.ts';

export const allEntities = [Organization, Workspace, User, Membership];
