/**
 * The OpenAI-compatible listener (`/v1`): repo AI key → route → handler,
 * every failure answered as an OpenAI error, every request with a known key
 * metered. The bridge's ops endpoints (/healthz, /readyz, /metrics) live on
 * this port, because on the S3 port (../s3/server.ts) every path is a
 * possible bucket name.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { AiKeyResolver, ResolvedAiKey } from '../../core/keys/ai-key-resolver.ts';
import type { Logger } from '../../core/logging.ts';
import { meterHttpExchange } from '../../core/metering/http-exchange-meter.ts';
import type { UsageRecorder } from '../../core/metering/usage-recorder.ts';
import type { OpsEndpoints } from '../../core/observability/ops-endpoints.ts';
import { describeSpan, withServerSpan } from '../../core/observability/tracing.ts';
import { answerChat, parseChatRequest, sendJson } from './chat-completions.ts';
import { type AiRequestRecord, aiUsageEvent, type ChatEngine, tokenUsageOf } from './chat-engine.ts';
import { answerEmbeddings } from './embeddings.ts';
import { GatewayError, gatewayErrorOf, invalidApiKey, invalidRequest, sendOpenAiError } from './errors.ts';
import type { GatewayCall } from './gateway-call.ts';
import { createAiMetrics } from './metrics.ts';

export interface OpenAiGatewayDependencies {
  ops?: OpsEndpoints;
  keys: AiKeyResolver;
  engine: ChatEngine;
  log: Logger;
  metrics?: Registry;
  usage?: UsageRecorder;
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** What a request turned out to be, filled in as it is handled, for metering. */
interface Resolved extends AiRequestRecord {
  key?: ResolvedAiKey;
}

export function createOpenAiServer(deps: OpenAiGatewayDependencies): Server {
  const metrics = deps.metrics && createAiMetrics(deps.metrics);
  return createServer((req, res) => {
    if (deps.ops?.handle(req, res)) return;
    const startedAt = performance.now();
    const resolved: Resolved = { operation: 'Unknown' };
    const { usage } = deps;
    if (usage || metrics)
      meterHttpExchange(res, (measured) => {
        if (!resolved.key) return;
        const event = aiUsageEvent(resolved.key, resolved, measured);
        usage?.record(event);
        metrics?.countTokens(event);
      });
    void withServerSpan(req.headers, (span) =>
      handle(req, res, deps, resolved)
        .catch((error: unknown) => answerError(res, error, deps.log))
        .finally(() => {
          const repositoryId = resolved.key?.repositoryId;
          const seconds = (performance.now() - startedAt) / 1000;
          metrics?.observe(repositoryId, resolved.operation, res.statusCode, seconds);
          describeSpan(span, `AI ${resolved.operation}`, repositoryId, res.statusCode);
        }),
    );
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  deps: OpenAiGatewayDependencies,
  resolved: Resolved,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const route = routeOf(req.method ?? 'GET', path);
  resolved.operation = route.operation;
  if (route.operation === 'Unknown') {
    req.resume();
    throw new GatewayError(404, {
      message: `Unknown request URL: ${req.method} ${path}`,
      type: 'invalid_request_error',
      code: 'unknown_url',
    });
  }
  const key = await authenticate(req, deps.keys);
  resolved.key = key;
  resolved.conversationId = headerOf(req, 'x-skybridge-conversation-id');
  const call = await deps.engine.open(key, req, res);
  resolved.guard = call.guard;
  if (route.operation === 'ListModels') return listModels(call);
  if (route.operation === 'RetrieveModel')
    return retrieveModel(call, decodeURIComponent(route.modelId ?? ''));
  const json = await readJsonBody(req, deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  await deps.engine.withinLimits(
    key,
    () => answer(call, route.operation, json, resolved),
    () => tokenUsageOf(resolved),
  );
}

async function answer(
  call: GatewayCall,
  operation: string,
  json: unknown,
  resolved: Resolved,
): Promise<void> {
  if (operation === 'ChatCompletions') {
    const body = parseChatRequest(json);
    resolved.model = body.model;
    resolved.chat = { attempts: [] };
    await answerChat(call, body, resolved.chat);
    return;
  }
  resolved.embeddings = { attempts: [] };
  await answerEmbeddings(call, json, resolved.embeddings);
}

function routeOf(method: string, path: string): { operation: string; modelId?: string } {
  if (method === 'GET' && path === '/v1/models') return { operation: 'ListModels' };
  if (method === 'GET' && path.startsWith('/v1/models/'))
    return { operation: 'RetrieveModel', modelId: path.slice('/v1/models/'.length) };
  if (method === 'POST' && path === '/v1/chat/completions') return { operation: 'ChatCompletions' };
  if (method === 'POST' && path === '/v1/embeddings') return { operation: 'Embeddings' };
  return { operation: 'Unknown' };
}

const headerOf = (req: IncomingMessage, name: string) => {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value.slice(0, 200) : undefined;
};

/** A storage key's access key id: 20 upper-case letters and digits, as AWS's. */
const looksLikeStorageKey = (token: string) => /^[A-Z0-9]{16,128}$/.test(token);

async function authenticate(req: IncomingMessage, keys: AiKeyResolver): Promise<ResolvedAiKey> {
  const header = req.headers.authorization ?? '';
  const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  if (!token) {
    req.resume();
    throw invalidApiKey(
      "You didn't provide an API key. Send a repository AI key as `Authorization: Bearer <key>`.",
    );
  }
  const key = await keys.resolve(token);
  if (!key) {
    req.resume();
    throw invalidApiKey(
      looksLikeStorageKey(token)
        ? 'This is a storage key: it works on the S3 endpoint only. Use a repository AI key here.'
        : 'Incorrect API key provided. Use a repository AI key (sbk_…).',
    );
  }
  if (key.revoked || (key.expiresAt && key.expiresAt <= new Date())) {
    req.resume();
    throw invalidApiKey(key.revoked ? 'This API key has been revoked.' : 'This API key has expired.');
  }
  return key;
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw invalidRequest(
      'We could not parse the JSON body of your request. The body must be valid JSON.',
      null,
      'invalid_json',
    );
  }
}

const tooLarge = (limit: number) =>
  new GatewayError(413, {
    message: `The request body is larger than ${limit / 1024 / 1024} MiB`,
    type: 'invalid_request_error',
    code: 'request_too_large',
  });

async function listModels(call: GatewayCall): Promise<void> {
  const models = await call.models.listed(call.principal.repositoryId);
  sendJson(call.res, 200, {
    object: 'list',
    data: models.map((model) => ({ id: model.id, object: 'model', created: 0, owned_by: model.ownedBy })),
  });
}

async function retrieveModel(call: GatewayCall, modelId: string): Promise<void> {
  const model = (await call.models.listed(call.principal.repositoryId)).find(
    (listed) => listed.id === modelId,
  );
  if (!model) {
    throw new GatewayError(404, {
      message: `The model \`${modelId}\` does not exist or you do not have access to it.`,
      type: 'invalid_request_error',
      param: 'model',
      code: 'model_not_found',
    });
  }
  sendJson(call.res, 200, { id: model.id, object: 'model', created: 0, owned_by: model.ownedBy });
}

function answerError(res: ServerResponse, error: unknown, log: Logger): void {
  const failure = gatewayErrorOf(error);
  if (failure.status >= 500 && !(error instanceof GatewayError))
    log.error({ err: error }, 'ai request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  if (failure.retryAfterSeconds !== undefined)
    headers['retry-after'] = String(Math.ceil(failure.retryAfterSeconds));
  if (failure.doNotRetry) headers['x-should-retry'] = 'false';
  sendOpenAiError(res, failure.status, failure.body, headers);
}
