/**
 * Authenticates an S3 request: SigV4 (header or presigned) against the
 * repository storage key, then hands out the body decoded from its framing
 * and verified as it streams (payload hash, chunk signatures, checksums).
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough, pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import type { StorageKeyResolver } from '../../core/keys/storage-key-resolver.ts';
import { S3AuthError } from './auth/errors.ts';
import { createPayloadDecoder } from './auth/payload.ts';
import { parseSignedRequest, type SignedRequestInput, verifySignature } from './auth/sigv4.ts';
import type { S3Authenticator } from './server.ts';

export function createS3Authenticator(
  resolver: StorageKeyResolver,
  now: () => Date = () => new Date(),
): S3Authenticator {
  return async (req: IncomingMessage, rawPath: string, rawQuery: string) => {
    const request: SignedRequestInput = {
      method: req.method ?? 'GET',
      rawPath,
      rawQuery,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      now: now(),
    };
    const parsed = parseSignedRequest(request);
    const key = await resolver.resolve(parsed.accessKeyId);
    if (!key) throw new S3AuthError('InvalidAccessKeyId');
    const signing = verifySignature(parsed, key.secretAccessKey, request);
    return {
      key,
      body: () =>
        verifiedBody(
          req,
          createPayloadDecoder({ payloadHash: parsed.payloadHash, signing, headers: req.headers }),
        ),
    };
  };
}

/**
 * The decoded body. Its last chunk is held back until every check has passed,
 * so a backend that commits on receiving the declared length never sees a
 * complete body that fails verification.
 */
function verifiedBody(req: IncomingMessage, decoder: Transform): Readable {
  const output = new PassThrough();
  pipeline(req, decoder, holdBackLastChunk(), output, () => {});
  return output;
}

function holdBackLastChunk(): Transform {
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const previous = held;
      held = chunk;
      callback(null, previous);
    },
    flush(callback: TransformCallback) {
      callback(null, held);
    },
  });
}
