import { defineEntity, p } from '@mikro-orm/core';
import { createdAt, updatedAt, uuidPrimaryKey } from './common-properties.ts';
import { Repository } from './repository.ts';

/**
 * A multi-turn chat kept by Skybridge (CP-9): its turns are sent back as
 * context with every new prompt, answered through the AI gateway's engine
 * with the repository's configs, policies, limits and metering.
 */
const ConversationSchema = defineEntity({
  name: 'Conversation',
  tableName: 'conversations',
  indexes: [{ properties: ['repository', 'updatedAt'] }],
  properties: {
    id: uuidPrimaryKey(),
    repository: () => p.manyToOne(Repository).deleteRule('cascade'),
    title: p.string().length(200),
    /** The model prompts go to, as `/v1` names it (`gpt-4o-mini` or `<config>/<model>`). */
    model: p.string().length(200),
    systemPrompt: p.text().nullable(),
    /** Tokens of history sent as context at most (the newest turns that fit). */
    contextTokens: p.integer(),
    createdBy: p.uuid().nullable(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
});

export class Conversation extends ConversationSchema.class {}
ConversationSchema.setClass(Conversation);

export const conversationRoles = ['user', 'assistant'] as const;

const ConversationMessageSchema = defineEntity({
  name: 'ConversationMessage',
  tableName: 'conversation_messages',
  indexes: [{ properties: ['conversation', 'sequence'] }],
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    conversation: () => p.manyToOne(Conversation).deleteRule('cascade'),
    /** Order within the conversation. */
    sequence: p.integer(),
    role: p.enum(conversationRoles),
    content: p.text(),
    /** Assistant turns: the usage of the request that produced them. */
    tokensIn: p.integer().nullable(),
    tokensOut: p.integer().nullable(),
    createdAt: createdAt(),
  },
});

export class ConversationMessage extends ConversationMessageSchema.class {}
ConversationMessageSchema.setClass(ConversationMessage);
