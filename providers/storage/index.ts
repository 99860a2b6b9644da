/**
 * The one way to open an ObjectStore: picks the adapter from the provider and
 * the kind of credentials.
 *
 * Outbound agents (e.g. the SSRF guard) reach each SDK's HTTP layer:
 * - S3 (and GCS HMAC): the S3 client's `requestHandler` options → NodeHttpHandler's httpAgent/httpsAgent.
 * - Azure: core-rest-pipeline's `agent` pipeline option (one agent, picked by the endpoint's scheme).
 * - GCS service account: only OAuth and resumable uploads take an agent; the JSON API calls and
 *   downloads go through teeny-request, which ignores it (the gap is described in gcs.ts).
 */
import { AzureObjectStore, isAzureCredentials } from './azure.ts';
import { GcsObjectStore } from './gcs.ts';
import { type BucketConnection, type ObjectStore, StorageError } from './object-store.ts';
import type { OutboundAgents } from './outbound-agents.ts';
import { S3ObjectStore } from './s3.ts';

export * from './object-store.ts';

/** HTTP agents every connection of the store goes through (`createGuardedAgents` gives them). */
export type StorageClientOptions = OutboundAgents;

export function createObjectStore(
  connection: BucketConnection,
  options: StorageClientOptions = {},
): ObjectStore {
  const { provider, credentials } = connection;
  if ((provider === 'S3' || provider === 'S3_COMPATIBLE') && credentials.kind === 'S3_ACCESS_KEY') {
    if (provider === 'S3_COMPATIBLE' && !connection.endpoint)
      throw new StorageError('Invalid', 'an S3_COMPATIBLE bucket needs an endpoint');
    return new S3ObjectStore(connection, credentials, options);
  }
  if (provider === 'GCS' && credentials.kind === 'GCS_HMAC')
    return new S3ObjectStore(connection, credentials, options);
  if (provider === 'GCS' && credentials.kind === 'GCS_SERVICE_ACCOUNT')
    return new GcsObjectStore(connection, credentials.serviceAccountJson, options);
  if (provider === 'AZURE' && isAzureCredentials(credentials))
    return new AzureObjectStore(connection, credentials, options);
  throw new StorageError('Invalid', `${credentials.kind} credentials cannot open a ${provider} bucket`);
}
