import type { UsageEvent } from '../store/index.js';
import { assertUsageRow } from '../store/billing/rows.js';
import { turnBatcher } from '../core/turns.js';
import type { UsageOutcome } from './post-usage.js';

/**
 * Group commit for usage events. `record()` resolves only once the event's usage row and
 * ledger transaction are committed (so the gateway keeps its promise: nothing is lost once the
 * client got the whole answer), but events recorded in the same turn of the event loop, and
 * those that arrive while a commit is in flight, share one transaction.
 *
 * Why a turn and not "whatever arrives while a commit runs": better-sqlite3 is synchronous, so
 * a SQLite commit started from `record()` finished inside that same macrotask and nothing could
 * ever arrive meanwhile (1.00 events per commit at 20 concurrent requests). The first record of
 * a turn therefore schedules the commit with `setImmediate`: it runs after the poll phase has
 * delivered every upstream answer that was ready, so the synchronous work happens once per
 * batch. While the batch is still growing (the loop is busy: each turn delivers more answers) the
 * commit waits up to `lingerTurns` more turns, so the answers of several turns share it: at 20
 * connections, about 17 events per commit instead of 8, and the commit's fixed cost (about
 * 250 µs of CPU on SQLite, bench/commit-batch.ts) spread over twice the requests. Only while
 * commits are frequent (the last began within 20 ms): a meter that was idle commits in the
 * first turn, as before. No timer adds latency.
 */

/** Options of {@link createMeter}. */
export interface MeterOptions {
  /** Posts a batch in one transaction (see `postUsage`). */
  post: (events: UsageEvent[]) => Promise<UsageOutcome[]>;
  /** Largest batch per transaction. Default 500. */
  maxBatch?: number;
  /** Batches committed at once (Postgres gains from 2; SQLite has one writer). Default 1. */
  concurrency?: number;
  /**
   * Extra loop turns the commit waits while its batch is still growing, when the last commit
   * began less than `BUSY_MS` (core/turns.ts) ago. Default 3. See {@link createMeter}.
   */
  lingerTurns?: number;
  /** Told after each group commit (or failed one): its duration, ms, and how many events it carried. */
  onCommit?: (ms: number, events: number) => void;
}

/** A usage sink that meters through the ledger. */
export interface Meter {
  /**
   * Records `event` and posts it; resolves with the outcome once committed. Rejects when the
   * payload conflicts with an earlier record of the same request id, or the store fails.
   */
  record(event: UsageEvent): Promise<UsageOutcome>;
  /** Resolves when every event recorded so far is committed (or failed). */
  flush(): Promise<void>;
  /** Events waiting or in flight. */
  readonly pending: number;
}

interface Waiter {
  event: UsageEvent;
  resolve(outcome: UsageOutcome): void;
  reject(error: unknown): void;
}

/**
 * Creates a {@link Meter}.
 * @example
 * const meter = createMeter({ post: (events) => postUsage(deps, events) });
 * await meter.record(event); // committed
 */
export function createMeter(options: MeterOptions): Meter {
  const maxBatch = options.maxBatch ?? 500;
  const concurrency = options.concurrency ?? 1;
  // Extra turns only while commits are frequent: an idle meter commits in its first turn.
  const schedule = turnBatcher({ maxTurns: options.lingerTurns ?? 3, cap: maxBatch });
  const queue: Waiter[] = [];
  let running = 0;
  let inFlight = 0;
  let scheduled = false;
  let idle: Array<() => void> = [];

  const settle = (waiter: Waiter, outcome: UsageOutcome) => {
    if (outcome.status === 'conflict') waiter.reject(outcome.error);
    else waiter.resolve(outcome);
  };

  const onCommit = options.onCommit;
  const postBatch = async (batch: Waiter[]) => {
    const started = onCommit ? performance.now() : 0;
    try {
      const outcomes = await options.post(batch.map((waiter) => waiter.event));
      onCommit?.(performance.now() - started, batch.length);
      batch.forEach((waiter, index) => {
        settle(waiter, outcomes[index]!);
      });
    } catch (error) {
      onCommit?.(performance.now() - started, batch.length);
      if (batch.length === 1 || !aboutData(error)) {
        for (const waiter of batch) waiter.reject(error);
        return;
      }
      // One bad event must not sink its neighbours: retry each on its own.
      for (const waiter of batch) await postBatch([waiter]);
    }
  };

  const pump = async () => {
    scheduled = false;
    running++;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatch);
        await postBatch(batch);
        inFlight -= batch.length;
      }
    } finally {
      running--;
      if (running === 0 && inFlight === 0) {
        const waiting = idle;
        idle = [];
        for (const done of waiting) done();
      }
    }
  };

  return {
    record(event) {
      try {
        // Fails fast on values the store would refuse (non-integer tokens and the like).
        assertUsageRow(event);
      } catch (error) {
        return Promise.reject(error);
      }
      return new Promise<UsageOutcome>((resolve, reject) => {
        queue.push({ event, resolve, reject });
        inFlight++;
        if (running < concurrency && !scheduled) {
          scheduled = true;
          schedule(
            () => queue.length,
            () => void pump(),
          );
        }
      });
    },
    flush() {
      if (inFlight === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
    get pending() {
      return inFlight;
    },
  };
}

/**
 * True when a failed batch may have failed because of one of its events (a value out of range,
 * a constraint), so posting the events one by one can save the others. A store that is down
 * or unreachable fails every event alike: those batches are refused whole, at once.
 */
function aboutData(error: unknown): boolean {
  if (error instanceof RangeError || error instanceof TypeError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  // Postgres classes 22 (data exception) and 23 (integrity constraint); SQLite constraint/range errors.
  return (
    typeof code === 'string' &&
    (/^2[23]/.test(code) ||
      code.startsWith('SQLITE_CONSTRAINT') ||
      code === 'SQLITE_RANGE' ||
      code === 'SQLITE_TOOBIG' ||
      code === 'SQLITE_MISMATCH')
  );
}
