/** The emulators the storage tests build on are up and speak their protocols. */
import { describe, expect, it } from 'vitest';
import { services } from '../helpers/context.ts';

describe('test harness services', () => {
  it('MinIO answers its health check and refuses anonymous S3 calls with S3 XML', async () => {
    const { endpoint } = services().minio;
    expect((await fetch(`${endpoint}/minio/health/live`)).status).toBe(200);
    const anonymous = await fetch(`${endpoint}/`);
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toContain('<Code>AccessDenied</Code>');
  });

  it('fake-gcs-server creates and lists buckets over the GCS JSON API', async () => {
    const { endpoint } = services().gcs;
    const name = `harness-${Date.now()}`;
    const created = await fetch(`${endpoint}/storage/v1/b?project=test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    expect(created.status).toBe(200);
    const listed = (await (await fetch(`${endpoint}/storage/v1/b?project=test`)).json()) as {
      items: { name: string }[];
    };
    expect(listed.items.map((bucket) => bucket.name)).toContain(name);
  });

  it('Azurite answers the Blob API and requires authentication', async () => {
    const { endpoint, connectionString } = services().azurite;
    const response = await fetch(`${endpoint}?comp=list`);
    expect([401, 403]).toContain(response.status);
    expect(connectionString).toContain('BlobEndpoint=');
  });
});
