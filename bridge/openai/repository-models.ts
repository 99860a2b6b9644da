/**
 * The AI configs a repository is attached to, with the provider connection
 * of each (secrets opened once) and the models each one serves, as the AI
 * gateway routes with them. Configs are re-read briefly after a change; each
 * config's model list comes from the provider (`listModels`, the same call
 * that validates a config), kept for a few minutes, and kept longer when the
 * provider cannot be asked (a provider that is down still serves what it
 * served).
 */

import { aiProviderConnection } from '../../core/ai/config-secrets.ts';
import { AiLlmConfig, Repository } from '../../core/db/entities/index.ts';
import type { EntityManager } from '../../core/db/orm.ts';
import type { OutboundPolicy } from '../../core/net/outbound-guard.ts';
import type { MasterKeyring } from '../../core/secrets/keyring.ts';
import { type AiProviderConnection, listModels } from '../../providers/ai/index.ts';

export interface ServedConfig {
  id: string;
  name: string;
  type: AiProviderConnection['type'];
  connection: AiProviderConnection;
}

/** One config that serves the requested model, with the model id to send it. */
export interface Candidate {
  config: ServedConfig;
  providerModel: string;
}

interface ModelList {
  models: Set<string>;
  fetchedAt: number;
  refreshing?: Promise<void>;
}

export interface RepositoryModelsOptions {
  em: EntityManager;
  keyring: MasterKeyring;
  outboundPolicy: OutboundPolicy;
  configTtlMs?: number;
  modelsTtlMs?: number;
}

export class RepositoryModels {
  readonly #options: Required<RepositoryModelsOptions>;
  readonly #repositories = new Map<string, { configs: ServedConfig[]; expires: number }>();
  readonly #models = new Map<string, ModelList>();

  constructor(options: RepositoryModelsOptions) {
    this.#options = {
      ...options,
      configTtlMs: options.configTtlMs ?? 15_000,
      modelsTtlMs: options.modelsTtlMs ?? 300_000,
    };
  }

  async configs(repositoryId: string): Promise<ServedConfig[]> {
    const cached = this.#repositories.get(repositoryId);
    if (cached && cached.expires > Date.now()) return cached.configs;
    const configs = await this.#load(repositoryId);
    this.#repositories.set(repositoryId, { configs, expires: Date.now() + this.#options.configTtlMs });
    return configs;
  }

  /** Every model the repository's configs serve, as `/v1/models` lists them (each also as `<config>/<model>`). */
  async listed(repositoryId: string): Promise<{ id: string; ownedBy: string }[]> {
    const listed: { id: string; ownedBy: string }[] = [];
    const seen = new Set<string>();
    for (const config of await this.configs(repositoryId)) {
      for (const model of await this.modelsOf(config)) {
        if (!seen.has(model)) listed.push({ id: model, ownedBy: config.name });
        seen.add(model);
        listed.push({ id: `${config.name}/${model}`, ownedBy: config.name });
      }
    }
    return listed;
  }

  /**
   * The configs that serve `requested`, in the repository's order:
   * `<config-name>/<model>` names one config; a bare model id every config
   * that lists it.
   */
  async candidates(repositoryId: string, requested: string): Promise<Candidate[]> {
    const configs = await this.configs(repositoryId);
    const slash = requested.indexOf('/');
    if (slash > 0) {
      const named = configs.find((config) => config.name === requested.slice(0, slash));
      if (named) return [{ config: named, providerModel: requested.slice(slash + 1) }];
    }
    const serving: Candidate[] = [];
    for (const config of configs) {
      if ((await this.modelsOf(config)).has(requested)) serving.push({ config, providerModel: requested });
    }
    return serving;
  }

  async modelsOf(config: ServedConfig): Promise<Set<string>> {
    let list = this.#models.get(config.id);
    if (!list) {
      list = { models: new Set(), fetchedAt: 0 };
      this.#models.set(config.id, list);
    }
    if (Date.now() - list.fetchedAt >= this.#options.modelsTtlMs && !list.refreshing) {
      const target = list;
      target.refreshing = listModels(config.connection, { outboundPolicy: this.#options.outboundPolicy })
        .then((models) => {
          target.models = new Set(models.map((model) => model.id));
          target.fetchedAt = Date.now();
        })
        // Keep the last known list; ask again on a later request.
        .catch(() => {})
        .finally(() => {
          target.refreshing = undefined;
        });
    }
    if (list.fetchedAt === 0 && list.refreshing) await list.refreshing;
    return list.models;
  }

  async #load(repositoryId: string): Promise<ServedConfig[]> {
    const em = this.#options.em.fork();
    const repository = await em.findOne(Repository, repositoryId, { populate: ['aiConfigs'] });
    if (!repository) return [];
    const ids = repository.aiConfigs.getItems().map((config) => config.id);
    const configs = await em.find(
      AiLlmConfig,
      { id: { $in: ids } },
      { populate: ['apiKey', 'apiSecret'], orderBy: { createdAt: 'asc' } },
    );
    return configs.map((config) => ({
      id: config.id,
      name: config.name,
      type: config.type,
      connection: aiProviderConnection(this.#options.keyring, config),
    }));
  }
}
