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
 * stdout asynchronously: a line is an array push, and the lines are written with `fs.write`
 * (libuv's thread pool) instead of one `fs.writeSync` per line on the event loop (7% of the
 * gateway's busy time at 20 connections with info logs); they are gathered into writes of 16 KiB
 * or every 100 ms, whichever comes first. What is gathered is written synchronously when the
 * process exits, so a last line before a crash is not lost.
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

let stdout: LineBatcher | undefined;

/**
 * One asynchronous stdout writer per process: lines are gathered in an array and handed to
 * sonic-boom (which does the writing: partial writes, EAGAIN, EPIPE, the synchronous flush at
 * exit) as one string of {@link BATCH_CHARS} or more, or every {@link FLUSH_INTERVAL_MS}.
 *
 * Each `fs.write` is a job for libuv's thread pool (a thread woken, a context switch), so lines
 * are written in batches. sonic-boom can batch by itself (`minLength`), but it appends each line
 * to one growing string and measures that string's UTF-8 length on every write, which flattens
 * it: a request line cost 3.8–4.4 µs of process CPU that way with 4 KiB batches, and 2.3 µs
 * gathered here and handed over 16 KiB at a time (`npx tsx bench/log-lines.ts`, 2026-12-05).
 * A quiet process's lines are late by at most the interval; the exit handler hands over what is
 * gathered before pino's own exit flush of the writer runs, which
 * test/telemetry/logger.test.ts checks with a child that exits in the same tick as it logs.
 */
function stdoutAsync(): DestinationStream {
  if (stdout) return stdout;
  // Registered before the writer exists, so it runs before pino's exit flush of the writer.
  process.once('exit', () => stdout?.flushSync());
  const batcher = new LineBatcher(pino.destination({ dest: 1, sync: false }));
  setInterval(() => batcher.hand(), FLUSH_INTERVAL_MS).unref();
  stdout = batcher;
  return batcher;
}

/** Lines gathered before they are handed to the writer, in UTF-16 characters. */
const BATCH_CHARS = 16 * 1024;

/** Longest time a buffered log line waits for its write, ms. */
const FLUSH_INTERVAL_MS = 100;

type Writer = ReturnType<typeof pino.destination>;

/** Gathers lines and hands them to `writer` in batches (see {@link stdoutAsync}). */
export class LineBatcher {
  #lines: string[] = [];
  #size = 0;

  constructor(
    private readonly writer: Writer,
    private readonly batch = BATCH_CHARS,
  ) {}

  write(line: string): boolean {
    this.#lines.push(line);
    this.#size += line.length;
    if (this.#size >= this.batch) this.hand();
    return true;
  }

  /** Hands what is gathered to the writer, which writes it at once unless a write is running. */
  hand(): void {
    if (this.#lines.length === 0) return;
    const lines = this.#lines;
    this.#lines = [];
    this.#size = 0;
    try {
      this.writer.write(lines.length === 1 ? lines[0]! : lines.join(''));
    } catch {
      // The writer is destroyed (the process is exiting, or stdout was closed): nowhere to write.
    }
  }

  flush(): void {
    this.hand();
  }

  /** Writes everything gathered, synchronously (at exit). */
  flushSync(): void {
    this.hand();
    try {
      this.writer.flushSync();
    } catch {
      // Destroyed, or not ready: nothing more can be written.
    }
  }
}

export type { Logger };
