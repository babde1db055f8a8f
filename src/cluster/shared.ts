import type { ChangeRelay, SharedCounters } from '../access/index.js';
import type { BudgetCounters, ReserveResult } from '../access/budgets.js';
import type { ConcurrencyGate } from '../access/concurrency.js';
import type { RateLimits } from '../access/rate-limits.js';
import type { SpendWriter } from '../access/spend-writer.js';
import type { UsageOutcome } from '../billing/index.js';
import type { HealthTracker, SharedHealthState } from '../router/health.js';
import type { UsageEvent } from '../store/index.js';
import type { ClusterClient } from './ipc.js';

/**
 * A worker's view of what the primary owns: each call is one IPC round trip, answered by the
 * primary's single copy of the counters, so N workers admit exactly what one process would.
 */

/** How long a usage record may wait for the primary's group commit, ms. */
export const USAGE_TIMEOUT_MS = 30_000;

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
      return { ...result, bucket: bucket ?? result.bucket };
    },
    settle: (buckets, id, reserved, spent) =>
      client.call('budgets.settle', [buckets, id, reserved, spent]),
    state: (bucket) => client.call('budgets.state', [bucket]),
  };
  const spend: SpendWriter = { add: (entries) => client.call('spend.add', [entries]) };
  return { rates, gate, budgets, spend };
}

/**
 * The gateway's usage sink in a worker on SQLite: the primary is the one SQLite writer, so every
 * worker's events share its group commits. The promise resolves after the commit, as the local
 * meter's does, so the answer's end still waits for its usage row.
 */
export function clusterUsageSink(client: ClusterClient): {
  record(event: UsageEvent): Promise<UsageOutcome>;
  flush(): Promise<void>;
} {
  return {
    record: (event) => client.call('usage.record', [event], USAGE_TIMEOUT_MS),
    flush: () => client.idle(),
  };
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
