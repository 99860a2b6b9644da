/**
 * Put Blob's Shared Key signature (providers/storage/azure-http.ts) against the
 * one `@azure/storage-blob` computes for the same request: the SDK's policy is
 * what real Azure accepts, including its culture-aware header order, which
 * Azurite may not check the same way.
 */
import { StorageSharedKeyCredential } from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { AZURE_API_VERSION, sharedKeyAuthorization } from '../../providers/storage/azure-http.ts';

const credential = new StorageSharedKeyCredential('account1', Buffer.alloc(32, 7).toString('base64'));

/** The Authorization header the SDK's own signing policy gives a request with these headers. */
async function sdkAuthorization(url: string, headers: Record<string, string>): Promise<string> {
  const values = new Map(
    Object.entries(headers).map(([name, value]) => [name.toLowerCase(), { name, value }]),
  );
  const webResource = {
    method: 'PUT',
    url,
    body: undefined,
    headers: {
      get: (name: string) => values.get(name.toLowerCase())?.value,
      set: (name: string, value: string | number) =>
        values.set(name.toLowerCase(), { name, value: String(value) }),
      headersArray: () => [...values.values()],
    },
  };
  let signed: typeof webResource | undefined;
  const policy = credential.create(
    {
      sendRequest: async (request: unknown) => {
        signed = request as typeof webResource;
        return {} as never;
      },
    },
    {} as never,
  );
  await policy.sendRequest(webResource as never);
  const date = signed?.headers.get('x-ms-date');
  if (date !== headers['x-ms-date']) throw new Error('the SDK replaced x-ms-date; run again');
  return String(signed?.headers.get('authorization'));
}

function putBlobHeaders(extra: Record<string, string>): Record<string, string> {
  return {
    'content-length': '4096',
    'x-ms-blob-type': 'BlockBlob',
    'x-ms-date': new Date().toUTCString(),
    'x-ms-version': AZURE_API_VERSION,
    ...extra,
  };
}

describe('Azure Shared Key signing for Put Blob', () => {
  const cases: [string, string, Record<string, string>][] = [
    ['a plain blob', 'https://account1.blob.core.windows.net/container/key.bin', {}],
    [
      'a content type and metadata whose names order differently byte-wise',
      'https://account1.blob.core.windows.net/container/dir/key%20with%20space',
      {
        'x-ms-blob-content-type': 'text/plain',
        'x-ms-meta-a_b': '1',
        'x-ms-meta-a1': '2',
        'x-ms-meta-ab': '3',
        'x-ms-meta-a': '4',
        'x-ms-meta-sbmeta_origin_2dapp': ' leading space',
        'x-ms-meta-z9_': '5',
      },
    ],
    ['an emulator URL (account in the path)', 'http://127.0.0.1:10000/account1/container/k', {}],
    ['an empty blob', 'https://account1.blob.core.windows.net/container/empty', { 'content-length': '0' }],
  ];
  for (const [name, url, extra] of cases)
    it(`matches the SDK's signature: ${name}`, async () => {
      const headers = putBlobHeaders(extra);
      expect(sharedKeyAuthorization(credential, new URL(url), headers)).toBe(
        await sdkAuthorization(url, headers),
      );
    });
});
