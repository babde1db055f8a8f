import { GatewayError, isStoreUnavailable, withStoreTimeout } from '../errors/index.js';
import type { UsageEvent } from '../store/index.js';
import type { UsageOutcome } from './post-usage.js';
import type { ReplayResult, SpoolStats, UsageSpool } from './spool.js';

/**
 * The gateway's usage sink: billing's commit, with the spool behind it. A usage event is either
 * committed to the store or, when the store fails or does not answer within `commitTimeoutMs`,
 * appended to the local spool (fsynced) before `record` resolves — never kept only in memory.
 * A replay loop puts spooled events into the store when it is back; billing dedupes by request
 * id, so an event whose slow commit landed after all is not counted twice.
 *
 * Hooked at the sink boundary, outside billing's group commit, so the commit path can change
 * (batching, a writer thread) without touching this.
 */

/** What `record` resolves with: billing's outcome, or `spooled` (durably on local disk). */
export type SinkOutcome = UsageOutcome | { status: 'spooled' };

/** Options of {@link createDurableSink}. */
export interface DurableSinkOptions {
  /** Commits one event (billing.record); resolves once committed. */
  commit(event: UsageEvent): Promise<UsageOutcome>;
  /** The spool; without one, failures propagate as before (the caller logs them). */
  spool?: UsageSpool | undefined;
  /** A commit slower than this spools the event instead, ms. */
  commitTimeoutMs: number;
  /** How often the spool is replayed, ms. */
  replayIntervalMs: number;
  /** Told when an event is spooled, with why (for the log). */
  onSpooled?: (event: UsageEvent, cause: unknown) => void;
  /** Told when a replay stops on an error (the store is still away). */
  onReplayError?: (error: unknown) => void;
}

/** A usage sink that never loses an event to a store outage. */
export interface DurableSink {
  record(event: UsageEvent): Promise<SinkOutcome>;
  /** Starts the replay loop, beginning with what earlier runs left in the spool. */
  start(): void;
  /** Stops the loop (after a replay in progress) and closes the spool file. */
  stop(): Promise<void>;
  /** Replays the spool now; resolves with the events replayed (rejects if the store is away). */
  replay(): Promise<number>;
  /** Spool counters, or undefined without a spool. */
  stats(): SpoolStats | undefined;
}

/**
 * Creates the durable sink.
 * @example
 * const sink = createDurableSink({ commit: (e) => billing.record(e), spool, commitTimeoutMs: 2000, replayIntervalMs: 1000 });
 * const gateway = createGateway({ ..., usage: sink });
 */
export function createDurableSink(options: DurableSinkOptions): DurableSink {
  const { spool, commitTimeoutMs } = options;
  // While the store is known to be failing, events go straight to the spool instead of each
  // waiting out the commit timeout; the first replay that gets through clears it.
  let degraded = false;
  let timer: NodeJS.Timeout | undefined;
  let replaying: Promise<number> | undefined;
  let stopped = false;

  const toSpool = async (event: UsageEvent, cause: unknown): Promise<SinkOutcome> => {
    degraded = true;
    await spool!.append(event);
    options.onSpooled?.(event, cause);
    return { status: 'spooled' };
  };

  const post = async (events: UsageEvent[]): Promise<ReplayResult[]> =>
    Promise.all(
      events.map((event) =>
        withStoreTimeout(options.commit(event), commitTimeoutMs * 5, 'usage replay').then(
          (): ReplayResult => 'committed',
          (error: unknown): ReplayResult => {
            if (refusedForData(error)) return 'rejected';
            throw error;
          },
        ),
      ),
    );

  const replay = () => {
    if (!spool) return Promise.resolve(0);
    replaying ??= spool
      .replay(post)
      .then((count) => {
        degraded = false;
        return count;
      })
      .finally(() => {
        replaying = undefined;
      });
    return replaying;
  };

  const tick = async () => {
    try {
      await replay();
    } catch (error) {
      options.onReplayError?.(error);
    }
    if (!stopped) {
      timer = setTimeout(tick, options.replayIntervalMs);
      timer.unref();
    }
  };

  return {
    async record(event) {
      if (!spool) return options.commit(event);
      if (degraded) return toSpool(event, new Error('store failing: spooled without a commit'));
      try {
        return await withStoreTimeout(options.commit(event), commitTimeoutMs, 'usage commit');
      } catch (error) {
        // Refused for its data (a conflicting replay, a value the store rejects): spooling
        // cannot fix that, and the caller logs it as before.
        if (refusedForData(error)) throw error;
        return toSpool(event, error);
      }
    },
    start() {
      if (!spool || timer || stopped) return;
      timer = setTimeout(tick, 0);
      timer.unref();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await replaying?.catch(() => undefined);
      await spool?.close();
    },
    replay,
    stats: () => spool?.stats(),
  };
}

/**
 * True when the store refused the event itself, so trying again cannot help: a request id
 * already recorded with another payload (409), a value out of range, a constraint.
 */
function refusedForData(error: unknown): boolean {
  if (isStoreUnavailable(error)) return false;
  if (error instanceof GatewayError) return error.status === 409 || error.status === 400;
  if (error instanceof RangeError || error instanceof TypeError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (/^2[23]/.test(code) || code.startsWith('SQLITE_CONSTRAINT'));
}
