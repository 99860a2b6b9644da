/**
 * A small read-through cache for rows the API changes and the bridges read on
 * every request (keys): entries expire after a TTL, and a PostgreSQL NOTIFY
 * on `channel` whose payload is an entry's id evicts it on every process at
 * once. Misses are cached too, so unknown ids cannot hammer the database.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import pg from 'pg';

interface CacheEntry<T> {
  value: T | null;
  expires: number;
}

export interface NotifiedCacheOptions<T> {
  channel: string;
  load(id: string): Promise<T | null>;
  ttlMs?: number;
  maxEntries?: number;
}

/** Tells every listening process that `id` changed; call inside the changing transaction (delivered on commit). */
export async function announceChange(em: EntityManager, channel: string, id: string): Promise<void> {
  await em.getConnection().execute('select pg_notify(?, ?)', [channel, id]);
}

export class NotifiedCache<T> {
  readonly #options: Required<NotifiedCacheOptions<T>>;
  readonly #entries = new Map<string, CacheEntry<T>>();
  #listener: pg.Client | undefined;

  constructor(options: NotifiedCacheOptions<T>) {
    this.#options = { ...options, ttlMs: options.ttlMs ?? 30_000, maxEntries: options.maxEntries ?? 10_000 };
  }

  /** Starts listening for changes; without it, entries still expire after the TTL. */
  async listen(databaseUrl: string): Promise<void> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    client.on('notification', (message) => {
      if (message.channel === this.#options.channel && message.payload) this.#entries.delete(message.payload);
    });
    // A lost connection means lost notifications: forget everything rather than serve stale rows.
    client.on('error', () => this.#entries.clear());
    await client.query(`listen ${this.#options.channel}`);
    this.#listener = client;
  }

  async close(): Promise<void> {
    await this.#listener?.end();
  }

  async get(id: string): Promise<T | null> {
    const cached = this.#entries.get(id);
    if (cached && cached.expires > Date.now()) return cached.value;
    const value = await this.#options.load(id);
    if (this.#entries.size >= this.#options.maxEntries)
      this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(id, { value, expires: Date.now() + this.#options.ttlMs });
    return value;
  }
}
