/**
 * The Temporal CLI's dev server: a single-process Temporal with its Web UI,
 * persisted to one SQLite file, with Skybridge's search attributes registered.
 */
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { searchAttributes } from '../../workflows/definitions.ts';
import { type ChildService, startChildService } from './child-service.ts';

export interface RunningTemporal {
  service: ChildService;
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
}

export async function startTemporalDevServer(options: {
  temporalBinary: string;
  port: number;
  uiPort?: number;
  dbFile: string;
  namespace: string;
  logFile: string;
}): Promise<RunningTemporal> {
  const address = `127.0.0.1:${options.port}`;
  const searchAttributeFlags = Object.values(searchAttributes).flatMap((key) => [
    '--search-attribute',
    `${key.name}=${key.type === SearchAttributeType.KEYWORD_LIST ? 'KeywordList' : 'Keyword'}`,
  ]);
  const uiFlags = options.uiPort ? ['--ui-port', String(options.uiPort)] : ['--headless'];
  const service = await startChildService({
    name: 'temporal',
    command: options.temporalBinary,
    args: [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(options.port),
      '--db-filename',
      options.dbFile,
      '--namespace',
      options.namespace,
      '--log-level',
      'warn',
      ...uiFlags,
      ...searchAttributeFlags,
    ],
    logFile: options.logFile,
    isReady: () => namespaceAnswers(address, options.namespace),
    readyTimeoutMs: 120_000,
    stopSignal: 'SIGTERM',
  });
  return {
    service,
    address,
    uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
    stop: () => service.stop(),
  };
}

async function namespaceAnswers(address: string, namespace: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } finally {
    await connection.close();
  }
}
