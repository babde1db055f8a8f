/**
 * Keeps an outage from flooding the log: at most one line per key per interval. The next line
 * let through for a key says how many were held back (`suppressed`), so counts are not lost.
 */
export interface LogLimiter {
  /** Calls `write(suppressed)` when `key` may log now; otherwise counts the line as suppressed. */
  run(key: string, write: (suppressed: number) => void): void;
}

/** Default interval between two lines of one key, ms. */
export const DEFAULT_LOG_INTERVAL_MS = 10_000;

/** Creates a limiter; `now` is injectable for tests. Keys are bounded by the caller (deployments, faults). */
export function createLogLimiter(
  intervalMs = DEFAULT_LOG_INTERVAL_MS,
  now: () => number = Date.now,
): LogLimiter {
  const last = new Map<string, { at: number; suppressed: number }>();
  return {
    run(key, write) {
      const time = now();
      const entry = last.get(key);
      if (entry && time - entry.at < intervalMs) {
        entry.suppressed += 1;
        return;
      }
      const suppressed = entry?.suppressed ?? 0;
      last.set(key, { at: time, suppressed: 0 });
      write(suppressed);
    },
  };
}
