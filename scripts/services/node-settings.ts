/**
 * How the Node processes that relay object bodies are started: the platform (scripts/start.ts,
 * and docker-compose.yml by hand) and the benchmarks' reference proxy (bench/pass-through-proxy.ts)
 * use these settings.
 */
import { variableIsSet } from '../../core/config.ts';

/**
 * The bridge's V8 settings, measured with bench:s3 and bench:ai (README, Benchmarks):
 * - `--expose-gc` lets the bridge run a scavenge every 4 MiB it relays
 *   (core/metering/relay-collector.ts). Each socket read hands over a new off-heap buffer that
 *   only a collection frees; without that, V8 let them pile up until full mark-compacts, and
 *   large objects cost 3-4 ms of CPU per MB relayed instead of 1.1-1.4.
 * - `--external-memory-accounted-in-global-limit` counts those buffers in V8's heap limit, which
 *   stops the mark-compact storms that remain.
 * - `--max-semi-space-size=8` bounds the young generation at 8 MB (V8 grew it to 64 MB here).
 *   The bridge used to set 2 MB, so that ordinary scavenges freed the buffers; but then the
 *   objects of requests still in flight were promoted on almost every scavenge, and the AI
 *   gateway spent 0.98 ms of CPU per request at 64 clients where V8's defaults need 0.46.
 * - `--heap-growing-percent=50`: after a full collection the old generation may grow by half
 *   of what survived, not up to four times it. Under AI load V8 otherwise let garbage reach
 *   500 MB between full collections (a forced one leaves about 70 MB). At 100 % the bridge's
 *   old generation still reached 100 MB under small-object load where 45 MB survive; at 50 % it
 *   stays near 60 MB, for no CPU per request measurable in alternating bench:s3 runs. (At 15 %,
 *   full collections come so often that large objects cost twice the CPU.)
 */
export const BRIDGE_NODE_ARGS = [
  '--expose-gc',
  '--external-memory-accounted-in-global-limit',
  '--max-semi-space-size=8',
  '--heap-growing-percent=50',
];
/**
 * The worker streams objects in migrations (activities/migrations.ts): the same scavenge every
 * 4 MiB copied, and off-heap memory counted in V8's limit. Its old generation may grow by half
 * of what survives a full collection, as the bridge's: over a 200,000-object copy (bench:migrate's
 * scale run) its RSS then stays level (+0.3 MB/min over the second half, 501 MB peak, 0.36 ms of
 * CPU per object); at 100 % it crept up 2-2.4 MB/min to 561 MB, for 0.33 ms per object.
 * (At 50 %, before copies and heartbeats stopped going through the AWS SDK and once per object,
 * small copies cost 25-50 % more CPU: their garbage was several times today's.) Its young
 * generation keeps V8's default size (workflow replays allocate much).
 */
export const WORKER_NODE_ARGS = [
  '--expose-gc',
  '--external-memory-accounted-in-global-limit',
  '--heap-growing-percent=50',
];

/** Two malloc arenas rather than one per thread (unless set otherwise): freed buffers' memory is reused, not spread out. */
export function bridgeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return variableIsSet('MALLOC_ARENA_MAX') ? env : { ...env, MALLOC_ARENA_MAX: '2' };
}
