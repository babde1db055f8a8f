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
