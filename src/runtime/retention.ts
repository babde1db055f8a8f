import type { Clock } from '../core/clock.js';
import type { RuntimeRepository, SweepResult } from '../store/index.js';
import { retentionCutoff } from './deps.js';

/** Options of {@link createRetentionSweeper}. */
export interface RetentionSweeperOptions {
  repository: RuntimeRepository;
  clock: Clock;
  /** Time between sweeps, ms; 0 disables the timer (runOnce still works). */
  intervalMs: number;
  /** Days a background run's row (agent_runs) is kept after creation; 0 = until deleted. */
  runRetentionDays?: number;
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
 * Deletes expired responses, items, event logs, conversations and background-run rows on a timer. Every replica
 * may run one: deletes are idempotent, and reads already treat expired rows as gone, so the
 * sweep only reclaims space and never decides visibility.
 */
export function createRetentionSweeper(options: RetentionSweeperOptions): RetentionSweeper {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<SweepResult> | undefined;
  const runOnce = (): Promise<SweepResult> => {
    const now = options.clock();
    running ??= options.repository
      .sweep(now, options.batchSize, retentionCutoff(now, options.runRetentionDays ?? 0))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const tick = () => {
    runOnce().then(
      (result) => {
        if (
          result.responses + result.items + result.conversations + result.events + result.runs >
          0
        )
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
