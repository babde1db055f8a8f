import { GatewayError } from '../errors/index.js';

/** Options of {@link watchStream}. */
export interface StreamWatchOptions {
  provider: string;
  /** Longest silence between two upstream frames, ms. */
  idleMs: number;
  /** Longest stream, ms, counted from `startedAt`. */
  totalMs: number;
  /** Date.now() when the attempt started. */
  startedAt: number;
  /** Called once, with the timeout, when a limit is passed (aborts the upstream request). */
  abort(error: GatewayError): void;
}

/** Deadlines of one upstream stream after its first item. */
export interface StreamWatch {
  /** Passes the upstream's reads (or frames) through, noting when each arrived. */
  frames<T>(source: AsyncIterable<T>): AsyncIterable<T>;
  /** Starts the timers (once the first item is in hand; before it, the attempt timeout rules). */
  start(): void;
  /** True while the consumer waits for the next item: only then does silence count. */
  waiting(on: boolean): void;
  stop(): void;
}

/**
 * Watches a stream for silence and for length. Frames only store a time stamp; the idle timer
 * fires at most once per idle period and re-arms for what remains. While the consumer is not
 * asking for the next item (a slow client, backpressure), the silence is the client's and does
 * not count against the upstream.
 */
export function watchStream(options: StreamWatchOptions): StreamWatch {
  let last = Date.now();
  let pulling = false;
  let idleTimer: NodeJS.Timeout | undefined;
  let totalTimer: NodeJS.Timeout | undefined;
  let fired = false;
  const fire = (error: GatewayError) => {
    if (fired) return;
    fired = true;
    stop();
    options.abort(error);
  };
  const checkIdle = () => {
    const now = Date.now();
    if (!pulling) last = now;
    const quiet = now - last;
    if (quiet >= options.idleMs)
      fire(
        streamTimeout(
          `Upstream ${options.provider} sent nothing for ${options.idleMs} ms mid-stream`,
        ),
      );
    else idleTimer = setTimeout(checkIdle, options.idleMs - quiet);
  };
  const stop = () => {
    clearTimeout(idleTimer);
    clearTimeout(totalTimer);
  };
  return {
    async *frames(source) {
      for await (const frame of source) {
        last = Date.now();
        yield frame;
      }
    },
    start() {
      last = Date.now();
      idleTimer = setTimeout(checkIdle, options.idleMs);
      const remaining = options.totalMs - (Date.now() - options.startedAt);
      totalTimer = setTimeout(
        () =>
          fire(
            streamTimeout(
              `Upstream ${options.provider} stream did not finish within ${options.totalMs} ms`,
            ),
          ),
        Math.max(1, remaining),
      );
    },
    waiting(on) {
      if (on && !pulling) last = Date.now();
      pulling = on;
    },
    stop,
  };
}

function streamTimeout(message: string): GatewayError {
  return new GatewayError(message, {
    code: 'upstream_timeout',
    status: 504,
    errorClass: 'timeout',
  });
}
