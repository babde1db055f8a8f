import { EventEmitter } from 'node:events';

/**
 * What the transport needs of an abort signal: whether it fired and why, and an `abort` event
 * (undici accepts an EventEmitter that has `aborted` and `reason` in place of an AbortSignal).
 */
export type AbortLike = AbortSignal | AttemptAbort;

/**
 * One upstream attempt's abort: its timeout, the stream watch, a reader that stops, or the
 * client leaving fire it. An AbortController would do, but on Node 20 each AbortSignal is an
 * EventTarget re-prototyped with `Object.setPrototypeOf` (about 5 µs of CPU), and its listeners
 * go through EventTarget's checks; with the request's own AbortController that was two per
 * request, about 3% of a proxied request's CPU (bench/profile-pair.ts). This is an EventEmitter
 * with the two fields undici reads.
 */
export class AttemptAbort extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/**
 * The client's going away, as the HTTP server tells it: an {@link AttemptAbort} fired when the
 * connection closes before the answer is complete. Most requests never need an AbortSignal for
 * this (the executor listens on the emitter), so the AbortController behind {@link signal} is
 * made only when something asks for one (a retry's sleep, a tool call, a runtime stream).
 */
export class ClientAbort extends AttemptAbort {
  #controller: AbortController | undefined;

  /** An AbortSignal that fires with this one (made on first use; already aborted if this is). */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  override abort(reason: unknown): void {
    if (this.aborted) return;
    super.abort(reason);
    this.#controller?.abort(reason);
  }
}

/**
 * Whether a client left, and why: an AbortSignal (the runtime's own calls) or the HTTP server's
 * {@link ClientAbort}. Both have `aborted` and `reason`; listen with {@link onAbort}.
 */
export type ClientSignal = AbortSignal | ClientAbort;

/** Calls `listener` once when `signal` aborts; returns the function that stops listening. */
export function onAbort(signal: ClientSignal, listener: () => void): () => void {
  if (signal instanceof AttemptAbort) {
    signal.once('abort', listener);
    return () => void signal.removeListener('abort', listener);
  }
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

/** `signal` as an AbortSignal, for APIs that take only that (timers, fetch, AbortSignal.any). */
export function abortSignalOf(signal: ClientSignal): AbortSignal {
  return signal instanceof ClientAbort ? signal.signal : signal;
}
