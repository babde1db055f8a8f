import type { ChangeRelay, SharedCounters } from '../access/index.js';
import type { BudgetCounters, ReserveResult } from '../access/budgets.js';
import type { ConcurrencyGate } from '../access/concurrency.js';
import type { RateLimits } from '../access/rate-limits.js';
import type { SpendWriter } from '../access/spend-writer.js';
import type { UsageOutcome } from '../billing/index.js';
import { turnBatcher } from '../core/turns.js';
import type { HealthTracker, SharedHealthState } from '../router/health.js';
import type { UsageEvent } from '../store/index.js';
import { type ClusterClient, fromWire, toWire, type WireError } from './ipc.js';
import { merged } from '../core/objects.js';

/**
 * A worker's view of what the primary owns: each call is one IPC round trip, answered by the
 * primary's single copy of the counters, so N workers admit exactly what one process would.
 */

/** How long a usage record may wait for the primary's group commit, ms. */
export const USAGE_TIMEOUT_MS = 30_000;
/** Extra loop turns a busy worker's usage message waits while it is still growing (see turnBatcher). */
const LINGER_TURNS = 3;
/** Most usage events in one message to the primary. */
const MAX_BATCH = 500;

/** Rate limits, concurrency slots, budgets and spend writes held by the primary. */
export function clusterCounters(client: ClusterClient): SharedCounters {
  const rates: RateLimits = {
    consume: (kind, scope, limit, points) =>
      client.call('rates.consume', [kind, scope, limit, points]),
    adjust: (kind, scope, limit, delta, at) =>
      client.call('rates.adjust', [kind, scope, limit, delta, at]),
  };
  const gate: ConcurrencyGate = {
    acquire: (slots, requestId, now) => client.call('gate.acquire', [slots, requestId, now]),
    release: (scopes, requestId) => client.call('gate.release', [scopes, requestId]),
  };
  const budgets: BudgetCounters = {
    async reserve(buckets, id, amount, now) {
      const result = await client.call<ReserveResult>('budgets.reserve', [
        buckets,
        id,
        amount,
        now,
      ]);
      if (result.ok) return result;
      // The refused bucket comes back as a copy; callers find it among theirs by identity.
      const bucket = buckets.find(
        (item) =>
          item.scope === result.bucket.scope && item.periodStart === result.bucket.periodStart,
      );
      return merged(result, { bucket: bucket ?? result.bucket });
    },
    settle: (buckets, id, reserved, spent) =>
      client.call('budgets.settle', [buckets, id, reserved, spent]),
    state: (bucket) => client.call('budgets.state', [bucket]),
  };
  const spend: SpendWriter = { add: (entries) => client.call('spend.add', [entries]) };
  return { rates, gate, budgets, spend };
}

/** One event's outcome in a `usage.recordMany` reply. */
export type RecordedOutcome = { ok: true; value: UsageOutcome } | { ok: false; error: WireError };

/**
 * The gateway's usage sink in a worker on SQLite: the primary is the one SQLite writer, so every
 * worker's events share its group commits. The promise resolves after the commit, as the local
 * meter's does, so the answer's end still waits for its usage row.
 *
 * The events a worker records in one turn of its event loop (a few turns while they keep coming)
 * cross to the primary as one message (`usage.recordMany`) and come back as one reply. A message
 * over node's IPC channel costs about 45 µs of CPU on each side whatever it carries
 * (bench/ipc-usage.ts): with one message per event, that was most of what a second worker added
 * to a request's CPU; with ten events in a message, an event costs about 6 µs on each side.
 */
export function clusterUsageSink(client: ClusterClient): {
  record(event: UsageEvent): Promise<UsageOutcome>;
  flush(): Promise<void>;
} {
  const schedule = turnBatcher({ maxTurns: LINGER_TURNS, cap: MAX_BATCH });
  let queue: Array<{
    event: UsageEvent;
    resolve(outcome: UsageOutcome): void;
    reject(error: unknown): void;
  }> = [];
  // Settles once the batch being gathered has been handed to the channel.
  let gathered: Promise<void> | undefined;
  let sent: (() => void) | undefined;
  const send = () => {
    const batch = queue;
    queue = [];
    sent?.();
    gathered = undefined;
    client
      .call<RecordedOutcome[]>(
        'usage.recordMany',
        [batch.map((waiter) => waiter.event)],
        USAGE_TIMEOUT_MS,
      )
      .then(
        (outcomes) =>
          batch.forEach((waiter, index) => {
            const outcome = outcomes[index];
            if (outcome?.ok) waiter.resolve(outcome.value);
            else
              waiter.reject(
                outcome ? fromWire(outcome.error) : new Error('the primary lost a usage event'),
              );
          }),
        (error: unknown) => {
          for (const waiter of batch) waiter.reject(error);
        },
      );
  };
  return {
    record: (event) =>
      new Promise<UsageOutcome>((resolve, reject) => {
        if (queue.length === 0) {
          gathered = new Promise<void>((done) => {
            sent = done;
          });
          // Sent once the poll phase has delivered the turn's other answers, and on a busy
          // worker a few turns later (the primary's commits grow with the messages).
          schedule(() => queue.length, send);
        }
        queue.push({ event, resolve, reject });
      }),
    flush: () => (gathered ?? Promise.resolve()).then(() => client.idle()),
  };
}

/**
 * The primary's side of `usage.recordMany`: records each event (they join its group commits) and
 * answers with every event's outcome, so one refused event does not fail its neighbours.
 */
export async function recordMany(
  record: (event: UsageEvent) => Promise<UsageOutcome>,
  events: UsageEvent[],
): Promise<RecordedOutcome[]> {
  const settled = await Promise.allSettled(events.map((event) => record(event)));
  return settled.map((result) =>
    result.status === 'fulfilled'
      ? { ok: true, value: result.value }
      : { ok: false, error: toWire(result.reason) },
  );
}

/** "Keys changed" relayed through the primary to the other workers. */
export function clusterChanges(client: ClusterClient): ChangeRelay {
  return {
    publish: () => client.broadcast('access', null),
    subscribe: (listener) => client.onBroadcast('access', listener),
  };
}

/** Breaker transitions shared between workers through the primary (as shared-health.ts does over Redis). */
export function shareHealthInCluster(tracker: HealthTracker, client: ClusterClient): void {
  tracker.onChange((key, state) =>
    client.broadcast('health', {
      key,
      state: state.state,
      unavailableUntil: state.unavailableUntil,
    }),
  );
  client.onBroadcast('health', (payload) => {
    const message = payload as { key: string } & SharedHealthState;
    tracker.applyRemote(message.key, {
      state: message.state,
      unavailableUntil: message.unavailableUntil,
    });
  });
}
