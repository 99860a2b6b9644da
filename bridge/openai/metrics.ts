/**
 * The AI gateway's Prometheus series (OBS-2). Labels: the repository id
 * (`none` before a key is known), operation, status, and for tokens the
 * provider and the model that answered (a model of a configured AI config,
 * counted only for answered requests, so never a name a client made up).
 */
import { Counter, type Registry } from 'prom-client';
import type { UsageEventInput } from '../../core/metering/usage-recorder.ts';
import { childPerLabels, createGatewayRequestMetrics } from '../../core/observability/metrics.ts';

export interface AiMetrics {
  observe(repositoryId: string | undefined, operation: string, status: number, seconds: number): void;
  /** The tokens of an answered request, from its usage event. */
  countTokens(event: UsageEventInput): void;
}

export function createAiMetrics(registry: Registry): AiMetrics {
  const observe = createGatewayRequestMetrics(registry, {
    prefix: 'skybridge_ai',
    what: 'AI gateway',
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
  });
  const tokens = new Counter({
    name: 'skybridge_ai_tokens_total',
    help: 'Tokens in (prompt) and out (completion) by repository, provider and model',
    labelNames: ['repository', 'provider', 'model', 'direction'],
    registers: [registry],
  });
  const tokensOf = childPerLabels((repository, provider, model, direction) =>
    tokens.labels({ repository, provider, model, direction }),
  );
  return {
    observe,
    countTokens(event) {
      const answered = event.status >= 200 && event.status < 300 && event.provider && event.model;
      if (!answered || !event.repositoryId) return;
      const labels = [event.repositoryId, event.provider ?? '', event.model ?? ''];
      if (event.tokensIn) tokensOf(...labels, 'in').inc(event.tokensIn);
      if (event.tokensOut) tokensOf(...labels, 'out').inc(event.tokensOut);
    },
  };
}
