/**
 * The shared life cycle of Skybridge's processes: validate configuration (one
 * clear message on failure), start, and stop cleanly on SIGINT or SIGTERM.
 */
import { type Config, ConfigError, loadConfig, type Requirement } from './config.ts';
import { createLogger, type Logger } from './logging.ts';
import { startTracing, type Tracing } from './observability/tracing.ts';

export interface Started {
  stop(): Promise<void>;
}

const STOP_TIMEOUT_MS = 15_000;

export async function runProcess(
  component: string,
  requirements: Requirement[],
  start: (config: Config, log: Logger, tracing: Tracing) => Promise<Started>,
): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(requirements);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`skybridge ${component}: ${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  const log = createLogger({ level: config.logLevel, component });
  const tracing = await startTracing(component, config.tracing.otlpEndpoint);
  let started: Started;
  try {
    started = await start(config, log, tracing);
  } catch (error) {
    log.fatal({ err: error }, `${component} failed to start`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${component} stopping`);
    setTimeout(() => {
      log.error(`${component} did not stop within ${STOP_TIMEOUT_MS} ms; exiting`);
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
    started
      .stop()
      .then(() => tracing.shutdown())
      .then(
        () => {
          log.info(`${component} stopped`);
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, `${component} failed to stop cleanly`);
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
