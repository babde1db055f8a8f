/**
 * Store (database) failures that are about the store being away or slow, not about the data:
 * they map to `503 store_unavailable` with `retry-after`, never to a 500. Kept here, free of
 * any store import, so every plane (access, billing, surfaces) can classify an error it caught.
 */

/** How long clients are told to wait after a store outage answer, ms. */
export const STORE_RETRY_AFTER_MS = 1000;

/** A store operation that did not finish within its time limit (ours, not the driver's). */
export class StoreTimeoutError extends Error {
  readonly code = 'STORE_TIMEOUT';
  constructor(what: string, ms: number) {
    super(`store ${what} timed out after ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/** Node socket errors that mean "the server is not there (now)". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'STORE_TIMEOUT',
]);

/** SQLite result codes that mean the file is busy or the disk failed, not that a row is bad. */
const SQLITE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM|INTERRUPT)/;

/** Messages pg and pg-pool use for lost or unobtainable connections (they carry no code). */
const PG_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'timeout expired', // pg Client connect timeout
  'Query read timeout',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
  'connection timeout',
  'Connection ended',
];

/**
 * True when `error` (or its cause) says the store is unreachable, stalled or shedding load:
 * a socket error, a pg connection/timeout failure, Postgres SQLSTATE classes 08 (connection),
 * 53 (insufficient resources), 57 (operator intervention: shutdown, statement timeout), or a
 * busy/failing SQLite file.
 */
export function isStoreUnavailable(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 4) return false;
  if (error instanceof StoreTimeoutError) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    if (/^(08|53|57)[0-9A-Z]{3}$/.test(code)) return true;
    if (SQLITE_CODES.test(code)) return true;
  }
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && PG_MESSAGES.some((text) => message.includes(text)))
    return true;
  return isStoreUnavailable((error as { cause?: unknown }).cause, depth + 1);
}

/**
 * Runs `work` with a time limit: rejects with {@link StoreTimeoutError} after `ms` (the work
 * itself is not cancelled; the pool's own query timeout ends it). `ms <= 0` means no limit.
 */
export function withStoreTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  if (!(ms > 0)) return work;
  // One promise and one reaction, not race + a timeout promise + finally: this wraps every
  // usage commit, so it runs once per request.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreTimeoutError(what, ms)), ms);
    timer.unref?.();
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
