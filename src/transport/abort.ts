/**
 * What the transport needs of an abort signal: whether it fired and why, and an `abort` event
 * (undici accepts an object with `on`/`once`/`removeListener`, `aborted` and `reason` in place of
 * an AbortSignal).
 */
export type AbortLike = AbortSignal | AttemptAbort;

/**
 * One upstream attempt's abort: its timeout, the stream watch, a reader that stops, or the
 * client leaving fire it. An AbortController would do, but on Node 20 each AbortSignal is an
 * EventTarget re-prototyped with `Object.setPrototypeOf` (about 5 µs of CPU), and its listeners
 * go through EventTarget's checks; with the request's own AbortController that was two per
 * request, about 3% of a proxied request's CPU (bench/profile-pair.ts). An EventEmitter did it
 * for about 1 µs (its `_events` object, `once` wrappers); this is the part of one that undici
 * uses (`aborted`, `reason`, `on`/`once`/`removeListener` for the `abort` event), for an event
 * that fires at most once.
 */
export class AttemptAbort {
  aborted = false;
  reason: unknown = undefined;
  #listeners: Array<() => void> | undefined;

  /** Calls `listener` when this aborts (at most once: the event fires once). */
  on(event: 'abort', listener: () => void): this {
    if (event === 'abort' && !this.aborted) (this.#listeners ??= []).push(listener);
    return this;
  }

  once(event: 'abort', listener: () => void): this {
    return this.on(event, listener);
  }

  addListener(event: 'abort', listener: () => void): this {
    return this.on(event, listener);
  }

  removeListener(event: 'abort', listener: () => void): this {
    const listeners = this.#listeners;
    if (event !== 'abort' || !listeners) return this;
    const at = listeners.lastIndexOf(listener);
    if (at !== -1) listeners.splice(at, 1);
    return this;
  }

  off(event: 'abort', listener: () => void): this {
    return this.removeListener(event, listener);
  }

  /** Listeners waiting for the abort (tests: none may be left behind). */
  listenerCount(event: 'abort'): number {
    return event === 'abort' ? (this.#listeners?.length ?? 0) : 0;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const listener of listeners) listener();
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
