/**
 * The data plane's two listeners: the S3 API and the OpenAI-compatible `/v1`
 * API. Ops endpoints (/healthz, /readyz, /metrics) live on the OpenAI port,
 * because on the S3 port every path is a possible bucket name.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { OpsEndpoints } from '../core/observability/ops-endpoints.ts';
import { sendOpenAiError } from './openai/errors.ts';
import { sendS3Error } from './s3/errors.ts';

export function createS3Server(): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    // The S3 operations arrive with the storage bridge; until then nothing pretends to succeed.
    req.resume();
    sendS3Error(res, {
      code: 'NotImplemented',
      message: 'This S3 operation is not implemented by this Skybridge bridge yet',
      resource: (req.url ?? '/').split('?')[0] ?? '/',
      requestId: randomUUID(),
    });
  });
}

export function createOpenAiServer(ops: OpsEndpoints): Server {
  return createServer((req, res) => {
    if (ops.handle(req, res)) return;
    req.resume();
    if (!(req.url ?? '').startsWith('/v1/')) {
      sendOpenAiError(res, 404, {
        message: `Unknown path ${req.url}`,
        type: 'invalid_request_error',
        code: 'not_found',
      });
      return;
    }
    sendOpenAiError(res, 501, {
      message: 'The AI gateway is not implemented by this Skybridge bridge yet',
      type: 'server_error',
      code: 'not_implemented',
    });
  });
}
