/**
 * JOB-6's I/O: measuring a workspace's buckets (a listing per bucket, the
 * metered usage in PostgreSQL, the price table), running the planner, and
 * asking the optional AI agent for its review.
 */
import { heartbeat } from '@temporalio/activity';
import { aiProviderConnection } from '../core/ai/config-secrets.ts';
import { bucketConnection } from '../core/buckets/credentials.ts';
import { AiLlmConfig, Bucket } from '../core/db/entities/index.ts';
import type { EntityManager } from '../core/db/orm.ts';
import type { OutboundPolicy } from '../core/net/outbound-guard.ts';
import { createPriceBook, type PriceBook } from '../core/pricing/prices.ts';
import {
  type AgentReview,
  agentReviewRequest,
  applyAgentAnswer,
  checkAgentAnswer,
} from '../core/rebalancing/agent-review.ts';
import {
  type BucketFigures,
  type BucketUsage,
  defaultPlannerThresholds,
  type PrefixSize,
  type RebalanceMove,
  type RebalancePlan,
} from '../core/rebalancing/plan.ts';
import { planRebalance } from '../core/rebalancing/planner.ts';
import { loadBucketReputations } from '../core/sla/reputation.ts';
import { histogramFromDatabase, latencyPercentile } from '../core/stats/latency-histogram.ts';
import { adapterFor } from '../providers/ai/index.ts';
import { createObjectStore } from '../providers/storage/index.ts';
import { type ObjectStore, reservedKeyPrefix } from '../providers/storage/object-store.ts';
import type { RebalanceSettings } from '../workflows/definitions.ts';
import { asActivityFailure, type BucketActivityDependencies } from './buckets.ts';

export interface RebalancingActivityDependencies extends BucketActivityDependencies {
  /** Which addresses an AI config's endpoint may resolve to. */
  outboundPolicy: OutboundPolicy;
  /** Admin-edited prices on top of the defaults (issue 7); the defaults alone without it. */
  priceBook?: PriceBook;
}

/** Prefixes per bucket the planner sees (the largest); the rest wait for a later plan. */
const MAX_PREFIXES_PER_BUCKET = 50;
const LIST_PAGE_SIZE = 1000;
/** Bucket validation's probe objects are Skybridge's own: never measured or moved. */
const PROBE_PREFIX = '.skybridge-probe/';
const AGENT_TIMEOUT_MS = 60_000;

export function rebalancingActivities(deps: RebalancingActivityDependencies) {
  const prices = deps.priceBook ?? createPriceBook();
  return {
    /** Measures every validated bucket of the workspace and plans. */
    async proposeRebalancePlan(settings: RebalanceSettings): Promise<RebalancePlan> {
      const em = deps.em.fork();
      const buckets = await em.find(
        Bucket,
        { workspace: settings.workspaceId, status: 'VALID' },
        { populate: ['credentials'], orderBy: { name: 'asc' } },
      );
      const reputations = await loadBucketReputations(
        em,
        buckets.map((bucket) => bucket.id),
      );
      const figures: BucketFigures[] = [];
      for (const bucket of buckets) {
        const { storedBytes, prefixes } = await measure(await openStore(deps, bucket));
        figures.push({
          bucketId: bucket.id,
          name: bucket.name,
          provider: bucket.provider,
          region: bucket.region ?? null,
          storedBytes,
          prefixes,
          caps: {
            storageBytes: bucket.storageCapBytes ?? null,
            egressBytesPerDay: bucket.egressCapBytesPerDay ?? null,
            requestsPerMinute: bucket.requestsPerMinuteCap ?? null,
          },
          usage: await meteredUsage(em, bucket.id, settings.usageWindowHours),
          price: prices.priceFor(bucket.provider, bucket.region),
          reputation: reputations.get(bucket.id)?.score ?? null,
        });
      }
      return planRebalance(figures, { ...defaultPlannerThresholds, ...settings.thresholds });
    },

    /**
     * The agent's reorder and vetoes, or the reason its answer was ignored:
     * this never fails the job, whatever the model or its provider does.
     */
    async reviewRebalancePlan(
      settings: RebalanceSettings,
      moves: RebalanceMove[],
    ): Promise<{ review: AgentReview; moves: RebalanceMove[] }> {
      const agent = settings.agent;
      if (!agent) throw new Error('reviewRebalancePlan needs settings.agent');
      const ignored = (ignoredReason: string) => ({
        review: { ...agent, applied: false, ignoredReason, vetoes: [], order: moves.map((move) => move.id) },
        moves,
      });
      let text: string | null | undefined;
      try {
        text = await askAgent(deps, settings.workspaceId, agent, moves);
      } catch (error) {
        return ignored(
          `the agent could not be asked: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      const checked = checkAgentAnswer(text, moves);
      if ('ignoredReason' in checked) return ignored(checked.ignoredReason);
      const reviewed = applyAgentAnswer(moves, checked.answer);
      return {
        review: {
          ...agent,
          applied: true,
          vetoes: checked.answer.vetoes,
          order: reviewed.map((move) => move.id),
          comment: checked.answer.comment,
        },
        moves: reviewed,
      };
    },
  };
}

async function openStore(deps: BucketActivityDependencies, bucket: Bucket): Promise<ObjectStore> {
  try {
    return await createObjectStore(bucketConnection(deps.keyring, bucket), deps.storageClientOptions);
  } catch (error) {
    throw asActivityFailure(error);
  }
}

/** The bucket's size and its top-level prefixes, largest first, from one full listing. */
async function measure(store: ObjectStore): Promise<{ storedBytes: number; prefixes: PrefixSize[] }> {
  const byPrefix = new Map<string, PrefixSize>();
  let storedBytes = 0;
  let continuationToken: string | undefined;
  try {
    do {
      const page = await store.list({ continuationToken, maxKeys: LIST_PAGE_SIZE });
      for (const object of page.objects) {
        if (object.key.startsWith(PROBE_PREFIX) || object.key.startsWith(reservedKeyPrefix)) continue;
        storedBytes += object.size;
        const slash = object.key.indexOf('/');
        if (slash < 0) continue;
        const prefix = object.key.slice(0, slash + 1);
        const size = byPrefix.get(prefix) ?? { prefix, bytes: 0, objects: 0 };
        size.bytes += object.size;
        size.objects++;
        byPrefix.set(prefix, size);
      }
      continuationToken = page.nextContinuationToken;
      heartbeat();
    } while (continuationToken);
  } catch (error) {
    throw asActivityFailure(error);
  }
  const prefixes = [...byPrefix.values()]
    .sort((a, b) => b.bytes - a.bytes || a.prefix.localeCompare(b.prefix))
    .slice(0, MAX_PREFIXES_PER_BUCKET);
  return { storedBytes, prefixes };
}

/**
 * The bucket's S3 requests over the window, and its egress since 00:00 UTC
 * (as its cap counts it), from the per-minute usage aggregates (raw events
 * are pruned after a few days; minutes are kept for a month).
 */
async function meteredUsage(em: EntityManager, bucketId: string, windowHours: number): Promise<BucketUsage> {
  const windowStart = new Date(Date.now() - windowHours * 3_600_000);
  const dayStart = new Date(new Date().setUTCHours(0, 0, 0, 0));
  const connection = em.getConnection();
  const [totals] = await connection.execute<
    { requests: string; errors: string; maxMs: number | null; histogram: (string | number | null)[] | null }[]
  >(
    `select coalesce(sum(requests), 0) as requests, coalesce(sum(server_errors), 0) as errors,
            max(latency_max_ms) as "maxMs", histogram_sum(latency_histogram) as histogram
     from storage_usage_minutes where bucket_id = ? and window_start >= ?`,
    [bucketId, windowStart],
  );
  const [egress] = await connection.execute<{ bytes: string }[]>(
    `select coalesce(sum(bytes_out), 0) as bytes
     from storage_usage_minutes where bucket_id = ? and window_start >= ?`,
    [bucketId, dayStart],
  );
  const [peak] = await connection.execute<{ peak: string | null }[]>(
    `select max(per_minute) as peak from (
       select sum(requests) as per_minute from storage_usage_minutes
       where bucket_id = ? and window_start >= ?
       group by window_start) as minutes`,
    [bucketId, windowStart],
  );
  const p95 = latencyPercentile(
    histogramFromDatabase(totals?.histogram ?? null),
    0.95,
    totals?.maxMs ?? undefined,
  );
  return {
    requests: Number(totals?.requests ?? 0),
    errors: Number(totals?.errors ?? 0),
    p95LatencyMs: p95 == null ? null : Math.round(p95),
    egressBytesToday: Number(egress?.bytes ?? 0),
    peakRequestsPerMinute: Number(peak?.peak ?? 0),
  };
}

/** The model's answer text; the config must belong to the workspace being planned. */
async function askAgent(
  deps: RebalancingActivityDependencies,
  workspaceId: string,
  agent: NonNullable<RebalanceSettings['agent']>,
  moves: RebalanceMove[],
): Promise<string | null | undefined> {
  const config = await deps.em
    .fork()
    .findOne(
      AiLlmConfig,
      { id: agent.aiConfigId, workspace: workspaceId },
      { populate: ['apiKey', 'apiSecret'] },
    );
  if (!config) throw new Error(`AI config ${agent.aiConfigId} is not in the workspace`);
  const connection = aiProviderConnection(deps.keyring, config);
  const completion = await adapterFor(connection.type).chat(
    connection,
    agentReviewRequest(agent.model, moves),
    {
      outboundPolicy: deps.outboundPolicy,
      timeoutMs: AGENT_TIMEOUT_MS,
    },
  );
  const content = completion.choices[0]?.message.content;
  return content;
}
