/**
 * How the bridge's Node process is started: the platform (scripts/start.ts) and the
 * benchmarks' reference proxy (bench/pass-through-proxy.ts) use the same settings.
 */
import { variableIsSet } from '../../core/config.ts';

/**
 * The bridge relays object bodies, and every 64 KiB a socket read hands over is a new off-heap
 * buffer that only a garbage collection frees. By default V8 let those buffers pile up until a
 * full mark-compact, about one per 35 MB relayed (its young generation, grown to 64 MB here, was
 * rarely collected, and off-heap bytes count against the old generation's small headroom), and
 * the bridge spent 3-4 ms of CPU per MB. A 2 MB young generation frees them with cheap scavenges
 * every few tens of MB, and counting off-heap memory in the global limit stops the remaining
 * mark-compact storms: 1.1-1.4 ms per MB, and RSS at start 167 MB instead of 208. The price:
 * small requests' short-lived objects are promoted more often, 15-25% more CPU per request.
 */
export const BRIDGE_NODE_ARGS = ['--max-semi-space-size=2', '--external-memory-accounted-in-global-limit'];
/** Two malloc arenas rather than one per thread (unless set otherwise): freed buffers' memory is reused, not spread out. */
export function bridgeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return variableIsSet('MALLOC_ARENA_MAX') ? env : { ...env, MALLOC_ARENA_MAX: '2' };
}
