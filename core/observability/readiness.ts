import type { MikroORM } from '@mikro-orm/postgresql';
import type { ReadinessCheck } from './ops-endpoints.ts';

export function databaseReadiness(orm: MikroORM): ReadinessCheck {
  return async () => {
    await orm.em.getConnection().execute('select 1');
  };
}
