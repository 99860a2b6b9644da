/**
 * Frees relayed body buffers promptly. Every chunk a socket read hands over is
 * a new off-heap buffer that only a garbage collection frees, and a bridge
 * relaying hundreds of MB/s creates them far faster than its JavaScript fills
 * V8's young generation: left alone, they pile up until V8 runs full
 * mark-compacts, 3-4 ms of CPU per MB relayed. A scavenge (a minor collection,
 * well under a millisecond) every 4 MiB counted frees them while they are young.
 * (Against every 32 MiB: no measurable difference in CPU per MB, and bench:s3's
 * large-object scenarios grew the bridge by about 15 MB instead of 50; against
 * every 8 MiB, the bridge's peak RSS in bench:s3 was 194 MB instead of 201-204,
 * at the same 1.1-1.6 ms of CPU per MB.)
 *
 * Needs Node's `--expose-gc`, which the bridge is started with
 * (scripts/services/node-settings.ts), and the worker too for migrations; elsewhere (tests,
 * tools) it does nothing.
 */

type MinorCollection = () => void;

export class RelayCollector {
  readonly #collect: MinorCollection | undefined;
  readonly #everyBytes: number;
  #sinceLast = 0;

  constructor(collect: MinorCollection | undefined, everyBytes = 4 * 2 ** 20) {
    this.#collect = collect;
    this.#everyBytes = everyBytes;
  }

  /** Counts body bytes read or written; collects once enough went through since the last time. */
  relayed(bytes: number): void {
    if (!this.#collect) return;
    this.#sinceLast += bytes;
    if (this.#sinceLast < this.#everyBytes) return;
    this.#sinceLast = 0;
    this.#collect();
  }
}

type ExposedGc = (options: { type: 'minor' | 'major' }) => void;

/** The process's collector, from `--expose-gc`'s global `gc`. */
function processCollector(): RelayCollector {
  const gc = (globalThis as { gc?: ExposedGc }).gc;
  return new RelayCollector(gc && (() => gc({ type: 'minor' })));
}

export const relayCollector = processCollector();
