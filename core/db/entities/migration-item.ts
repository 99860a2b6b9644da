import { defineEntity, p } from '@mikro-orm/core';

export const migrationItemActions = ['copy', 'skip', 'delete', 'conflict'] as const;
export type MigrationItemAction = (typeof migrationItemActions)[number];
export const migrationItemStates = ['pending', 'done', 'failed'] as const;
export type MigrationItemState = (typeof migrationItemStates)[number];
export const migrationCopyMethods = ['native', 'streamed'] as const;

/**
 * One object of a migration's manifest (JOB-2): object lists live here, never
 * in workflow history. Written by the plan, claimed and settled by the copy
 * and delete batches, so a retried batch skips what is already done.
 *
 * `key` is relative: below the source prefix for copy, skip and conflict
 * items, below the destination prefix for (sync) delete items. The job id is
 * a plain column: the manifest outlives nothing it points at.
 */
const MigrationItemSchema = defineEntity({
  name: 'MigrationItem',
  tableName: 'migration_items',
  uniques: [{ properties: ['jobId', 'key'] }],
  indexes: [{ properties: ['jobId', 'state', 'key'] }],
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    /** The workflow id: stable across continueAsNew. */
    jobId: p.string().length(100),
    key: p.text(),
    /** The source object's size (the destination's, for a delete item). */
    size: p.bigint('number'),
    sourceEtag: p.string().length(100).nullable(),
    sourceModifiedAt: p.datetime().nullable(),
    action: p.enum(migrationItemActions),
    state: p.enum(migrationItemStates),
    /** How the copy was made, once done. */
    method: p.enum(migrationCopyMethods).nullable(),
    error: p.text().nullable(),
    attempts: p.integer().default(0),
    /** The activity that took the item, and when: another one leaves it alone until the lease ends. */
    claimedBy: p.string().length(200).nullable(),
    claimedAt: p.datetime().nullable(),
  },
});

export class MigrationItem extends MigrationItemSchema.class {}
MigrationItemSchema.setClass(MigrationItem);
