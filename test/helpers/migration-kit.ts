/**
 * What migration tests share: emulator buckets registered through the API
 * (and a store on each for the test's own reads and writes), seed objects,
 * byte-for-byte snapshots, and starting and following jobs.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { createObjectStore, type ObjectStore } from '../../providers/storage/index.ts';
import { type ApiCall, services } from './context.ts';
import {
  createAzuriteContainer,
  createGcsBucket,
  createMinioBucket,
  fakeServiceAccountJson,
  uniqueBucketName,
} from './emulator-buckets.ts';

export type Backend = 'minio' | 'azure' | 'gcs';

export interface Seed {
  key: string;
  body: Buffer;
  contentType: string;
  metadata: Record<string, string>;
}

export interface StoredObject {
  body: string;
  size: number;
  contentType?: string;
  metadata: Record<string, string>;
}

export function migrationKit(call: ApiCall) {
  /** A fresh bucket registered through the API, and a store on it for the test's own reads and writes. */
  /** `extra`: more registration fields (workspaceId, caps). */
  async function bucket(
    backend: Backend,
    extra: Record<string, unknown> = {},
  ): Promise<{ id: string; store: ObjectStore }> {
    const { minio, gcs, azurite } = services();
    let registration: Record<string, unknown>;
    let store: ObjectStore;
    if (backend === 'minio') {
      const bucketName = await createMinioBucket();
      const credentials = { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey };
      registration = {
        provider: 'S3_COMPATIBLE',
        bucketName,
        endpoint: minio.endpoint,
        forcePathStyle: true,
        credentials: { type: 'ACCESS_KEY', ...credentials },
      };
      store = await createObjectStore({
        provider: 'S3_COMPATIBLE',
        bucketName,
        endpoint: minio.endpoint,
        forcePathStyle: true,
        credentials: { kind: 'S3_ACCESS_KEY', ...credentials },
      });
    } else if (backend === 'gcs') {
      const bucketName = await createGcsBucket();
      const serviceAccountJson = fakeServiceAccountJson();
      registration = {
        provider: 'GCS',
        bucketName,
        endpoint: gcs.endpoint,
        credentials: { type: 'SERVICE_ACCOUNT', serviceAccountJson },
      };
      store = await createObjectStore({
        provider: 'GCS',
        bucketName,
        endpoint: gcs.endpoint,
        credentials: { kind: 'GCS_SERVICE_ACCOUNT', serviceAccountJson },
      });
    } else {
      const bucketName = await createAzuriteContainer();
      registration = {
        provider: 'AZURE',
        bucketName,
        credentials: { type: 'CONNECTION_STRING', connectionString: azurite.connectionString },
      };
      store = await createObjectStore({
        provider: 'AZURE',
        bucketName,
        credentials: { kind: 'AZURE_CONNECTION_STRING', connectionString: azurite.connectionString },
      });
    }
    const created = await call('POST', '/bucket', {
      name: uniqueBucketName(backend),
      ...registration,
      ...extra,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // Validation writes and deletes a probe object: let it finish before the test looks at the bucket.
    for (let attempt = 0; attempt < 100; attempt++) {
      const status = (await call('GET', `/bucket/${created.body.id}`)).body.status;
      if (status === 'VALID') return { id: created.body.id, store };
      await sleep(100);
    }
    throw new Error(`bucket ${created.body.id} was not validated`);
  }

  function seeds(count: number, prefix: string, options: { size?: number; extension?: string } = {}): Seed[] {
    return Array.from({ length: count }, (_, index) => ({
      key: `${prefix}dir-${index % 3}/object-${String(index).padStart(3, '0')}${options.extension ?? '.txt'}`,
      body: randomBytes(options.size ?? 100 + index * 37),
      contentType: index % 2 ? 'application/octet-stream' : 'text/plain',
      metadata: { origin: 'seed', index: String(index) },
    }));
  }

  async function put(store: ObjectStore, objects: Seed[]): Promise<void> {
    for (const object of objects)
      await store.put(object.key, object.body, {
        contentLength: object.body.length,
        contentType: object.contentType,
        metadata: object.metadata,
      });
  }

  /** Every object of the store, byte for byte, with its content type and metadata. */
  async function snapshot(store: ObjectStore): Promise<Map<string, StoredObject>> {
    const objects = new Map<string, StoredObject>();
    let token: string | undefined;
    do {
      const page = await store.list({ continuationToken: token });
      for (const { key } of page.objects) {
        const { info, body } = await store.get(key);
        const bytes = Buffer.concat(await Readable.from(body).toArray());
        objects.set(key, {
          body: bytes.toString('base64'),
          size: bytes.length,
          contentType: info.contentType,
          metadata: info.metadata ?? {},
        });
      }
      token = page.nextContinuationToken;
    } while (token);
    return objects;
  }

  async function expectCopied(store: ObjectStore, objects: Seed[], from: string, to: string) {
    const stored = await snapshot(store);
    for (const seed of objects) {
      const copied = stored.get(to + seed.key.slice(from.length));
      expect(copied, seed.key).toBeDefined();
      expect(copied?.body, seed.key).toBe(seed.body.toString('base64'));
      expect(copied?.contentType, seed.key).toBe(seed.contentType);
      expect(copied?.metadata, seed.key).toMatchObject(seed.metadata);
    }
  }

  async function startMigration(body: Record<string, unknown>): Promise<string> {
    const started = await call('POST', '/jobs/migrations', body);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    return started.body.id;
  }

  // biome-ignore lint/suspicious/noExplicitAny: the job as the API returns it, read field by field
  async function waitFor(id: string, done: (job: any) => boolean, seconds = 60): Promise<any> {
    for (let attempt = 0; attempt < seconds * 5; attempt++) {
      const job = await call('GET', `/jobs/${id}`);
      expect(job.status).toBe(200);
      if (done(job.body)) return job.body;
      await sleep(200);
    }
    throw new Error(
      `job ${id} did not get there: ${JSON.stringify((await call('GET', `/jobs/${id}`)).body)}`,
    );
  }
  const finished = (id: string, seconds?: number) => waitFor(id, (job) => job.status !== 'RUNNING', seconds);
  return { bucket, seeds, put, snapshot, expectCopied, startMigration, waitFor, finished };
}
