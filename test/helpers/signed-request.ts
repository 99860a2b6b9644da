/** Hand-signed S3 requests, for the cases a well-behaved SDK will not produce (malformed bodies, odd keys). */
import { createHash, createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

class NodeSha256 {
  readonly #hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret ? createHmac('sha256', Buffer.from(secret as string)) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

export interface SignedRequest {
  method: string;
  /** Already percent-encoded, exactly as it goes on the wire (no normalisation of `..`). */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** SigV4 headers for a request, as the SDK computes them. */
export async function signHeaders(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  request: SignedRequest & { payloadHash?: string },
): Promise<Record<string, string>> {
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    credentials,
    region: 'us-east-1',
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
  });
  const body = request.body ?? '';
  const payloadHash = request.payloadHash ?? createHash('sha256').update(body).digest('hex');
  const signed = await signer.sign({
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: request.path,
    query: request.query ?? {},
    headers: { host: url.host, 'x-amz-content-sha256': payloadHash, ...request.headers },
    body,
  });
  return signed.headers as Record<string, string>;
}

/** Signs with SigV4 as the SDK would, then sends with node:http so the path is sent byte for byte. */
export async function signedFetch(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  request: SignedRequest,
): Promise<RawResponse> {
  const url = new URL(endpoint);
  const body = request.body ?? '';
  const headers = await signHeaders(endpoint, credentials, request);
  const query = new URLSearchParams(request.query ?? {}).toString().replace(/=(&|$)/g, '$1');
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: `${request.path}${query ? `?${query}` : ''}`,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

export const s3ErrorCode = (response: { body: string }) => /<Code>([^<]+)<\/Code>/.exec(response.body)?.[1];
