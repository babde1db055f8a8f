import type { Clock } from '../core/clock.js';
import type { RuntimeRepository, SweepResult } from '../store/index.js';

/** Options of {@link createRetentionSweeper}. */
export interface RetentionSweeperOptions {
  repository: RuntimeRepository;
  clock: Clock;
  /** Time between sweeps, ms; 0 disables the timer (runOnce still works). */
  intervalMs: number;
  /** Rows per delete statement. Default 1000. */
  batchSize?: number;
  /** Told about each sweep that removed something, and about failures. */
  onSweep?: (result: SweepResult) => void;
  onError?: (error: unknown) => void;
}

/** The background sweep that enforces retention. */
export interface RetentionSweeper {
  /** Starts the timer (idempotent). The timer does not keep the process alive. */
  start(): void;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
  /** One sweep now. */
  runOnce(): Promise<SweepResult>;
}

/**
 * Deletes expired responses, items, event logs and conversations on a timer. Every replica
 * may run one: deletes are idempotent, and reads already treat expired rows as gone, so the
 * sweep only reclaims space and never decides visibility.
 */
export function createRetentionSweeper(options: RetentionSweeperOptions): RetentionSweeper {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<SweepResult> | undefined;
  const runOnce = (): Promise<SweepResult> => {
    running ??= options.repository.sweep(options.clock(), options.batchSize).finally(() => {
      running = undefined;
    });
    return running;
  };
  const tick = () => {
    runOnce().then(
      (result) => {
        if (result.responses + result.items + result.conversations + result.events > 0)
          options.onSweep?.(result);
      },
      (error: unknown) => options.onError?.(error),
    );
  };
  return {
    start() {
      if (timer !== undefined || options.intervalMs <= 0) return;
      timer = setInterval(tick, options.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
    runOnce,
  };
}
