/**
 * CP-9: conversations. A conversation belongs to a repository and names a
 * model; each prompt is answered by the AI gateway's engine (the same
 * routing, fallback, policies, limits and metering as `/v1`) with the
 * conversation's history as context (core/ai/conversation-context.ts), and
 * both turns are stored. The answer has the shape of `/v1/chat/completions`:
 * JSON, or server-sent events with `stream: true`.
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { answerChat, type ChatOutcome } from '../../bridge/openai/chat-completions.ts';
import type { AiRequestRecord, ChatEngine } from '../../bridge/openai/chat-engine.ts';
import { aiUsageEvent, tokenUsageOf } from '../../bridge/openai/chat-engine.ts';
import { GatewayError, gatewayErrorOf } from '../../bridge/openai/errors.ts';
import { conversationContext } from '../../core/ai/conversation-context.ts';
import { Conversation, ConversationMessage, Repository } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { AppError, type ErrorCode } from '../../core/errors.ts';
import type { AiPrincipal } from '../../core/keys/ai-key-resolver.ts';
import { meterHttpExchange } from '../../core/metering/http-exchange-meter.ts';
import type { UsageRecorder } from '../../core/metering/usage-recorder.ts';
import { type AnyRoute, protectedRoute } from '../routing/route.ts';
import { displayName, idParam, iso, uuid } from '../schemas.ts';

const DEFAULT_CONTEXT_TOKENS = 8_000;
const MAX_PROMPT_CHARACTERS = 200_000;

export interface ConversationDependencies {
  chat: ChatEngine;
  usage?: UsageRecorder;
}

const createBody = z
  .object({
    repositoryId: uuid,
    model: z.string().trim().min(1).max(200),
    title: displayName.optional(),
    systemPrompt: z.string().max(50_000).optional(),
    contextTokens: z.number().int().min(256).max(2_000_000).default(DEFAULT_CONTEXT_TOKENS),
  })
  .strict();

const listQuery = z.object({
  repositoryId: uuid.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const messagesQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const promptBody = z
  .object({ content: z.string().min(1).max(MAX_PROMPT_CHARACTERS), stream: z.boolean().default(false) })
  .strict();

const presentConversation = (conversation: Conversation) => ({
  id: conversation.id,
  repositoryId: conversation.repository.id,
  title: conversation.title,
  model: conversation.model,
  systemPrompt: conversation.systemPrompt ?? null,
  contextTokens: conversation.contextTokens,
  createdBy: conversation.createdBy ?? null,
  createdAt: iso(conversation.createdAt),
  updatedAt: iso(conversation.updatedAt),
});

const presentMessage = (message: ConversationMessage) => ({
  sequence: message.sequence,
  role: message.role,
  content: message.content,
  tokensIn: message.tokensIn ?? null,
  tokensOut: message.tokensOut ?? null,
  createdAt: iso(message.createdAt),
});

/** The conversation's repository as the engine's principal: no key, the repository's limits and policies. */
function principalOf(conversation: Conversation): AiPrincipal {
  const repository = conversation.repository;
  return {
    keyId: null,
    repositoryId: repository.id,
    workspaceId: repository.workspace.id,
    organizationId: repository.workspace.organization.id,
    limits: null,
    repositoryLimits: repository.aiLimits ?? null,
  };
}

const problemCodeByStatus: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
  502: 'UPSTREAM_FAILED',
  503: 'UNAVAILABLE',
};

/** A gateway failure before any answer was sent, as an API problem; unexpected errors stay as they are. */
function problemOf(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const failure = gatewayErrorOf(error);
  if (failure.status === 500 && !(error instanceof GatewayError)) return error;
  return new AppError(problemCodeByStatus[failure.status] ?? 'INTERNAL', failure.message, {
    gatewayCode: failure.code,
  });
}

async function history(em: EntityManager, conversation: Conversation) {
  return em.find(ConversationMessage, { conversation }, { orderBy: { sequence: 'asc' } });
}

async function storeTurns(
  em: EntityManager,
  conversation: Conversation,
  prompt: string,
  outcome: ChatOutcome,
): Promise<void> {
  const last = await em.findOne(ConversationMessage, { conversation }, { orderBy: { sequence: 'desc' } });
  const next = (last?.sequence ?? 0) + 1;
  em.create(ConversationMessage, { conversation, sequence: next, role: 'user', content: prompt });
  em.create(ConversationMessage, {
    conversation,
    sequence: next + 1,
    role: 'assistant',
    content: outcome.text ?? '',
    tokensIn: outcome.usage?.prompt_tokens ?? null,
    tokensOut: outcome.usage?.completion_tokens ?? null,
  });
  conversation.updatedAt = new Date();
  await em.flush();
}

/** Answers the prompt on `res` and stores both turns once the answer is complete. */
async function answerPrompt(
  deps: ConversationDependencies & { em: EntityManager },
  conversationId: string,
  body: z.infer<typeof promptBody>,
  req: import('node:http').IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const em = deps.em.fork();
  const conversation = await em.findOneOrFail(Conversation, conversationId, {
    populate: ['repository.workspace'],
  });
  const principal = principalOf(conversation);
  const record: AiRequestRecord = {
    operation: 'ConversationPrompt',
    model: conversation.model,
    conversationId,
  };
  if (deps.usage) {
    const usage = deps.usage;
    meterHttpExchange(res, (measured) => usage.record(aiUsageEvent(principal, record, measured)));
  }
  const messages = conversationContext(
    conversation.systemPrompt,
    (await history(em, conversation)).map(({ role, content }) => ({ role, content })),
    body.content,
    conversation.contextTokens,
  );
  const call = await deps.chat.open(principal, req, res);
  record.guard = call.guard;
  // Stored before the answer's last bytes, so the app's next prompt finds both turns.
  const outcome: ChatOutcome = {
    attempts: [],
    beforeAnswerEnds: (complete) => storeTurns(em, conversation, body.content, complete),
  };
  record.chat = outcome;
  await deps.chat
    .withinLimits(
      principal,
      () => answerChat(call, { model: conversation.model, messages, stream: body.stream }, outcome),
      () => tokenUsageOf(record),
    )
    .catch((error: unknown) => {
      throw res.headersSent ? error : problemOf(error);
    });
}

export function conversationRoutes(deps: ConversationDependencies & { em: EntityManager }): AnyRoute[] {
  return [
    protectedRoute({
      method: 'post',
      path: '/conversation',
      tag: 'conversations',
      summary: "Start a conversation with one of a repository's models",
      access: 'MEMBER',
      audit: 'conversation.create',
      body: createBody,
      response: { status: 201, description: 'The conversation' },
      async handler({ em, tenant, caller, body, auditTarget }) {
        const repository = await tenant.findInWorkspace(Repository, 'Repository', body.repositoryId);
        const served = await deps.chat.models.candidates(repository.id, body.model);
        if (served.length === 0) {
          throw new AppError(
            'BAD_REQUEST',
            `No AI config of the repository serves the model "${body.model}"; see GET /v1/models with one of its AI keys`,
          );
        }
        const conversation = em.create(Conversation, {
          repository,
          title: body.title ?? 'New conversation',
          model: body.model,
          systemPrompt: body.systemPrompt ?? null,
          contextTokens: body.contextTokens,
          createdBy: caller.userId,
        });
        await em.flush();
        auditTarget({ type: 'conversation', id: conversation.id, workspaceId: repository.workspace.id });
        return { body: presentConversation(conversation) };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/conversation',
      tag: 'conversations',
      summary: 'List conversations, newest activity first (optionally of one repository)',
      access: 'VIEWER',
      query: listQuery,
      response: { status: 200, description: 'The conversations' },
      async handler({ tenant, query }) {
        const where = query.repositoryId ? { repository: { id: query.repositoryId } } : {};
        const conversations = await tenant.listInRepositories(Conversation, where, {
          orderBy: { updatedAt: 'desc' },
          limit: query.limit,
        });
        return { body: { items: conversations.map(presentConversation) } };
      },
    }),
    protectedRoute({
      method: 'get',
      path: '/conversation/:conversationId/messages',
      tag: 'conversations',
      summary: 'The turns of a conversation, oldest first, after a sequence number',
      access: 'VIEWER',
      params: idParam('conversationId'),
      query: messagesQuery,
      response: { status: 200, description: 'The messages' },
      async handler({ em, tenant, params, query }) {
        const conversation = await tenant.findInAnyRepository(
          Conversation,
          'Conversation',
          params.conversationId,
        );
        const messages = await em.find(
          ConversationMessage,
          { conversation, sequence: { $gt: query.after } },
          { orderBy: { sequence: 'asc' }, limit: query.limit },
        );
        return { body: { items: messages.map(presentMessage) } };
      },
    }),
    protectedRoute({
      method: 'post',
      path: '/conversation/:conversationId/prompt',
      tag: 'conversations',
      summary:
        'Send a prompt; answered like /v1/chat/completions (JSON, or server-sent events with stream: true)',
      access: 'MEMBER',
      params: idParam('conversationId'),
      body: promptBody,
      response: { status: 200, description: 'The answer (chat.completion, or chat.completion.chunk events)' },
      async handler({ tenant, params, body, req, res, afterCommit }) {
        await tenant.findInAnyRepository(Conversation, 'Conversation', params.conversationId);
        // Outside the request's transaction: a model may take minutes to answer.
        afterCommit(() => answerPrompt(deps, params.conversationId, body, req, res));
        return { answered: true };
      },
    }),
  ];
}
