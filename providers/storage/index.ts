/**
 * The one way to open an ObjectStore: picks the adapter from the provider and
 * the kind of credentials.
 *
 * Outbound agents (e.g. the SSRF guard) reach each SDK's HTTP layer:
 * - S3 (and GCS HMAC): the S3 client's `requestHandler` options → NodeHttpHandler's httpAgent/httpsAgent.
 * - Azure: core-rest-pipeline's `agent` pipeline option (one agent, picked by the endpoint's scheme).
 * - GCS service account: only OAuth and resumable uploads take an agent; the JSON API calls and
 *   downloads go through teeny-request, which ignores it (the gap is described in gcs.ts).
 *
 * The GCS and Azure adapters load on first use: their SDKs cost a process about 10 MB of heap
 * and 15 MB of RSS, and most deployments never open a bucket of one or the other.
 */
import { type BucketConnection, isAzureCredentials, type ObjectStore, StorageError } from './object-store.ts';
import type { OutboundAgents } from './outbound-agents.ts';
import { S3ObjectStore } from './s3.ts';

export * from './object-store.ts';

/** HTTP agents every connection of the store goes through (`createGuardedAgents` gives them). */
export type StorageClientOptions = OutboundAgents;

export async function createObjectStore(
  connection: BucketConnection,
  options: StorageClientOptions = {},
): Promise<ObjectStore> {
  const { provider, credentials } = connection;
  if ((provider === 'S3' || provider === 'S3_COMPATIBLE') && credentials.kind === 'S3_ACCESS_KEY') {
    if (provider === 'S3_COMPATIBLE' && !connection.endpoint)
      throw new StorageError('Invalid', 'an S3_COMPATIBLE bucket needs an endpoint');
    return new S3ObjectStore(connection, credentials, options);
  }
  if (provider === 'GCS' && credentials.kind === 'GCS_HMAC')
    return new S3ObjectStore(connection, credentials, options);
  if (provider === 'GCS' && credentials.kind === 'GCS_SERVICE_ACCOUNT') {
    const { GcsObjectStore } = await import('./gcs.ts');
    return new GcsObjectStore(connection, credentials.serviceAccountJson, options);
  }
  if (provider === 'AZURE' && isAzureCredentials(credentials)) {
    const { AzureObjectStore } = await import('./azure.ts');
    return new AzureObjectStore(connection, credentials, options);
  }
  throw new StorageError('Invalid', `${credentials.kind} credentials cannot open a ${provider} bucket`);
}
