/**
 * The one place that reads the environment. Every process validates it at
 * start and fails with one message naming each missing or malformed variable.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const portMessage = { error: 'must be a port number between 1 and 65535' };
const port = z.coerce.number(portMessage).int(portMessage).min(1, portMessage).max(65535, portMessage);
const positiveInt = z.coerce
  .number({ error: 'must be a positive whole number' })
  .int({ error: 'must be a positive whole number' })
  .positive({ error: 'must be a positive whole number' });
const nonEmpty = z.string().trim().min(1);
/** A part of a bridge node's `<api>-<region>-<provider>` label. */
const labelPart = z
  .string()
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lowercase letters, digits and hyphens');
const MAX_BRIDGE_PROCESSES = 64;
/** `auto`: one per CPU the process may use. */
const processCount = z
  .union([
    z.literal('auto'),
    positiveInt.max(MAX_BRIDGE_PROCESSES, { error: `must be at most ${MAX_BRIDGE_PROCESSES}` }),
  ])
  .transform((value) => (value === 'auto' ? Math.min(availableParallelism(), MAX_BRIDGE_PROCESSES) : value));
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LISTEN_HOST: nonEmpty.default('127.0.0.1'),
  SKYBRIDGE_DATA_DIR: nonEmpty.default('.data'),

  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' })
    .optional(),
  EMBEDDED_POSTGRES_PORT: port.default(5433),

  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, e.g. localhost:7233')
    .optional(),
  TEMPORAL_NAMESPACE: nonEmpty.default('default'),
  TEMPORAL_API_KEY: nonEmpty.optional(),
  TEMPORAL_TLS: z.stringbool().optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: nonEmpty.optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: nonEmpty.optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: nonEmpty.optional(),
  TEMPORAL_TLS_SERVER_NAME: nonEmpty.optional(),
  TEMPORAL_CONFIG_FILE: nonEmpty.optional(),
  TEMPORAL_PROFILE: nonEmpty.optional(),
  TEMPORAL_TASK_QUEUE: nonEmpty.default('skybridge'),
  TEMPORAL_DEV_SERVER_PORT: port.default(7233),
  TEMPORAL_DEV_UI_PORT: port.default(8233),

  API_PORT: port.default(8080),
  BRIDGE_S3_PORT: port.default(9000),
  BRIDGE_OPENAI_PORT: port.default(9100),
  BRIDGE_S3_VIRTUAL_HOST_SUFFIX: z
    .string()
    .regex(/^[a-z0-9.-]+$/, 'must be a host name such as s3.example.com')
    .optional(),
  BRIDGE_PROCESSES: processCount.default(1),
  BRIDGE_NODE_REGION: labelPart.default('local'),
  BRIDGE_NODE_PROVIDER: labelPart.default('self'),
  BRIDGE_PUBLIC_S3_URL: httpUrl.optional(),
  BRIDGE_PUBLIC_OPENAI_URL: httpUrl.optional(),
  BRIDGE_NODE_HEARTBEAT_SECONDS: positiveInt.default(15),
  WORKER_METRICS_PORT: port.default(9464),
  WORKFLOW_BUNDLE_PATH: nonEmpty.optional(),
  USAGE_ROLLUP_INTERVAL_SECONDS: positiveInt.default(60),
  USAGE_RAW_RETENTION_DAYS: positiveInt.default(7),
  USAGE_MINUTE_RETENTION_DAYS: positiveInt.default(30),
  NODE_PROBE_INTERVAL_SECONDS: positiveInt.default(60),
  NODE_PROBE_TIMEOUT_MS: positiveInt.default(5000),
  NODE_PROBE_RETENTION_DAYS: positiveInt.default(14),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),

  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_TTL_SECONDS: positiveInt.default(43_200),
  BOOTSTRAP_ADMIN_EMAIL: z.email().default('admin@skybridge.local'),
  SIGNUP_MODE: z.enum(['open', 'invite', 'closed']).optional(),

  SKYBRIDGE_MASTER_KEYS: nonEmpty.optional(),
  SKYBRIDGE_MASTER_KEY_FILE: nonEmpty.optional(),
  OUTBOUND_ALLOW_LOOPBACK: z.stringbool().default(false),
  OUTBOUND_ALLOW_PRIVATE_NETWORKS: z.stringbool().default(false),

  DEMO_OPENAI_BASE_URL: z.url().optional(),
  DEMO_OPENAI_API_KEY: nonEmpty.optional(),
  DEMO_OPENAI_MODEL: nonEmpty.optional(),
});

type Env = z.infer<typeof envSchema>;

/** What a process cannot start without; the embedded stack fills these in for `npm start`. */
export type Requirement = 'database' | 'temporal' | 'jwt' | 'masterKeys';

const requirementVariables: Record<Requirement, { variable: keyof Env; hint: string }> = {
  database: {
    variable: 'DATABASE_URL',
    hint: 'is required when this component runs on its own (e.g. postgres://user:pass@host:5432/skybridge); `npm start` provides an embedded PostgreSQL',
  },
  temporal: {
    variable: 'TEMPORAL_ADDRESS',
    hint: 'is required when this component runs on its own (e.g. localhost:7233 or <ns>.<account>.tmprl.cloud:7233); `npm start` provides a Temporal dev server',
  },
  masterKeys: {
    variable: 'SKYBRIDGE_MASTER_KEYS',
    hint: 'or SKYBRIDGE_MASTER_KEY_FILE is required when this component runs on its own: the master keys that seal stored credentials (`id:base64key`, active first; a key is `openssl rand -base64 32`)',
  },
  jwt: {
    variable: 'JWT_SECRET',
    hint: 'is required when this component runs on its own (at least 32 random characters, e.g. `openssl rand -hex 32`)',
  },
};

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly variables: string[];
  constructor(problems: { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.variables = problems.map((p) => p.variable);
  }
}

export type Config = ReturnType<typeof buildConfig>;

/**
 * Validates the environment. Values are never echoed back in errors: some are secrets.
 */
export function loadConfig(requirements: Requirement[] = [], env: NodeJS.ProcessEnv = process.env): Config {
  const present = withoutBlankValues(env);
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({ variable: String(issue.path[0]), message: issue.message }));
  for (const requirement of requirements) {
    const { variable, hint } = requirementVariables[requirement];
    const satisfied =
      present[variable] !== undefined || (requirement === 'masterKeys' && present.SKYBRIDGE_MASTER_KEY_FILE);
    if (!satisfied) problems.push({ variable, message: hint });
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  return buildConfig(parsed.data, env);
}

function withoutBlankValues(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '',
    ),
  );
}

function buildConfig(env: Env, rawEnv: NodeJS.ProcessEnv) {
  const dataDir = path.resolve(env.SKYBRIDGE_DATA_DIR);
  return {
    env: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    listenHost: env.LISTEN_HOST,
    dataDir,
    database: {
      url: env.DATABASE_URL,
      embeddedPort: env.EMBEDDED_POSTGRES_PORT,
      embeddedDataDir: path.join(dataDir, 'postgres'),
    },
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      devServerPort: env.TEMPORAL_DEV_SERVER_PORT,
      devUiPort: env.TEMPORAL_DEV_UI_PORT,
      devDbFile: path.join(dataDir, 'temporal.db'),
      /** The TEMPORAL_* variables as `@temporalio/envconfig` expects them. */
      envconfigVariables: temporalEnvconfigVariables(rawEnv),
    },
    secrets: { masterKeys: env.SKYBRIDGE_MASTER_KEYS, masterKeyFile: env.SKYBRIDGE_MASTER_KEY_FILE },
    /** Which addresses user-supplied endpoints (S3-compatible buckets, AI base URLs, webhooks) may reach. */
    outbound: {
      allowLoopback: env.OUTBOUND_ALLOW_LOOPBACK,
      allowPrivateNetworks: env.OUTBOUND_ALLOW_PRIVATE_NETWORKS,
    },
    api: { port: env.API_PORT },
    bridge: {
      s3Port: env.BRIDGE_S3_PORT,
      openaiPort: env.BRIDGE_OPENAI_PORT,
      s3VirtualHostSuffix: env.BRIDGE_S3_VIRTUAL_HOST_SUFFIX,
      /** Processes serving the listeners together (bridge/processes.ts). */
      processes: env.BRIDGE_PROCESSES,
    },
    /** JOB-5: how a bridge registers itself as a node; public URLs default to the listen address. */
    bridgeNode: {
      region: env.BRIDGE_NODE_REGION,
      provider: env.BRIDGE_NODE_PROVIDER,
      publicS3Url: env.BRIDGE_PUBLIC_S3_URL,
      publicOpenaiUrl: env.BRIDGE_PUBLIC_OPENAI_URL,
      heartbeatSeconds: env.BRIDGE_NODE_HEARTBEAT_SECONDS,
    },
    worker: { metricsPort: env.WORKER_METRICS_PORT, workflowBundlePath: env.WORKFLOW_BUNDLE_PATH },
    /** JOB-4: how often the worker's schedule rolls usage up, and how long raw events and minute figures are kept. */
    usageRollup: {
      intervalSeconds: env.USAGE_ROLLUP_INTERVAL_SECONDS,
      rawRetentionDays: env.USAGE_RAW_RETENTION_DAYS,
      // Day figures are rebuilt from minute rows: those must outlive the raw events.
      minuteRetentionDays: Math.max(env.USAGE_MINUTE_RETENTION_DAYS, env.USAGE_RAW_RETENTION_DAYS + 1),
    },
    /** JOB-5: how often nodes and buckets are probed, and how long probe results are kept. */
    nodeProbes: {
      intervalSeconds: env.NODE_PROBE_INTERVAL_SECONDS,
      timeoutMs: env.NODE_PROBE_TIMEOUT_MS,
      // SLA compliance looks back 7 days: results must outlive that window.
      retentionDays: Math.max(env.NODE_PROBE_RETENTION_DAYS, 8),
    },
    tracing: { otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT },
    /** `npm run demo`: a real provider for the demo repository, instead of the local echo model. */
    demo: {
      openaiBaseUrl: env.DEMO_OPENAI_BASE_URL,
      openaiApiKey: env.DEMO_OPENAI_API_KEY,
      openaiModel: env.DEMO_OPENAI_MODEL,
    },
    auth: {
      jwtSecret: env.JWT_SECRET,
      jwtTtlSeconds: env.JWT_TTL_SECONDS,
      bootstrapAdminEmail: env.BOOTSTRAP_ADMIN_EMAIL,
      /** Anyone may create an organization (`open`), only invited users may join (`invite`), or nobody (`closed`). */
      signupMode: env.SIGNUP_MODE ?? (env.NODE_ENV === 'production' ? 'invite' : 'open'),
    },
  };
}

const envconfigNames = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_PROFILE',
] as const;

function temporalEnvconfigVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of envconfigNames) {
    const value = env[name];
    if (value) picked[name] = value;
  }
  return picked;
}

/** The environment for a child process of this one, with some variables set or replaced. */
export function childProcessEnv(overrides: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}

/** Every variable this module reads (documented in .env.example). */
export const configVariableNames: readonly string[] = Object.keys(envSchema.shape);

/** Whether the operator set a variable at all (as opposed to it taking its default). */
export function variableIsSet(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return env[name] !== undefined && env[name] !== '';
}
