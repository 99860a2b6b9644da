/**
 * The gateway's answering machinery for one principal (a repo AI key, or a
 * user in a conversation): the policies that apply, the limits, retry and
 * fallback state, provider options, and the usage event. Shared by the /v1
 * server (server.ts) and the API's conversations, so both answer the same
 * way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AiPrincipal } from '../../core/keys/ai-key-resolver.ts';
import type { MeasuredExchange } from '../../core/metering/http-exchange-meter.ts';
import type { UsageEventInput } from '../../core/metering/usage-recorder.ts';
import type { OutboundPolicy } from '../../core/net/outbound-guard.ts';
import type { ChatOutcome } from './chat-completions.ts';
import { type ChatGuard, noPolicies } from './chat-guard.ts';
import type { EmbeddingsOutcome } from './embeddings.ts';
import { ConfigHealth, defaultFallbackPolicy, type FallbackPolicy } from './fallback.ts';
import type { GatewayCall } from './gateway-call.ts';
import type { AiLimiter, LimitedSubject } from './limits.ts';
import type { RepositoryModels } from './repository-models.ts';
import type { AiSpending, TokenUsage } from './spending.ts';

export interface ChatEngineDependencies {
  models: RepositoryModels;
  outboundPolicy: OutboundPolicy;
  /** Enforces the keys' and repositories' limits; nothing is limited without it. */
  limiter?: AiLimiter;
  /** Enforces and charges the spending budgets (OBS-3); none are enforced without it. */
  spending?: AiSpending;
  /** The AI policies (AI-4); none apply without it. */
  policies?: { guardFor(principal: AiPrincipal): Promise<ChatGuard> };
  fallback?: FallbackPolicy;
  /** Wait for a provider's first byte, per attempt. */
  providerTimeoutMs?: number;
}

/** What one request did, for its usage event. */
export interface AiRequestRecord {
  operation: string;
  model?: string;
  conversationId?: string;
  chat?: ChatOutcome;
  embeddings?: EmbeddingsOutcome;
  guard?: ChatGuard;
}

export class ChatEngine {
  readonly models: RepositoryModels;
  readonly #deps: ChatEngineDependencies;
  readonly #health: ConfigHealth;

  constructor(deps: ChatEngineDependencies) {
    this.#deps = deps;
    this.models = deps.models;
    this.#health = new ConfigHealth(deps.fallback ?? defaultFallbackPolicy);
  }

  /** Everything a handler needs to answer `req` on `res` for the principal; aborted if the app goes away. */
  async open(principal: AiPrincipal, req: IncomingMessage, res: ServerResponse): Promise<GatewayCall> {
    const guard = (await this.#deps.policies?.guardFor(principal)) ?? noPolicies;
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort(new Error('the client went away'));
    });
    return {
      req,
      res,
      principal,
      models: this.models,
      signal: abort.signal,
      providerOptions: {
        outboundPolicy: this.#deps.outboundPolicy,
        timeoutMs: this.#deps.providerTimeoutMs,
        signal: abort.signal,
      },
      fallbackOptions: { health: this.#health, policy: this.#deps.fallback, signal: abort.signal },
      guard,
    };
  }

  /**
   * Runs `answer` within the principal's budgets and limits (429 when over them), then charges the
   * tokens it used.
   */
  async withinLimits(principal: AiPrincipal, answer: () => Promise<void>, usageOf: () => TokenUsage) {
    const { limiter, spending } = this.#deps;
    const budgets = (await spending?.admit(principal)) ?? [];
    const admission = await limiter?.admit(limitedSubjects(principal));
    try {
      await answer();
    } finally {
      const usage = usageOf();
      spending?.charge(principal, budgets, usage);
      if (admission) await limiter?.charge(admission, usage.tokensIn + usage.tokensOut).catch(() => {});
    }
  }
}

function limitedSubjects(principal: AiPrincipal): LimitedSubject[] {
  const repository: LimitedSubject = {
    id: principal.repositoryId,
    kind: 'repository',
    limits: principal.repositoryLimits,
  };
  if (!principal.keyId) return [repository];
  return [{ id: principal.keyId, kind: 'key', limits: principal.limits }, repository];
}

export function tokenUsageOf(record: AiRequestRecord): TokenUsage {
  const candidate = (record.chat ?? record.embeddings)?.candidate;
  return {
    tokensIn: record.chat?.usage?.prompt_tokens ?? record.embeddings?.promptTokens ?? 0,
    tokensOut: record.chat?.usage?.completion_tokens ?? 0,
    provider: candidate?.config.type,
    model: candidate?.providerModel,
  };
}

/** The usage event (AI-5) of one request. */
export function aiUsageEvent(
  principal: AiPrincipal,
  record: AiRequestRecord,
  measured: MeasuredExchange,
): UsageEventInput {
  const outcome = record.chat ?? record.embeddings;
  const candidate = outcome?.candidate;
  const usage = record.chat?.usage;
  return {
    api: 'OPENAI',
    organizationId: principal.organizationId,
    repositoryId: principal.repositoryId,
    keyId: principal.keyId,
    operation: record.operation,
    ...measured,
    model: record.model ?? record.embeddings?.model ?? null,
    tokensIn: usage?.prompt_tokens ?? record.embeddings?.promptTokens ?? null,
    tokensOut: usage?.completion_tokens ?? null,
    conversationId: record.conversationId ?? null,
    aiConfigId: candidate?.config.id ?? null,
    provider: candidate?.config.type ?? null,
    timeToFirstTokenMs: record.chat?.timeToFirstTokenMs ?? null,
    policyOutcome: record.chat ? (record.guard?.outcome ?? 'pass') : null,
    attempts: outcome?.attempts.length ? outcome.attempts : null,
  };
}
