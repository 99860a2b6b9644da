/**
 * `npm run demo` (with `npm start` running): a local MinIO as a real S3
 * backend, registered as a bucket in a demo organization; an AI LLM config
 * (the provider named by DEMO_OPENAI_BASE_URL, or else Skybridge's local echo
 * model, started beside the stack); a repository with both, a READ_WRITE
 * storage key and an AI key, printed as shell exports:
 *
 *   eval "$(npm run -s demo)"
 *   aws s3 cp ./file "s3://$FB_BUCKET/" --endpoint-url "$FB_S3_ENDPOINT"
 *   curl "$FB_OPENAI_BASE_URL/chat/completions" -H "Authorization: Bearer $FB_OPENAI_API_KEY" ...
 *
 * Everything lives under SKYBRIDGE_DATA_DIR/demo; a second run reuses it.
 * `npm start` stops the demo's MinIO and model when it stops.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Config, loadConfig } from '../core/config.ts';
import { httpOk } from './services/child-service.ts';
import { demoModelId } from './services/demo-model.ts';
import { demoDir, demoMinioPidFile, demoModelPidFile } from './services/demo-services.ts';
import { freePort } from './services/free-port.ts';
import { ensureGoTool } from './tools.ts';

interface DemoState {
  minio: { port: number; rootUser: string; rootPassword: string; bucket: string };
  account: { email: string; password: string };
  bucketName?: string;
  bucketId?: string;
  repoId?: string;
  key?: { accessKeyId: string; secretAccessKey: string };
  modelPort?: number;
  aiConfigId?: string;
  aiConfigEndpoint?: string;
  aiKey?: string;
}

/** Where the demo repository's AI config points. */
interface AiProvider {
  type: 'OPENAI' | 'OTHER';
  apiEndpoint: string;
  apiSecret: string;
  model: string;
}

const log = (line: string) => process.stderr.write(`demo: ${line}\n`);

async function main(): Promise<void> {
  const config = loadConfig();
  const api = `http://127.0.0.1:${config.api.port}`;
  if (!(await httpOk(`${api}/readyz`).catch(() => false))) {
    throw new Error(`the API at ${api} is not ready: start the platform with \`npm start\` first`);
  }
  const stateFile = path.join(demoDir(config.dataDir), 'state.json');
  const state = await loadOrCreateState(stateFile);
  await ensureMinio(config, state);
  const token = await signIn(api, state);
  const call = apiCaller(api, token);
  await ensureBucketAndRepository(call, state);
  const provider = await ensureAiProvider(config, state);
  await ensureAiConfig(call, state, provider);
  await writeFile(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
  printExports(config, state, token, provider.model);
}

async function loadOrCreateState(file: string): Promise<DemoState> {
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as DemoState;
  await mkdir(path.dirname(file), { recursive: true });
  return {
    minio: {
      port: await freePort(),
      rootUser: 'demo-admin',
      rootPassword: randomBytes(18).toString('base64url'),
      bucket: 'demo',
    },
    account: { email: 'demo@skybridge.local', password: randomBytes(18).toString('base64url') },
  };
}

/** MinIO from the project's tools, in its own process group so that it outlives this command. */
async function ensureMinio(config: Config, state: DemoState): Promise<void> {
  const endpoint = `http://127.0.0.1:${state.minio.port}`;
  if (await httpOk(`${endpoint}/minio/health/ready`).catch(() => false)) return;
  const binary = await ensureGoTool('minio', log);
  const dir = demoDir(config.dataDir);
  const logFd = openSync(path.join(dir, 'minio.log'), 'a');
  const child = spawn(
    binary,
    ['server', path.join(dir, 'minio-data'), '--address', `127.0.0.1:${state.minio.port}`, '--quiet'],
    {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: {
        ...process.env,
        MINIO_ROOT_USER: state.minio.rootUser,
        MINIO_ROOT_PASSWORD: state.minio.rootPassword,
        MINIO_BROWSER: 'off',
      },
    },
  );
  child.unref();
  await writeFile(demoMinioPidFile(config.dataDir), String(child.pid));
  for (let attempt = 0; attempt < 120; attempt++) {
    if (await httpOk(`${endpoint}/minio/health/ready`).catch(() => false)) break;
    await sleep(250);
  }
  log(`MinIO running at ${endpoint} (data in ${dir})`);
  await createMinioBucket(endpoint, state);
}

/** The bucket at the provider, created with the S3 API as any S3 client would. */
async function createMinioBucket(endpoint: string, state: DemoState): Promise<void> {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: state.minio.rootUser, secretAccessKey: state.minio.rootPassword },
  });
  await client
    .send(new CreateBucketCommand({ Bucket: state.minio.bucket }))
    .catch((error: { name?: string }) => {
      if (error.name !== 'BucketAlreadyOwnedByYou') throw error;
    });
  client.destroy();
}

async function signIn(api: string, state: DemoState): Promise<string> {
  const post = (route: string, body: unknown) =>
    fetch(`${api}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const login = await post('/auth/login', state.account);
  if (login.ok) return ((await login.json()) as { token: string }).token;
  const signup = await post('/auth/signup', { ...state.account, organizationName: 'Skybridge demo' });
  if (!signup.ok)
    throw new Error(`could not create the demo account: ${signup.status} ${await signup.text()}`);
  log(`created the demo account ${state.account.email}`);
  return ((await signup.json()) as { token: string }).token;
}

function apiCaller(api: string, token: string) {
  return async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${api}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    return { status: response.status, body: answer };
  };
}

async function ensureBucketAndRepository(
  call: ReturnType<typeof apiCaller>,
  state: DemoState,
): Promise<void> {
  const existing = state.bucketId ? await call('GET', `/bucket/${state.bucketId}`) : undefined;
  if (existing?.status !== 200) {
    state.bucketName = `demo-${randomBytes(3).toString('hex')}`;
    const created = await call('POST', '/bucket', {
      name: state.bucketName,
      provider: 'S3_COMPATIBLE',
      bucketName: state.minio.bucket,
      endpoint: `http://127.0.0.1:${state.minio.port}`,
      forcePathStyle: true,
      credentials: {
        type: 'ACCESS_KEY',
        accessKeyId: state.minio.rootUser,
        secretAccessKey: state.minio.rootPassword,
      },
    });
    if (created.status !== 201)
      throw new Error(`could not register the bucket: ${JSON.stringify(created.body)}`);
    state.bucketId = created.body.id as string;
    state.repoId = undefined;
  }
  await waitUntilValid(call, state.bucketId!);
  if (!state.repoId || (await call('GET', `/repo/${state.repoId}`)).status !== 200) {
    const repo = await call('POST', '/repo', {
      name: `demo-${randomBytes(3).toString('hex')}`,
      bucketIds: [state.bucketId],
    });
    state.repoId = repo.body.id as string;
    state.key = undefined;
    state.aiKey = undefined;
    state.aiConfigId = undefined;
  }
  if (!state.key) {
    const key = await call('POST', `/repo/${state.repoId}/apikey`, { name: 'demo', scope: 'READ_WRITE' });
    state.key = {
      accessKeyId: key.body.accessKeyId as string,
      secretAccessKey: key.body.secretAccessKey as string,
    };
    log('created a repository and a READ_WRITE storage key');
  }
}

/** The provider given by DEMO_OPENAI_BASE_URL, or the local echo model, started here when it is not running. */
async function ensureAiProvider(config: Config, state: DemoState): Promise<AiProvider> {
  const { openaiBaseUrl, openaiApiKey, openaiModel } = config.demo;
  if (openaiBaseUrl) {
    return {
      type: 'OPENAI',
      apiEndpoint: openaiBaseUrl,
      apiSecret: openaiApiKey ?? 'none',
      model: openaiModel ?? 'gpt-4o-mini',
    };
  }
  state.modelPort ??= await freePort();
  const endpoint = `http://127.0.0.1:${state.modelPort}/v1`;
  if (!(await httpOk(`${endpoint}/models`).catch(() => false))) await startDemoModel(config, state.modelPort);
  return {
    type: 'OTHER',
    apiEndpoint: endpoint,
    apiSecret: 'the-demo-model-takes-no-key',
    model: demoModelId,
  };
}

async function startDemoModel(config: Config, port: number): Promise<void> {
  const script = path.join(import.meta.dirname, 'services', 'demo-model.ts');
  const logFd = openSync(path.join(demoDir(config.dataDir), 'model.log'), 'a');
  const child = spawn(process.execPath, [script, String(port)], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
  });
  child.unref();
  await writeFile(demoModelPidFile(config.dataDir), String(child.pid));
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await httpOk(`http://127.0.0.1:${port}/v1/models`).catch(() => false)) break;
    await sleep(100);
  }
  log(`local demo model (an echo, not an LLM) running at http://127.0.0.1:${port}/v1`);
}

/** An AI config for the provider, validated and attached to the repository, and an AI key. */
async function ensureAiConfig(call: ReturnType<typeof apiCaller>, state: DemoState, provider: AiProvider) {
  const current = state.aiConfigId ? await call('GET', `/ai/llm/${state.aiConfigId}`) : undefined;
  if (current?.status !== 200 || state.aiConfigEndpoint !== provider.apiEndpoint) {
    const created = await call('POST', '/ai/llm', {
      name: `demo-${provider.type === 'OTHER' ? 'echo' : 'openai'}-${randomBytes(3).toString('hex')}`,
      type: provider.type,
      apiEndpoint: provider.apiEndpoint,
      apiSecret: provider.apiSecret,
    });
    if (created.status !== 201)
      throw new Error(`could not register the AI config: ${JSON.stringify(created.body)}`);
    state.aiConfigId = created.body.id as string;
    state.aiConfigEndpoint = provider.apiEndpoint;
  }
  const validated = await call('POST', `/ai/llm/${state.aiConfigId}/validate`);
  if (validated.body.status !== 'VALID')
    throw new Error(`the demo AI config did not validate: ${String(validated.body.reason)}`);
  await call('PUT', `/repo/${state.repoId}/ai/llm/${state.aiConfigId}`);
  if (!state.aiKey) {
    const key = await call('POST', `/repo/${state.repoId}/ai/apikey`, { name: 'demo' });
    state.aiKey = key.body.key as string;
    log('created an AI key for the repository');
  }
}

async function waitUntilValid(call: ReturnType<typeof apiCaller>, bucketId: string): Promise<void> {
  for (let attempt = 0; attempt < 120; attempt++) {
    const bucket = await call('GET', `/bucket/${bucketId}`);
    if (bucket.body.status === 'VALID') return;
    if (bucket.body.status === 'INVALID')
      throw new Error(`the demo bucket did not validate: ${String(bucket.body.statusReason)}`);
    await sleep(250);
  }
  throw new Error('the demo bucket was not validated in time (is the worker running?)');
}

function printExports(config: Config, state: DemoState, token: string, model: string): void {
  const quote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;
  const exports: Record<string, string> = {
    FB_S3_ENDPOINT: `http://127.0.0.1:${config.bridge.s3Port}`,
    FB_KEY_ID: state.key!.accessKeyId,
    FB_KEY_SECRET: state.key!.secretAccessKey,
    FB_REPO_ID: state.repoId!,
    FB_JWT: token,
    FB_BUCKET: state.bucketName!,
    FB_OPENAI_BASE_URL: `http://127.0.0.1:${config.bridge.openaiPort}/v1`,
    FB_OPENAI_API_KEY: state.aiKey!,
    FB_MODEL: model,
    // What the AWS CLI and SDKs read, so `aws s3 ... --endpoint-url "$FB_S3_ENDPOINT"` just works.
    AWS_ACCESS_KEY_ID: state.key!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: state.key!.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    // What the openai SDKs read.
    OPENAI_BASE_URL: `http://127.0.0.1:${config.bridge.openaiPort}/v1`,
    OPENAI_API_KEY: state.aiKey!,
  };
  for (const [name, value] of Object.entries(exports))
    process.stdout.write(`export ${name}=${quote(value)}\n`);
  log(
    `try: aws s3 cp README.md "s3://$FB_BUCKET/" --endpoint-url "$FB_S3_ENDPOINT" && aws s3 ls "s3://$FB_BUCKET/" --endpoint-url "$FB_S3_ENDPOINT"`,
  );
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
