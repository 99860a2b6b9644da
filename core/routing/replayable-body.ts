/**
 * A request body that a failed write can hand to the next backend: each
 * attempt reads the bytes earlier attempts already took (kept here, up to
 * `windowBytes`), then the rest of the source. Once more than the window has
 * been read, nothing is kept any more and no further attempt is possible:
 * memory stays bounded whatever the object's size.
 *
 * The source is read only as fast as the current attempt reads (back-pressure
 * is kept), and an attempt that is destroyed (its backend failed) leaves the
 * source untouched for the next.
 */
import { Readable } from 'node:stream';

export class ReplayableBody {
  readonly #source: Readable;
  readonly #windowBytes: number;
  #kept: Buffer[] = [];
  #keptBytes = 0;
  #overflowed = false;
  #ended = false;
  #failure?: Error;
  #reader?: Readable;

  constructor(source: Readable, windowBytes: number) {
    this.#source = source;
    this.#windowBytes = windowBytes;
    source.on('end', () => {
      this.#ended = true;
    });
    source.on('error', (error) => {
      this.#failure = error;
      this.#reader?.destroy(error);
    });
  }

  /** Whether a new attempt would get the whole body: nothing read was let go and the source did not fail. */
  get replayable(): boolean {
    return !this.#overflowed && this.#failure === undefined;
  }

  /** Whether the source failed (the client's body was cut off or did not verify). */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** A fresh reading of the body; the previous attempt's stream stops getting bytes. */
  attempt(): Readable {
    if (!this.replayable) throw new Error('the body can no longer be replayed');
    const replay = [...this.#kept];
    const reader: Readable = new Readable({
      read: () => this.#feed(reader, replay),
      destroy: (error, callback) => {
        if (this.#reader === reader) this.#reader = undefined;
        callback(error);
      },
    });
    this.#reader = reader;
    return reader;
  }

  #feed(reader: Readable, replay: Buffer[]): void {
    while (replay.length > 0) if (!reader.push(replay.shift())) return;
    this.#pull(reader);
  }

  #pull(reader: Readable): void {
    if (this.#reader !== reader) return;
    for (;;) {
      if (this.#failure) {
        reader.destroy(this.#failure);
        return;
      }
      const chunk = this.#source.read() as Buffer | null;
      if (chunk === null) {
        if (this.#ended) reader.push(null);
        else this.#whenReadable(() => this.#pull(reader));
        return;
      }
      this.#keep(chunk);
      if (!reader.push(chunk)) return;
    }
  }

  /** `readable` announces data and the end alike; `end` covers an end announced before we listened. */
  #whenReadable(resume: () => void): void {
    const once = () => {
      this.#source.off('readable', once);
      this.#source.off('end', once);
      this.#source.off('error', once);
      resume();
    };
    this.#source.on('readable', once);
    this.#source.on('end', once);
    this.#source.on('error', once);
  }

  #keep(chunk: Buffer): void {
    if (this.#overflowed) return;
    if (this.#keptBytes + chunk.length > this.#windowBytes) {
      this.#overflowed = true;
      this.#kept = [];
      this.#keptBytes = 0;
      return;
    }
    this.#kept.push(chunk);
    this.#keptBytes += chunk.length;
  }
}
