/**
 * Budget reservations. Before a call, the request's worst-case cost is reserved atomically in
 * every budget bucket it passes (tenant, project, key): a hard bucket admits it only if
 * `spent + reserved + amount ≤ limit`. After the call, the reservation is replaced by the real
 * cost (settle) or dropped (release). The database (`budget_spend`) is the record of truth for
 * `spent`; the live counters here are seeded from it the first time a bucket is touched.
 *
 * Two implementations: process memory (one process; the event loop makes check-and-add atomic)
 * and Redis (one Lua script per reservation, so replicas share one count); see budgets-redis.ts.
 */

/** One budget bucket in one period. */
export interface BudgetBucket {
  /** `key:<id>:month` */
  scope: string;
  periodStart: number;
  /** Epoch ms when the period ends (Infinity for `total`). */
  periodEnd: number;
  /** µUSD. */
  limit: bigint;
  /** Hard buckets refuse; soft ones only count. */
  hard: boolean;
}

/** Live state of a bucket. */
export interface BucketState {
  spent: bigint;
  reserved: bigint;
}

/** The outcome of a reservation: `amount` is what was reserved (below the ask when clamped). */
export type ReserveResult =
  | { ok: true; amount: bigint }
  | { ok: false; bucket: BudgetBucket; state: BucketState };

/** Reads a bucket's recorded spend from the database. */
export type SpendLoader = (scope: string, periodStart: number) => Promise<bigint>;

/** Live budget counters. */
export interface BudgetCounters {
  /**
   * Reserves `amount` µUSD in every bucket, or in none. With `minimum`, a request that does not
   * fit whole reserves what the tightest hard bucket has left instead, if that is at least
   * `minimum` (the check and the add are one atomic step, so concurrent clamps never overdraw).
   */
  reserve(
    buckets: BudgetBucket[],
    reservationId: string,
    amount: bigint,
    now: number,
    minimum?: bigint,
  ): Promise<ReserveResult>;
  /**
   * Ends a reservation: drops `reserved` and adds `spent` (the real cost, already written to the
   * database by the caller). `spent` 0 = release.
   */
  settle(
    buckets: BudgetBucket[],
    reservationId: string,
    reserved: bigint,
    spent: bigint,
  ): Promise<void>;
  /** Current state of a bucket (seeded from the database if untouched). */
  state(bucket: BudgetBucket): Promise<BucketState>;
}

interface MemoryBucket extends BucketState {
  periodEnd: number;
}

/** Budget counters in process memory: exact for one process. */
export function createMemoryBudgets(load: SpendLoader): BudgetCounters {
  const buckets = new Map<string, MemoryBucket>();
  const loading = new Map<string, Promise<void>>();
  const keyOf = (bucket: BudgetBucket) => `${bucket.scope}@${bucket.periodStart}`;

  const ensure = (bucket: BudgetBucket): Promise<void> | undefined => {
    const key = keyOf(bucket);
    if (buckets.has(key)) return undefined;
    let pending = loading.get(key);
    if (!pending) {
      pending = load(bucket.scope, bucket.periodStart).then(
        (spent) => {
          if (!buckets.has(key))
            buckets.set(key, { spent, reserved: 0n, periodEnd: bucket.periodEnd });
          loading.delete(key);
        },
        (error: unknown) => {
          loading.delete(key);
          throw error;
        },
      );
      loading.set(key, pending);
    }
    return pending;
  };

  const prune = (now: number) => {
    if (buckets.size < 10_000) return;
    for (const [key, bucket] of buckets)
      if (bucket.periodEnd <= now && bucket.reserved === 0n) buckets.delete(key);
  };

  return {
    async reserve(list, _reservationId, amount, now, minimum) {
      const pending = list.map(ensure).filter((item) => item !== undefined);
      if (pending.length > 0) await Promise.all(pending);
      // From here to the end there is no await: check-and-add is atomic on the event loop.
      const states = list.map((bucket) => buckets.get(keyOf(bucket))!);
      let grant = amount;
      for (let i = 0; i < list.length; i++) {
        const bucket = list[i]!;
        const state = states[i]!;
        if (!bucket.hard) continue;
        const room = bucket.limit - state.spent - state.reserved;
        if (room >= grant) continue;
        if (minimum !== undefined && room >= minimum) {
          grant = room;
          continue;
        }
        return { ok: false, bucket, state: { spent: state.spent, reserved: state.reserved } };
      }
      for (const state of states) state.reserved += grant;
      prune(now);
      return { ok: true, amount: grant };
    },
    async settle(list, _reservationId, reserved, spent) {
      for (const bucket of list) {
        const state = buckets.get(keyOf(bucket));
        if (!state) continue;
        state.reserved -= reserved;
        if (state.reserved < 0n) state.reserved = 0n;
        state.spent += spent;
      }
    },
    async state(bucket) {
      await ensure(bucket);
      const state = buckets.get(keyOf(bucket))!;
      return { spent: state.spent, reserved: state.reserved };
    },
  };
}
