/**
 * The OpenAI-compatible listener (`/v1`). The bridge's ops endpoints
 * (/healthz, /readyz, /metrics) live on this port, because on the S3 port
 * (../s3/server.ts) every path is a possible bucket name.
 */
import { createServer, type Server } from 'node:http';
import type { OpsEndpoints } from '../../core/observability/ops-endpoints.ts';
import { sendOpenAiError } from './errors.ts';

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
