import { randomUUID } from 'node:crypto';
import { defineEntity, p } from '@mikro-orm/core';

const UserSchema = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    /** Stored lower-cased so that sign-in is case-insensitive. */
    email: p.string().length(320).unique(),
    displayName: p.string().length(200).nullable(),
    /** scrypt, see core/auth/passwords.ts; never serialised. */
    passwordHash: p.string().length(300).hidden().lazy(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

export class User extends UserSchema.class {}
UserSchema.setClass(User);
