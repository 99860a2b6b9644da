import { defineEntity, p } from '@mikro-orm/core';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';

const UserSchema = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: uuidPrimaryKey(),
    /** Stored lower-cased so that sign-in is case-insensitive. */
    email: p.string().length(320).unique(),
    displayName: p.string().length(200).nullable(),
    /** scrypt, see core/auth/passwords.ts; never serialised. */
    passwordHash: p.string().length(300).hidden().lazy(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class User extends UserSchema.class {}
UserSchema.setClass(User);
