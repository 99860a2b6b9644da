/**
 * Retry and fallback across the configs that serve a model (AI-3). Each
 * candidate is tried; a retryable failure (429, 5xx, timeout, a stream that
 * failed before any content) is retried on the same config with exponential
 * backoff and full jitter (honouring a short `retry-after`), then the next
 * candidate is tried. A failure that belongs to the config (its credentials,
 * permissions, a model it lacks) moves on at once; a failure of the request
 * itself (400) is answered at once, since every provider would refuse it. A
 * config that keeps failing is skipped for a cool-down, unless every
 * candidate is cooling down. Every attempt is reported.
 */
import { AiProviderError } from '../../providers/ai/index.ts';
import type { Candidate } from './repository-models.ts';

export interface Attempt {
  configId: string;
  configName: string;
  provider: string;
  model: string;
  /** `ok`, or the AiProviderError code (`Throttled`, `Transient`, …). */
  outcome: string;
  latencyMs: number;
}

export interface FallbackPolicy {
  /** Tries per candidate, the first included. */
  triesPerConfig: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Consecutive failed requests after which a config is skipped. */
  failuresBeforeCooldown: number;
  cooldownMs: number;
}

export const defaultFallbackPolicy: FallbackPolicy = {
  triesPerConfig: 2,
  baseDelayMs: 200,
  maxDelayMs: 2_000,
  failuresBeforeCooldown: 3,
  cooldownMs: 30_000,
};

/** Thrown when every candidate failed: the last failure, with every attempt. */
export class AllCandidatesFailed extends Error {
  readonly last: AiProviderError;
  readonly attempts: Attempt[];
  constructor(last: AiProviderError, attempts: Attempt[]) {
    super(last.message, { cause: last });
    this.name = 'AllCandidatesFailed';
    this.last = last;
    this.attempts = attempts;
  }
}

const configFaults = new Set(['InvalidCredentials', 'PermissionDenied', 'NotFound']);

export class ConfigHealth {
  readonly #failures = new Map<string, { consecutive: number; coolingUntil: number }>();
  readonly #policy: FallbackPolicy;

  constructor(policy: FallbackPolicy) {
    this.#policy = policy;
  }

  isCooling(configId: string, now = Date.now()): boolean {
    return (this.#failures.get(configId)?.coolingUntil ?? 0) > now;
  }

  succeeded(configId: string): void {
    this.#failures.delete(configId);
  }

  failed(configId: string): void {
    const state = this.#failures.get(configId) ?? { consecutive: 0, coolingUntil: 0 };
    state.consecutive += 1;
    if (state.consecutive >= this.#policy.failuresBeforeCooldown) {
      state.coolingUntil = Date.now() + this.#policy.cooldownMs;
      state.consecutive = 0;
    }
    this.#failures.set(configId, state);
  }

  /** Candidates not cooling down first; all of them when every one is. */
  order(candidates: Candidate[]): Candidate[] {
    const ready = candidates.filter((candidate) => !this.isCooling(candidate.config.id));
    return ready.length > 0 ? ready : candidates;
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

function backoffMs(policy: FallbackPolicy, retry: number, error: AiProviderError): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  const jittered = Math.random() * ceiling;
  const asked = (error.retryAfterSeconds ?? 0) * 1000;
  return asked > 0 && asked <= policy.maxDelayMs ? Math.max(asked, jittered) : jittered;
}

const asProviderError = (error: unknown) =>
  error instanceof AiProviderError
    ? error
    : new AiProviderError('Transient', error instanceof Error ? error.message : String(error), {
        cause: error,
      });

/**
 * Runs `call` on the candidates until one succeeds; returns its result and
 * every attempt made. Throws AllCandidatesFailed, or the caller's abort.
 */
export async function withFallback<T>(
  candidates: Candidate[],
  call: (candidate: Candidate) => Promise<T>,
  options: { health: ConfigHealth; policy?: FallbackPolicy; signal?: AbortSignal },
): Promise<{ result: T; attempts: Attempt[]; candidate: Candidate }> {
  const policy = options.policy ?? defaultFallbackPolicy;
  const attempts: Attempt[] = [];
  let last: AiProviderError | undefined;
  for (const candidate of options.health.order(candidates)) {
    for (let attempt = 0; attempt < policy.triesPerConfig; attempt++) {
      if (attempt > 0 && last) await sleep(backoffMs(policy, attempt - 1, last), options.signal);
      const started = Date.now();
      const record = (outcome: string) =>
        attempts.push({
          configId: candidate.config.id,
          configName: candidate.config.name,
          provider: candidate.config.type,
          model: candidate.providerModel,
          outcome,
          latencyMs: Date.now() - started,
        });
      try {
        const result = await call(candidate);
        record('ok');
        options.health.succeeded(candidate.config.id);
        return { result, attempts, candidate };
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason ?? error;
        last = asProviderError(error);
        record(last.code);
        if (!last.retryable && !configFaults.has(last.code)) throw new AllCandidatesFailed(last, attempts);
        if (!last.retryable) break;
      }
    }
    options.health.failed(candidate.config.id);
  }
  throw new AllCandidatesFailed(
    last ?? new AiProviderError('NotFound', 'No AI config of this repository serves the model'),
    attempts,
  );
}
