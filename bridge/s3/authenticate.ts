/**
 * Authenticates an S3 request: SigV4 (header or presigned) against the
 * repository storage key, then hands out the body decoded from its framing
 * and verified as it streams (payload hash, chunk signatures, checksums).
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { StorageKeyResolver } from '../../core/keys/storage-key-resolver.ts';
import { S3AuthError } from './auth/errors.ts';
import { createPayloadDecoder, type PayloadDecoder } from './auth/payload.ts';
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
    let failure: Error | undefined;
    let decoder: PayloadDecoder | undefined;
    const decoderOnce = () => {
      decoder ??= createPayloadDecoder({ payloadHash: parsed.payloadHash, signing, headers: req.headers });
      return decoder;
    };
    return {
      key,
      body: () =>
        verifiedBody(req, decoderOnce(), (error) => {
          failure ??= error;
        }),
      bodyFailure: () => failure,
      bodyVerified: () => decoderOnce().result,
    };
  };
}

/**
 * The decoded body: the decoder itself, which holds its last piece of data back until every
 * check has passed (see payload.ts).
 */
function verifiedBody(
  req: IncomingMessage,
  decoder: PayloadDecoder,
  failed: (error: Error) => void,
): Readable {
  const fail = (error: Error) => {
    failed(error);
    // Keep the socket: the client still gets an S3 error document (the rest of the body is drained).
    req.unpipe(decoder);
    req.resume();
    decoder.destroy(error);
  };
  decoder.once('error', fail);
  req.once('close', () => {
    if (!req.complete) fail(new S3AuthError('IncompleteBody', 'The request body was cut off before the end'));
  });
  return req.pipe(decoder);
}
