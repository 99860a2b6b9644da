/**
 * Local stand-ins for the cloud storage providers, used by the tests and by
 * anyone trying Skybridge without cloud accounts: MinIO (S3), fake-gcs-server
 * (GCS) and Azurite (Azure Blob).
 */
import path from 'node:path';
import { type ChildService, httpOk, startChildService } from './child-service.ts';

export interface RunningEmulator {
  service: ChildService;
  endpoint: string;
  stop(): Promise<void>;
}

export interface MinioEmulator extends RunningEmulator {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface AzuriteEmulator extends RunningEmulator {
  accountName: string;
  accountKey: string;
  connectionString: string;
}

interface EmulatorOptions {
  binary: string;
  port: number;
  dataDir: string;
  logFile: string;
}

export async function startMinio(options: EmulatorOptions & { consolePort: number }): Promise<MinioEmulator> {
  const endpoint = `http://127.0.0.1:${options.port}`;
  const credentials = { accessKeyId: 'skybridge-test', secretAccessKey: 'skybridge-test-secret' };
  const service = await startChildService({
    name: 'minio',
    command: options.binary,
    args: [
      'server',
      options.dataDir,
      '--address',
      `127.0.0.1:${options.port}`,
      '--console-address',
      `127.0.0.1:${options.consolePort}`,
      '--quiet',
    ],
    env: {
      ...process.env,
      MINIO_ROOT_USER: credentials.accessKeyId,
      MINIO_ROOT_PASSWORD: credentials.secretAccessKey,
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
    },
    logFile: options.logFile,
    isReady: () => httpOk(`${endpoint}/minio/health/ready`),
    readyTimeoutMs: 60_000,
  });
  return { service, endpoint, ...credentials, stop: () => service.stop() };
}

export async function startFakeGcsServer(options: EmulatorOptions): Promise<RunningEmulator> {
  const endpoint = `http://127.0.0.1:${options.port}`;
  const service = await startChildService({
    name: 'fake-gcs-server',
    command: options.binary,
    args: [
      '-scheme',
      'http',
      '-host',
      '127.0.0.1',
      '-port',
      String(options.port),
      '-public-host',
      `127.0.0.1:${options.port}`,
      '-external-url',
      endpoint,
      '-backend',
      'filesystem',
      '-filesystem-root',
      options.dataDir,
      '-log-level',
      'warn',
    ],
    logFile: options.logFile,
    isReady: () => httpOk(`${endpoint}/storage/v1/b?project=skybridge-test`),
    readyTimeoutMs: 60_000,
  });
  return { service, endpoint, stop: () => service.stop() };
}

/** Azurite's documented development account. */
const AZURITE_ACCOUNT = {
  accountName: 'devstoreaccount1',
  accountKey: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

export async function startAzurite(
  options: Omit<EmulatorOptions, 'binary'> & { projectRoot: string },
): Promise<AzuriteEmulator> {
  const endpoint = `http://127.0.0.1:${options.port}/${AZURITE_ACCOUNT.accountName}`;
  const service = await startChildService({
    name: 'azurite',
    command: process.execPath,
    args: [
      path.join(options.projectRoot, 'node_modules/azurite/dist/src/blob/main.js'),
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(options.port),
      '--location',
      options.dataDir,
      '--silent',
      '--skipApiVersionCheck',
      '--loose',
    ],
    logFile: options.logFile,
    // Any HTTP answer means it listens; an anonymous request gets an auth error.
    isReady: async () =>
      (await fetch(`${endpoint}?comp=list`, { signal: AbortSignal.timeout(2_000) })).status > 0,
    readyTimeoutMs: 60_000,
  });
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT.accountName};` +
    `AccountKey=${AZURITE_ACCOUNT.accountKey};BlobEndpoint=${endpoint};`;
  return { service, endpoint, ...AZURITE_ACCOUNT, connectionString, stop: () => service.stop() };
}
