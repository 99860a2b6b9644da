/** Routes the Temporal SDK's own log lines into our JSON logs, so one process writes one format. */
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import type { Logger } from '../core/logging.ts';

const pinoLevel = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

export function temporalSdkLogger(log: Logger): DefaultLogger {
  const sdkLog = log.child({ source: 'temporal-sdk' });
  return new DefaultLogger('INFO', ({ level, message, meta }: LogEntry) => {
    sdkLog[pinoLevel[level]](meta ?? {}, message);
  });
}
