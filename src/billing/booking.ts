import type { BillingTx, ClauseRecord, Dimensions, RollupDelta } from '../store/billing/store.js';
import { accrue, type AccrualMode, counts, type Sale } from './agreements.js';
import { nextPeriod, type PeriodBounds, periodOf, type PeriodUnit } from './periods.js';

/**
 * Shared steps of every posting transaction: choosing the period a posting is booked in, and
 * moving clause running totals under their row locks.
 */

/** Where a posting is booked. */
export interface Booking {
  period: string;
  /** The closed period the posting belongs to by its time, when booked later as an adjustment. */
  adjustsPeriod: string | null;
}

/**
 * Resolves the booking of each instant: its own period while that is open; once closed, the
 * first open period from the current one on (an adjustment). The periods read stay locked
 * against closing until the transaction ends.
 */
export async function bookings(
  tx: BillingTx,
  instants: readonly number[],
  now: number,
  unit: PeriodUnit,
): Promise<(at: number) => Booking> {
  const current = periodOf(now, unit);
  const own = new Map<string, PeriodBounds>();
  for (const at of instants) {
    const period = periodOf(at, unit);
    own.set(period.id, period);
  }
  own.set(current.id, current);
  const states = await tx.periods([...own.values()]);
  const resolved = new Map<string, Booking>();
  for (const period of own.values()) {
    if (states.get(period.id)?.status !== 'closed') {
      resolved.set(period.id, { period: period.id, adjustsPeriod: null });
      continue;
    }
    let candidate = current.startsAt > period.startsAt ? current : nextPeriod(period, unit);
    for (;;) {
      const state = states.get(candidate.id) ?? (await tx.periods([candidate])).get(candidate.id);
      if (state?.status !== 'closed') break;
      candidate = nextPeriod(candidate, unit);
    }
    resolved.set(period.id, { period: candidate.id, adjustsPeriod: period.id });
  }
  return (at) => resolved.get(periodOf(at, unit).id)!;
}

/** Locked clause totals being moved inside one transaction. */
export interface ClauseLedger {
  /** Clauses that count `sale`. */
  matching(sale: Sale): ClauseRecord[];
  /** Moves a clause's basis and returns the accrual to post. */
  apply(clauseId: string, basisDelta: bigint, mode: AccrualMode): bigint;
  /** The clause as locked (terms and current totals). */
  get(clauseId: string): ClauseRecord | undefined;
  /** Writes the totals that changed; resolves them. */
  save(now: number): Promise<Array<{ id: string; basis: bigint; accrued: bigint }>>;
}

/**
 * Locks the clauses `wanted` selects among the active ones (plus `alsoIds`, retired or not) and
 * tracks their totals in memory until {@link ClauseLedger.save}.
 */
export async function lockClauses(
  tx: BillingTx,
  wanted: (clause: ClauseRecord) => boolean,
  alsoIds: readonly string[] = [],
): Promise<ClauseLedger> {
  const active = await tx.activeClauses();
  const ids = new Set([...active.filter(wanted).map((clause) => clause.id), ...alsoIds]);
  const locked = await tx.lockClauses([...ids]);
  const byId = new Map(locked.map((clause) => [clause.id, { ...clause }]));
  const changed = new Set<string>();
  return {
    matching: (sale) =>
      [...byId.values()].filter((clause) => clause.status === 'active' && counts(clause, sale)),
    get: (id) => byId.get(id),
    apply(id, basisDelta, mode) {
      const clause = byId.get(id);
      if (!clause) return 0n;
      const step = accrue(
        { basis: clause.basisTotal, accrued: clause.accruedTotal },
        clause,
        basisDelta,
        mode,
      );
      clause.basisTotal = step.basis;
      clause.accruedTotal = step.accrued;
      changed.add(id);
      return step.delta;
    },
    async save(now) {
      const totals = [...changed]
        .map((id) => byId.get(id)!)
        .map((clause) => ({
          id: clause.id,
          basis: clause.basisTotal,
          accrued: clause.accruedTotal,
        }));
      await tx.saveTotals(totals, now);
      return totals;
    },
  };
}

/** Start of the UTC hour containing `at`. */
export function hourOf(at: number): number {
  return Math.floor(at / 3_600_000) * 3_600_000;
}

/** An empty rollup delta for `dimensions` at the hour of `at`. */
export function rollupFor(dimensions: Dimensions, at: number): RollupDelta {
  // Fields spelled out: an object spread here costs microseconds per event on the hot path.
  return {
    tenantId: dimensions.tenantId,
    projectId: dimensions.projectId,
    keyId: dimensions.keyId,
    model: dimensions.model,
    deployment: dimensions.deployment,
    partner: dimensions.partner,
    bucket: hourOf(at),
    requests: 0,
    errors: 0,
    inputTokens: 0,
    cachedInputTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    revenue: 0n,
    cost: 0n,
    share: 0n,
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
  };
}
