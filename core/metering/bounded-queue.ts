/**
 * A first-in-first-out queue of fixed capacity over a ring of slots: adding
 * at the back, taking from the front and putting back at the front are all
 * O(1) per item, and a full queue makes room by dropping its oldest item.
 */
export class BoundedQueue<T> {
  readonly capacity: number;
  readonly #slots: (T | undefined)[];
  #head = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
    this.#slots = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Adds at the back; returns how many old items were dropped to make room (0 or 1). */
  push(item: T): number {
    if (this.#size === this.capacity) {
      this.#slots[this.#head] = item;
      this.#head = (this.#head + 1) % this.capacity;
      return 1;
    }
    this.#slots[(this.#head + this.#size) % this.capacity] = item;
    this.#size++;
    return 0;
  }

  /** Removes and returns up to `count` items from the front, oldest first. */
  take(count: number): T[] {
    const taken: T[] = [];
    while (taken.length < count && this.#size > 0) {
      taken.push(this.#slots[this.#head] as T);
      this.#slots[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
      this.#size--;
    }
    return taken;
  }

  /**
   * Puts items taken earlier back at the front, in their order, ahead of
   * everything added since. What does not fit is dropped from the oldest end;
   * returns how many were dropped.
   */
  putBack(items: readonly T[]): number {
    const room = this.capacity - this.#size;
    const dropped = Math.max(0, items.length - room);
    for (let index = items.length - 1; index >= dropped; index--) {
      this.#head = (this.#head - 1 + this.capacity) % this.capacity;
      this.#slots[this.#head] = items[index];
      this.#size++;
    }
    return dropped;
  }
}
