/** Names are unique within their workspace or organization; a taken name is a 409 before anything is written. */
import type { EntityName } from '@mikro-orm/core';
import type { EntityManager } from '../core/db/orm.ts';
import { AppError } from '../core/errors.ts';

export async function assertNameFree<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  options: { scope: Record<string, string>; name: string; label: string; except?: string },
): Promise<void> {
  const where = {
    ...options.scope,
    name: options.name,
    ...(options.except ? { id: { $ne: options.except } } : {}),
  };
  // `as never`: the filter is built generically; MikroORM checks it against the entity's metadata.
  if ((await em.count(entity, where as never)) > 0) {
    throw new AppError('CONFLICT', `${options.label} named "${options.name}" already exists`);
  }
}
