import { defineEntity, p } from '@mikro-orm/core';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { Organization } from './organization.ts';
import { Repository } from './repository.ts';
import { User } from './user.ts';

export const groupGrantAccess = ['READ', 'WRITE', 'ADMIN'] as const;

const GroupSchema = defineEntity({
  name: 'Group',
  tableName: 'groups',
  uniques: [{ properties: ['organization', 'name'] }],
  properties: {
    id: uuidPrimaryKey(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    name: p.string().length(100),
    description: p.string().length(1000).nullable(),
    members: () => p.manyToMany(User).pivotTable('group_members'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class Group extends GroupSchema.class {}
GroupSchema.setClass(Group);

const GroupGrantSchema = defineEntity({
  name: 'GroupGrant',
  tableName: 'group_grants',
  uniques: [{ properties: ['group', 'repository'] }],
  properties: {
    id: uuidPrimaryKey(),
    group: () => p.manyToOne(Group).deleteRule('cascade'),
    repository: () => p.manyToOne(Repository).deleteRule('cascade'),
    access: p.enum(groupGrantAccess),
    createdAt: createdAt(),
  },
});

export class GroupGrant extends GroupGrantSchema.class {}
GroupGrantSchema.setClass(GroupGrant);
