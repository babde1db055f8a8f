import type { Clock } from '../core/clock.js';
import { GatewayError } from '../errors/index.js';
import type { StreamItem } from '../providers/index.js';
import type { AttemptAbort, ClientSignal } from '../transport/abort.js';
import { abortError, midStreamError } from './attempt-errors.js';
import type { Deployment } from './catalog.js';
import type { HealthTracker } from './health.js';
import type { StreamWatch } from './stream-watch.js';

/** What {@link relayItems} needs of a streaming attempt whose first item is in hand. */
export interface RelayedStream {
  first: StreamItem;
  iterator: AsyncIterator<StreamItem>;
  watch: StreamWatch;
  deployment: Deployment;
  health: HealthTracker;
  clock: Clock;
  /** deps.clock() when the attempt started. */
  start: number;
  /** Clears the attempt's timer and its client listener. */
  release(): void;
  body: { destroy(): void };
  controller: AttemptAbort;
  signal: ClientSignal;
  /** Set when the stream's reader stopped it (the drain after a client left ended). */
  cancelled: boolean;
}

/**
 * A streaming attempt's items after its first: the upstream's, with the stream's deadlines, its
 * health record and its errors. A function of the module, not a generator expression inside the
 * attempt: a generator function made per stream has a `prototype` of its own, so each stream's
 * generator got a hidden class of its own in V8's old space, which kept the stream's objects
 * alive through young-generation GCs until the next full one (see server/context.ts).
 */
export async function* relayItems(stream: RelayedStream): AsyncGenerator<StreamItem> {
  const { iterator, watch, deployment, controller, signal } = stream;
  try {
    yield stream.first;
    for (;;) {
      watch.waiting(true);
      const next = await iterator.next();
      watch.waiting(false);
      if (next.done) break;
      yield next.value;
    }
    stream.health.recordLatency(deployment.key, stream.clock() - stream.start);
  } catch (thrown) {
    // Stopped by its reader (the drain after a client left ended): not the upstream's fault.
    if (stream.cancelled)
      throw controller.reason instanceof GatewayError ? controller.reason : abortError(signal);
    if (signal.aborted) throw abortError(signal);
    const reason = controller.reason;
    const error =
      controller.aborted && reason instanceof GatewayError
        ? reason
        : thrown instanceof GatewayError
          ? thrown
          : midStreamError(deployment, thrown);
    // The answer is already the client's, so no failover; but a stream the upstream cut,
    // stalled or garbled is the deployment's failure and counts toward its breaker.
    stream.health.recordFailure(deployment.key, error);
    throw error;
  } finally {
    watch.stop();
    stream.release();
    stream.body.destroy();
  }
}
