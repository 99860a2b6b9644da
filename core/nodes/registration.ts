/**
 * JOB-5: a bridge process registers itself as a Bridge Node on start, keeps a
 * heartbeat while it runs, and marks itself stopped on a graceful stop. The
 * row is keyed by label and address, so a restarted node takes its row back.
 * Times come from PostgreSQL's clock, the one the probes compare them with.
 */
import { hostname } from 'node:os';
// Imported rather than read from a path, so that the build (scripts/build.ts) carries it into .build/.
import packageJson from '../../package.json' with { type: 'json' };
import type { EntityManager } from '../db/orm.ts';
import type { Logger } from '../logging.ts';

/** What a node tells about itself. */
export interface BridgeNodeIdentity {
  /** The protocol of the node's main address. */
  api: string;
  region: string;
  provider: string;
  /** The S3 endpoint clients use. */
  address: string;
  /** The OpenAI-compatible base URL, ending in `/v1`. */
  openaiAddress: string;
  /** The process's /healthz, which the probes GET. */
  healthUrl: string;
  version: string;
  heartbeatSeconds: number;
}

export interface NodeSettings {
  region: string;
  provider: string;
  publicS3Url?: string;
  publicOpenaiUrl?: string;
  heartbeatSeconds: number;
}

/** The seeds' Bridge Node pattern: `s3-eu-central-1-gcp`. */
export const nodeLabel = (identity: Pick<BridgeNodeIdentity, 'api' | 'region' | 'provider'>) =>
  `${identity.api}-${identity.region}-${identity.provider}`;

/** Skybridge's version, from package.json. */
export function softwareVersion(): string {
  return packageJson.version;
}

/**
 * A URL others can reach a listener at: a wildcard listen address (0.0.0.0,
 * ::) is no destination, so the machine's host name stands in for it.
 */
export function listenerUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? hostname() : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/** The node's identity from its settings, its public URLs defaulting to the listeners'. */
export function bridgeNodeIdentity(
  settings: NodeSettings,
  listeners: { s3Url: string; openaiUrl: string },
): BridgeNodeIdentity {
  const openaiAddress = withoutTrailingSlash(settings.publicOpenaiUrl ?? `${listeners.openaiUrl}/v1`);
  return {
    api: 's3',
    region: settings.region,
    provider: settings.provider,
    address: withoutTrailingSlash(settings.publicS3Url ?? listeners.s3Url),
    openaiAddress,
    // The ops endpoints sit beside /v1 on the AI listener (behind a proxy, under the same prefix).
    healthUrl: `${openaiAddress.replace(/\/v1$/, '')}/healthz`,
    version: softwareVersion(),
    heartbeatSeconds: settings.heartbeatSeconds,
  };
}

const withoutTrailingSlash = (url: string) => url.replace(/\/+$/, '');

export class BridgeNodeRegistration {
  readonly nodeId: string;
  readonly label: string;
  readonly #em: EntityManager;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;

  private constructor(em: EntityManager, log: Logger, nodeId: string, identity: BridgeNodeIdentity) {
    this.#em = em;
    this.#log = log;
    this.nodeId = nodeId;
    this.label = nodeLabel(identity);
    this.#timer = setInterval(() => void this.#beat(), identity.heartbeatSeconds * 1000).unref();
  }

  /** Inserts the node, or takes back the row of an earlier run with the same label and address. */
  static async register(
    em: EntityManager,
    identity: BridgeNodeIdentity,
    log: Logger,
  ): Promise<BridgeNodeRegistration> {
    const [row] = await em.getConnection().execute<{ id: string }[]>(
      `insert into bridge_nodes (id, label, api, region, provider, address, openai_address, health_url, version,
                                 heartbeat_seconds, started_at, last_seen_at, stopped_at)
       values (gen_random_uuid(), ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), now(), null)
       on conflict (label, address) do update set
         api = excluded.api, region = excluded.region, provider = excluded.provider,
         openai_address = excluded.openai_address, health_url = excluded.health_url,
         version = excluded.version, heartbeat_seconds = excluded.heartbeat_seconds,
         started_at = excluded.started_at, last_seen_at = excluded.last_seen_at, stopped_at = null
       returning id`,
      [
        nodeLabel(identity),
        identity.api,
        identity.region,
        identity.provider,
        identity.address,
        identity.openaiAddress,
        identity.healthUrl,
        identity.version,
        identity.heartbeatSeconds,
      ],
    );
    if (!row) throw new Error('the bridge node could not be registered');
    return new BridgeNodeRegistration(em, log, row.id, identity);
  }

  /**
   * Stops the heartbeat and tells the probes the node left on purpose. A
   * failure is logged, not thrown: the node then just goes silent, as a
   * crashed one would.
   */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#update(
      'stopped_at = now(), last_seen_at = now()',
      'bridge node could not mark itself stopped',
    );
  }

  /** A missed beat is logged, not fatal: the node goes on serving, and the next beat may land. */
  #beat(): Promise<void> {
    return this.#update('last_seen_at = now(), stopped_at = null', 'bridge node heartbeat failed');
  }

  async #update(assignments: string, failure: string): Promise<void> {
    try {
      await this.#em
        .getConnection()
        .execute(`update bridge_nodes set ${assignments} where id = ?`, [this.nodeId]);
    } catch (error) {
      this.#log.warn({ err: error, nodeId: this.nodeId }, failure);
    }
  }
}
