import { pino, type Logger } from 'pino';

/** Paths redacted from every log line: keys and credentials never reach the logs. */
export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.headers["api-key"]',
  '*.headers["x-api-key"]',
  'apiKey',
  '*.apiKey',
  'masterKey',
  '*.masterKey',
  'secretAccessKey',
  '*.secretAccessKey',
  'key',
  '*.key',
  'token',
  '*.token',
  'secret',
  '*.secret',
];

/** Options of the process logger. */
export interface LoggerOptions {
  level: string;
  /** Where lines go; default stdout. */
  destination?: NodeJS.WritableStream;
}

/** Structured JSON logs (pino), one line per event, secrets redacted. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'switchyard' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stdout,
  );
}

export type { Logger };
