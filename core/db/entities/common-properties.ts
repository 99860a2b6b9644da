/** Properties most entities share: a random UUID key and creation/update times. */
import { randomUUID } from 'node:crypto';
import { p } from '@mikro-orm/core';

export const uuidPrimaryKey = () =>
  p
    .uuid()
    .primary()
    .onCreate(() => randomUUID());

export const createdAt = () => p.datetime().onCreate(() => new Date());

export const updatedAt = () =>
  p
    .datetime()
    .onCreate(() => new Date())
    .onUpdate(() => new Date());
