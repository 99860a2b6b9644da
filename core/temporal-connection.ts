/**
 * Turns Skybridge's configuration into Temporal connection options. Address,
 * namespace, TLS (client certificates) and API keys (Temporal Cloud) follow
 * `@temporalio/envconfig`, so a TOML profile (TEMPORAL_CONFIG_FILE,
 * TEMPORAL_PROFILE) works as well as plain variables.
 */

import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { Config } from './config.ts';

export interface TemporalConnectionSettings {
  address: string;
  namespace: string;
  apiKey?: string;
  tls?: ReturnType<typeof loadClientConnectConfig>['connectionOptions']['tls'];
  metadata?: Record<string, string>;
}

export function temporalConnectionSettings(config: Config): TemporalConnectionSettings {
  const variables = { ...config.temporal.envconfigVariables };
  if (config.temporal.address) variables.TEMPORAL_ADDRESS = config.temporal.address;
  const { connectionOptions, namespace } = loadClientConnectConfig({
    overrideEnvVars: variables,
    // Only an explicitly named file is read, never one from the user's home by surprise.
    disableFile: variables.TEMPORAL_CONFIG_FILE === undefined,
  });
  const address = connectionOptions.address ?? config.temporal.address;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set and no Temporal profile gives an address');
  return {
    address,
    namespace: namespace ?? config.temporal.namespace,
    apiKey: typeof connectionOptions.apiKey === 'string' ? connectionOptions.apiKey : undefined,
    tls: connectionOptions.tls,
    metadata: connectionOptions.metadata as Record<string, string> | undefined,
  };
}

/**
 * A client whose connection is opened on first use, so a process starts (and
 * reports "not ready") while Temporal is still coming up.
 */
export function openTemporalClient(config: Config): {
  client: Client;
  connection: Connection;
  close(): Promise<void>;
} {
  const settings = temporalConnectionSettings(config);
  const connection = Connection.lazy({
    address: settings.address,
    tls: settings.tls,
    apiKey: settings.apiKey,
    metadata: settings.metadata,
  });
  const client = new Client({
    connection,
    namespace: settings.namespace,
    // Starting, signalling and querying a workflow carry the caller's trace into it.
    interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
  });
  return { client, connection, close: () => connection.close() };
}

export function temporalReadiness(connection: Connection): () => Promise<void> {
  return async () => {
    await connection.workflowService.getSystemInfo({});
  };
}
