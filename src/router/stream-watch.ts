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
  return new Watch(options);
}

/**
 * A class, with `frames` a generator method on its prototype: an object literal holding a
 * generator method got a hidden class of its own per stream (the method has its own
 * `prototype`), in V8's old space, which kept each stream's objects alive through young-generation
 * GCs until the next full one (see server/context.ts).
 */
class Watch implements StreamWatch {
  #last = Date.now();
  #pulling = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #totalTimer: NodeJS.Timeout | undefined;
  #fired = false;

  constructor(private readonly options: StreamWatchOptions) {}

  async *frames<T>(source: AsyncIterable<T>): AsyncIterable<T> {
    for await (const frame of source) {
      this.#last = Date.now();
      yield frame;
    }
  }

  start(): void {
    const { options } = this;
    this.#last = Date.now();
    this.#idleTimer = setTimeout(this.#checkIdle, options.idleMs);
    const remaining = options.totalMs - (Date.now() - options.startedAt);
    this.#totalTimer = setTimeout(
      () =>
        this.#fire(
          streamTimeout(
            `Upstream ${options.provider} stream did not finish within ${options.totalMs} ms`,
          ),
        ),
      Math.max(1, remaining),
    );
  }

  waiting(on: boolean): void {
    if (on && !this.#pulling) this.#last = Date.now();
    this.#pulling = on;
  }

  /** A bound function: callers keep it apart from the watch (`const stop = watch.stop`). */
  readonly stop = (): void => {
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#totalTimer);
  };

  #fire(error: GatewayError): void {
    if (this.#fired) return;
    this.#fired = true;
    this.stop();
    this.options.abort(error);
  }

  readonly #checkIdle = (): void => {
    const now = Date.now();
    if (!this.#pulling) this.#last = now;
    const quiet = now - this.#last;
    if (quiet >= this.options.idleMs)
      this.#fire(
        streamTimeout(
          `Upstream ${this.options.provider} sent nothing for ${this.options.idleMs} ms mid-stream`,
        ),
      );
    else this.#idleTimer = setTimeout(this.#checkIdle, this.options.idleMs - quiet);
  };
}

function streamTimeout(message: string): GatewayError {
  return new GatewayError(message, {
    code: 'upstream_timeout',
    status: 504,
    errorClass: 'timeout',
  });
}
