/**
 * The bridge's own, passive view of each backend bucket's health: what the
 * calls this process made to it looked like. No probes: a member that takes
 * no calls keeps the figures of its last ones.
 *
 * - Latency and error rate are exponentially weighted moving averages of the
 *   recent calls (each new call counts for `alpha` of the figure).
 * - A circuit breaker per bucket: `failureThreshold` failed or slow calls in a
 *   row open it; while open, writes avoid the bucket. Once `coolDownMs` has
 *   passed, one write may go through as a trial (half-open); if it (or any
 *   other call to the bucket) succeeds the circuit closes and the figures start afresh from it, so a recovered
 *   backend competes again on its present merits; if it fails the circuit
 *   opens for another cool-down.
 *
 * Thresholds come with each call (they are a virtual bucket's policy); the
 * state is per bucket, shared by every virtual bucket the bucket is in.
 */

export interface CircuitSettings {
  failureThreshold: number;
  coolDownMs: number;
  /** A call slower than this counts as a failure. */
  slowCallMs: number;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface HealthFigures {
  /** Undefined until a call measured it. */
  latencyMs?: number;
  /** In [0, 1]. */
  errorRate: number;
  state: CircuitState;
}

/** How one call went. */
export interface CallOutcome {
  failed: boolean;
  durationMs: number;
  /** False for calls whose duration says little about the backend (large transfers). */
  measuresLatency: boolean;
}

interface BucketHealth {
  latencyMs?: number;
  errorRate: number;
  consecutiveFailures: number;
  openedAt?: number;
  /** When the trial call of a half-open circuit started; one at a time. */
  trialStartedAt?: number;
}

export class BackendHealth {
  readonly #alpha: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, BucketHealth>();

  constructor(options: { alpha?: number; now?: () => number } = {}) {
    this.#alpha = options.alpha ?? 0.3;
    this.#now = options.now ?? Date.now;
  }

  figures(bucketId: string, settings: CircuitSettings): HealthFigures {
    const health = this.#buckets.get(bucketId);
    if (!health) return { errorRate: 0, state: 'closed' };
    return { latencyMs: health.latencyMs, errorRate: health.errorRate, state: this.#state(health, settings) };
  }

  /**
   * Whether a write may go to the bucket now. For a half-open circuit this
   * claims its one trial: false when another call holds it.
   */
  claimWrite(bucketId: string, settings: CircuitSettings): boolean {
    const health = this.#buckets.get(bucketId);
    if (!health) return true;
    const state = this.#state(health, settings);
    if (state === 'closed') return true;
    if (state === 'open') return false;
    health.trialStartedAt = this.#now();
    return true;
  }

  record(bucketId: string, outcome: CallOutcome, settings: CircuitSettings): void {
    const health = this.#healthOf(bucketId);
    const failed = outcome.failed || (outcome.measuresLatency && outcome.durationMs > settings.slowCallMs);
    // Any good answer from a bucket whose circuit was open (the trial write, or a read) proves it back.
    const recovered = health.openedAt !== undefined && !failed;
    health.trialStartedAt = undefined;
    if (recovered) this.#buckets.set(bucketId, this.#fresh(outcome));
    else this.#update(health, outcome, failed, settings);
  }

  #update(health: BucketHealth, outcome: CallOutcome, failed: boolean, settings: CircuitSettings): void {
    const alpha = this.#alpha;
    health.errorRate = health.errorRate * (1 - alpha) + (failed ? alpha : 0);
    if (outcome.measuresLatency)
      health.latencyMs =
        health.latencyMs === undefined
          ? outcome.durationMs
          : health.latencyMs * (1 - alpha) + outcome.durationMs * alpha;
    health.consecutiveFailures = failed ? health.consecutiveFailures + 1 : 0;
    if (failed && health.consecutiveFailures >= settings.failureThreshold) health.openedAt = this.#now();
  }

  /** The figures of a circuit that just closed on a successful trial. */
  #fresh(outcome: CallOutcome): BucketHealth {
    return {
      latencyMs: outcome.measuresLatency ? outcome.durationMs : undefined,
      errorRate: 0,
      consecutiveFailures: 0,
    };
  }

  #state(health: BucketHealth, settings: CircuitSettings): CircuitState {
    if (health.openedAt === undefined) return 'closed';
    const now = this.#now();
    if (now - health.openedAt < settings.coolDownMs) return 'open';
    // A trial that never reported back (its request vanished) frees the way after another cool-down.
    const trialRunning =
      health.trialStartedAt !== undefined && now - health.trialStartedAt < settings.coolDownMs;
    return trialRunning ? 'open' : 'half-open';
  }

  #healthOf(bucketId: string): BucketHealth {
    let health = this.#buckets.get(bucketId);
    if (!health) {
      health = { errorRate: 0, consecutiveFailures: 0 };
      this.#buckets.set(bucketId, health);
    }
    return health;
  }
}
