import { type DestinationStream, type Logger, pino } from 'pino';

/**
 * Paths redacted from log lines that carry objects from outside Switchyard (errors, headers,
 * config parts): keys and credentials never reach the logs.
 */
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
  /** Where lines go; default stdout through an asynchronous buffered writer. */
  destination?: NodeJS.WritableStream;
}

/**
 * Structured JSON logs (pino), one line per event, secrets redacted. By default lines go to
 * stdout through sonic-boom in asynchronous mode: a line is a string append, and the buffer is
 * written with `fs.write` (libuv's thread pool) instead of one `fs.writeSync` per line on the
 * event loop (7% of the gateway's busy time at 20 connections with info logs); lines are
 * gathered into writes of 4 KiB or every 100 ms, whichever comes first. What is buffered is written
 * synchronously when the process exits, so a last line before a crash is not lost.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination: DestinationStream = options.destination ?? stdoutAsync();
  return pino(
    {
      level: options.level,
      base: { service: 'switchyard' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: isoTime,
    },
    destination,
  );
}

let second = -1;
let secondPrefix = '';

/**
 * pino's `isoTime` (`,"time":"2026-12-05T23:20:15.123Z"`) without a Date and `toISOString()` per
 * line: the text up to the second is made once per second, and each line appends its
 * milliseconds (about 1 µs of every request's line).
 */
export function isoTime(now = Date.now()): string {
  const ms = now % 1000;
  const at = now - ms;
  if (at !== second) {
    second = at;
    secondPrefix = `,"time":"${new Date(at).toISOString().slice(0, 20)}`;
  }
  return `${secondPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
}

/**
 * A child of `logger` for lines whose fields Switchyard builds itself from values that cannot
 * hold a secret (the per-request line: ids, method, path without its query, status, timing).
 * It skips the redaction walk, which cost about 11 µs per line with the wildcard paths.
 */
export function plainLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: [] } });
}

let stdoutBoom: DestinationStream | undefined;

/**
 * One asynchronous stdout writer per process. pino registers it for a synchronous flush when
 * the process exits (its `autoEnd`), which test/telemetry/logger.test.ts checks with a child
 * that exits in the same tick as it logs.
 */
function stdoutAsync(): DestinationStream {
  if (stdoutBoom) return stdoutBoom;
  // Lines gather until 4 KiB are buffered, and at most FLUSH_INTERVAL_MS pass before they are
  // written: each `fs.write` is a job for libuv's thread pool (a thread woken, a context switch),
  // and with one job per request line that cost more CPU than the gateway's own request path
  // (profile at 20 connections: 9% of the main thread in `writeString`, 0.6 ms per request on
  // other threads). A quiet process's lines are late by at most the interval.
  const boom = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => {
    try {
      boom.flush();
    } catch {
      // Destroyed at exit: nothing left to write.
    }
  }, FLUSH_INTERVAL_MS).unref();
  stdoutBoom = boom;
  return boom;
}

/** Longest time a buffered log line waits for its write, ms. */
const FLUSH_INTERVAL_MS = 100;

export type { Logger };
