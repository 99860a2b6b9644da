/** What the global set-up hands each test file (through vitest's provide/inject). */
export interface HarnessServices {
  rootDir: string;
  postgres: { adminUrl: string };
  temporal: { address: string; namespace: string };
  minio: { endpoint: string; accessKeyId: string; secretAccessKey: string };
  gcs: { endpoint: string };
  azurite: { endpoint: string; connectionString: string };
  workflowBundlePath: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: HarnessServices;
  }
}
