/** The control-plane HTTP application, built from its dependencies so tests can assemble it too. */

import { randomUUID } from 'node:crypto';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Registry } from 'prom-client';
import type { ChatEngine } from '../bridge/openai/chat-engine.ts';
import type { TokenSigner } from '../core/auth/tokens.ts';
import type { EntityManager } from '../core/db/orm.ts';
import type { Logger } from '../core/logging.ts';
import type { UsageRecorder } from '../core/metering/usage-recorder.ts';
import type { OutboundPolicy } from '../core/net/outbound-guard.ts';
import { createHttpRequestHistogram } from '../core/observability/metrics.ts';
import type { OpsEndpoints } from '../core/observability/ops-endpoints.ts';
import { withServerSpan } from '../core/observability/tracing.ts';
import type { MasterKeyring } from '../core/secrets/keyring.ts';
import { notFoundHandler, problemErrorHandler } from './middleware/problem.ts';
import { aiConfigRoutes } from './routes/ai-configs.ts';
import { aiPolicyRoutes } from './routes/ai-policies.ts';
import { auditRoutes } from './routes/audit.ts';
import { authRoutes } from './routes/auth.ts';
import { bucketRoutes } from './routes/buckets.ts';
import { conversationRoutes } from './routes/conversations.ts';
import { creditRoutes } from './routes/credits.ts';
import { groupRoutes } from './routes/groups.ts';
import { jobRoutes } from './routes/jobs.ts';
import { keyRotationRoutes } from './routes/key-rotation.ts';
import { migrationRoutes } from './routes/migrations.ts';
import { organizationRoutes } from './routes/organization.ts';
import { rebalanceRoutes } from './routes/rebalance.ts';
import { aiKeyRoutes, storageKeyRoutes } from './routes/repo-keys.ts';
import { repositoryRoutes } from './routes/repositories.ts';
import { slaRoutes } from './routes/slas.ts';
import { statsRoutes } from './routes/stats.ts';
import { virtualBucketRoutes } from './routes/virtual-buckets.ts';
import { mountRoutes } from './routing/mount.ts';
import { buildOpenApiDocument } from './routing/openapi.ts';
import type { AnyRoute } from './routing/route.ts';

export interface ApiDependencies {
  em: EntityManager;
  temporal: Client;
  taskQueue: string;
  tokens: TokenSigner;
  signupMode: 'open' | 'invite' | 'closed';
  keyring: MasterKeyring;
  outboundPolicy: OutboundPolicy;
  log: Logger;
  metrics: Registry;
  ops: OpsEndpoints;
  /** The AI gateway's engine, for conversations. */
  chat: ChatEngine;
  usage?: UsageRecorder;
}

const REQUEST_ID_PATTERN = /^[\w.-]{1,128}$/;
export const MAX_JSON_BODY = '1mb';

/** The whole route table: what is mounted, documented and tested. */
export function apiRoutes(deps: ApiDependencies): AnyRoute[] {
  return [
    ...authRoutes({ tokens: deps.tokens, signupMode: deps.signupMode }),
    ...organizationRoutes(),
    ...groupRoutes(),
    // Before jobRoutes: GET /jobs/rebalance must not be taken for GET /jobs/:jobId.
    ...rebalanceRoutes(deps),
    // Before jobRoutes: `/jobs/migrations` is not a job id.
    ...migrationRoutes(deps),
    ...jobRoutes({ temporal: deps.temporal, taskQueue: deps.taskQueue }),
    // Before bucketRoutes and repositoryRoutes: `stats` in /bucket/stats and /repo/stats is not an id.
    ...statsRoutes(),
    ...bucketRoutes(deps),
    ...slaRoutes(),
    ...repositoryRoutes(),
    ...virtualBucketRoutes(),
    ...storageKeyRoutes(deps),
    ...aiKeyRoutes(),
    ...keyRotationRoutes(deps),
    ...aiConfigRoutes(deps),
    ...aiPolicyRoutes(deps),
    ...creditRoutes(deps),
    ...conversationRoutes(deps),
    ...auditRoutes(),
  ];
}

export function createApiApp(deps: ApiDependencies): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use((req, res, next) => (deps.ops.handle(req, res) ? undefined : next()));
  app.use(
    pinoHttp({
      logger: deps.log,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id =
          typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
    }),
  );
  app.use(traceRequests());
  app.use(recordLatency(deps.metrics));
  app.use(express.json({ limit: MAX_JSON_BODY }));

  const routes = apiRoutes(deps);
  const openApi = buildOpenApiDocument(routes, { title: 'Skybridge API', version: '0.1.0' });
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  const router = express.Router();
  mountRoutes(router, routes, { em: deps.em, tokens: deps.tokens });
  app.use(router);

  app.use(notFoundHandler);
  app.use(problemErrorHandler);
  return app;
}

/** The route template that answered (never the raw path: unbounded as a label, and it may hold ids). */
const routeTemplate = (req: express.Request) =>
  req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';

function recordLatency(registry: Registry): express.RequestHandler {
  const histogram = createHttpRequestHistogram(registry);
  return (req, res, next) => {
    const end = histogram.startTimer({ method: req.method });
    res.on('finish', () => {
      end({ route: routeTemplate(req), status: String(res.statusCode) });
    });
    next();
  };
}

/** A server span per request, continuing the caller's trace; the rest of the request runs inside it. */
function traceRequests(): express.RequestHandler {
  return (req, res, next) => {
    void withServerSpan(
      req.headers,
      (span) =>
        new Promise<void>((resolve) => {
          res.once('close', () => {
            const route = routeTemplate(req);
            span.updateName(`${req.method} ${route}`);
            span.setAttributes({
              'http.request.method': req.method,
              'http.route': route,
              'http.response.status_code': res.statusCode,
            });
            if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
            resolve();
          });
          next();
        }),
    );
  };
}
