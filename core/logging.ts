/**
 * Structured JSON logs (pino). Fields that carry secrets are redacted wherever
 * they appear, up to a few levels deep, so a careless `log.info({ body })`
 * cannot leak a password or key.
 */
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

export const secretFieldNames = [
  'password',
  'passwordHash',
  'secret',
  'secretAccessKey',
  'sessionToken',
  'apiKey',
  'apiSecret',
  'token',
  'accessToken',
  'refreshToken',
  'privateKey',
  'credentials',
  'connectionString',
  'authorization',
  'cookie',
  'x-api-key',
  'x-amz-security-token',
];

function redactionPaths(): string[] {
  return secretFieldNames.flatMap((name) => {
    const key = /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `["${name}"]`;
    return [key.replace(/^\./, ''), `*${key}`, `*.*${key}`, `*.*.*${key}`];
  });
}

export function createLogger(options: {
  level: string;
  component: string;
  destination?: DestinationStream;
}): Logger {
  return pino(
    {
      level: options.level,
      base: { component: options.component },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactionPaths(), censor: '[REDACTED]' },
    },
    options.destination,
  );
}
