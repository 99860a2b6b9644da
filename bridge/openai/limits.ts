/**
 * The AI gateway's limits (AI-6): requests and tokens per minute, and token
 * budgets per day, month or ever, on a repo AI key and on its repository.
 *
 * The counts live in PostgreSQL (`ai_limit_counters`) so every bridge process
 * sees the same ones. A request is admitted by one transaction that bumps
 * each applicable window with an upsert guarded by its limit; if any guard
 * refuses, nothing is counted and the app gets 429 with `Retry-After`.
 * Tokens are added when the answer is done. So a budget is checked against
 * the tokens of finished requests: once it is reached, only the requests
 * already admitted (in flight) can still add to it. Keys and repositories
 * without limits cost no database round trip.
 */

import { budgetWindow } from '../../core/credits/periods.ts';
import type { AiLimits, BudgetPeriod } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import { GatewayError } from './errors.ts';

export interface LimitedSubject {
  id: string;
  kind: 'key' | 'repository';
  limits: AiLimits | null;
}

interface WindowGuard {
  subject: LimitedSubject;
  window: 'minute' | BudgetPeriod;
  start: Date;
  end?: Date;
  maxRequests?: number;
  maxTokens?: number;
}

/** The windows a request was admitted into; tokens are charged to them when the answer is done. */
export interface Admission {
  windows: WindowGuard[];
}

const MINUTE_MS = 60_000;

function guardsOf(subject: LimitedSubject, now: Date): WindowGuard[] {
  const limits = subject.limits;
  if (!limits) return [];
  const guards: WindowGuard[] = [];
  if (limits.requestsPerMinute !== undefined || limits.tokensPerMinute !== undefined) {
    const start = new Date(Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS);
    guards.push({
      subject,
      window: 'minute',
      start,
      end: new Date(start.getTime() + MINUTE_MS),
      maxRequests: limits.requestsPerMinute,
      maxTokens: limits.tokensPerMinute,
    });
  }
  if (limits.tokenBudget !== undefined) {
    const period = limits.budgetPeriod ?? 'MONTH';
    guards.push({ subject, window: period, ...budgetWindow(period, now), maxTokens: limits.tokenBudget });
  }
  return guards;
}

function refusal(guard: WindowGuard, now: Date): GatewayError {
  const who = guard.subject.kind === 'key' ? 'this API key' : "this key's repository";
  const retryAfterSeconds = guard.end
    ? Math.max(1, Math.ceil((guard.end.getTime() - now.getTime()) / 1000))
    : undefined;
  if (guard.window === 'minute') {
    return new GatewayError(
      429,
      {
        message: `Rate limit reached for ${who}: too many requests or tokens this minute`,
        type: 'rate_limit_error',
        code: 'rate_limit_exceeded',
      },
      { retryAfterSeconds },
    );
  }
  return new GatewayError(
    429,
    {
      message: `The token budget of ${who} is used up for this ${guard.window === 'TOTAL' ? 'key' : guard.window.toLowerCase()}`,
      type: 'insufficient_quota',
      code: 'budget_exceeded',
    },
    { retryAfterSeconds, doNotRetry: true },
  );
}

export class AiLimiter {
  readonly #em: EntityManager;
  readonly #now: () => Date;

  constructor(options: { em: EntityManager; now?: () => Date }) {
    this.#em = options.em;
    this.#now = options.now ?? (() => new Date());
  }

  /** Counts the request in every window that limits it, or throws the 429 of the first one it would pass. */
  async admit(subjects: LimitedSubject[]): Promise<Admission> {
    const now = this.#now();
    const windows = subjects.flatMap((subject) => guardsOf(subject, now));
    if (windows.length === 0) return { windows };
    await this.#em.fork().transactional(async (em) => {
      for (const guard of windows) {
        // em.execute runs in the transaction; a pool connection of its own would deadlock a full pool.
        const admitted = await em.execute(
          `insert into ai_limit_counters (subject_id, "window", window_start, requests, tokens)
           values (?, ?, ?, 1, 0)
           on conflict (subject_id, "window", window_start) do update
             set requests = ai_limit_counters.requests + 1
             where ai_limit_counters.requests < ? and ai_limit_counters.tokens < ?
           returning requests`,
          [
            guard.subject.id,
            guard.window,
            guard.start,
            guard.maxRequests ?? 2 ** 31 - 1,
            guard.maxTokens ?? Number.MAX_SAFE_INTEGER,
          ],
        );
        if (admitted.length === 0) throw refusal(guard, now);
      }
    });
    return { windows };
  }

  /** Adds the answer's tokens to the windows the request was admitted into. */
  async charge(admission: Admission, tokens: number): Promise<void> {
    if (admission.windows.length === 0 || tokens <= 0) return;
    const connection = this.#em.fork().getConnection();
    for (const guard of admission.windows) {
      await connection.execute(
        `update ai_limit_counters set tokens = tokens + ? where subject_id = ? and "window" = ? and window_start = ?`,
        [tokens, guard.subject.id, guard.window, guard.start],
      );
    }
  }

  /** Drops minute windows older than an hour and day windows older than a month. */
  async prune(): Promise<void> {
    const now = this.#now().getTime();
    await this.#em
      .fork()
      .getConnection()
      .execute(
        `delete from ai_limit_counters where ("window" = 'minute' and window_start < ?) or ("window" = 'DAY' and window_start < ?)`,
        [new Date(now - 3_600_000), new Date(now - 32 * 86_400_000)],
      );
  }
}
