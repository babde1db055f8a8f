import { GatewayError } from '../errors/index.js';
import type { Database, UsageEvent } from '../store/index.js';
import {
  billingTransaction,
  type Dimensions,
  type LedgerPostingRow,
  type RollupDelta,
} from '../store/billing/store.js';
import { counts } from './agreements.js';
import { bookings, lockClauses, rollupFor } from './booking.js';
import { assertInt64, legs } from './legs.js';
import type { PeriodUnit } from './periods.js';
import { billable, payloadHash, type Rater } from './rating.js';

/** What happened to one usage event. */
export type UsageOutcome =
  /** Usage row and ledger transaction written. */
  | { status: 'posted'; transactionId: string; revenue: bigint; cost: bigint; share: bigint }
  /** Usage row written; nothing to post (no tokens, or no price and no cost). */
  | { status: 'recorded' }
  /** The request id was already recorded with the same payload: nothing new. */
  | { status: 'duplicate' }
  /** The request id was already recorded with a different payload: refused. */
  | { status: 'conflict'; error: GatewayError };

/** Dependencies of {@link postUsage}. */
export interface PostUsageDeps {
  database: Database;
  rater: Rater;
  now: () => number;
  periodUnit: PeriodUnit;
  /**
   * Told the clause totals a posting moved, once its transaction has committed (the accrual
   * cache behind `lowest-net-cost` routing takes them at once).
   */
  onClauseTotals?:
    | ((totals: Array<{ id: string; basis: bigint; accrued: bigint }>) => void)
    | undefined;
}

/**
 * Records usage events and posts their ledger transactions in ONE database transaction: the
 * usage rows, each event's revenue, cost and partner accruals, the clause running totals and
 * the hourly rollups commit together or not at all (a crash leaves nothing half posted).
 *
 * Idempotent on the request id: a replay with the same payload posts nothing
 * (`duplicate`); a replay with another payload is refused (`conflict`). Attribution is the
 * event's own `partner` and `deployment` (the cloud that served it), never re-derived.
 */
export async function postUsage(
  deps: PostUsageDeps,
  events: readonly UsageEvent[],
): Promise<UsageOutcome[]> {
  if (events.length === 0) return [];
  // First occurrence of an id in the batch is written; later ones are compared with it.
  const first = new Map<string, UsageEvent>();
  for (const event of events) if (!first.has(event.requestId)) first.set(event.requestId, event);
  const unique = [...first.values()];

  let saved: Array<{ id: string; basis: bigint; accrued: bigint }> = [];
  const outcomes = await billingTransaction(deps.database, async (tx) => {
    const now = deps.now();
    const result = new Map<string, UsageOutcome>();
    const inserted = await tx.insertUsage(unique);
    const replayed = unique.filter((event) => !inserted.has(event.requestId));
    if (replayed.length > 0) {
      const stored = await tx.usageRows(replayed.map((event) => event.requestId));
      for (const event of replayed) {
        const previous = stored.get(event.requestId);
        result.set(
          event.requestId,
          previous && payloadHash(previous) === payloadHash(event)
            ? { status: 'duplicate' }
            : conflict(event.requestId),
        );
      }
    }

    const fresh = unique.filter((event) => inserted.has(event.requestId));
    const rated = fresh.map((event) => ({ event, rating: deps.rater.rate(event) }));
    const priced = rated.filter(
      ({ event, rating }) => billable(event) && (rating.revenue !== 0n || rating.cost !== 0n),
    );
    const pricedEvents = new Set(priced.map((item) => item.event));
    for (const { event } of rated)
      if (!pricedEvents.has(event)) result.set(event.requestId, { status: 'recorded' });
    const bookingOf = await bookings(
      tx,
      priced.map(({ event }) => event.createdAt),
      now,
      deps.periodUnit,
    );

    // Revenue and cost legs do not depend on any clause: write them before taking the clause
    // locks, so the section that serialises writers (lock → commit) holds as little as possible.
    const drafts = priced.map(({ event, rating }) => {
      assertInt64(rating.revenue, 'revenue');
      assertInt64(rating.cost, 'cost');
      const dimensions = dimensionsOf(event);
      const base = legs({
        tenantId: event.tenantId,
        provider: dimensions.deployment,
        revenue: rating.revenue,
        cost: rating.cost,
        accruals: [],
      });
      return {
        event,
        rating,
        dimensions,
        base,
        booking: bookingOf(event.createdAt),
        id: `u:${event.requestId}`,
      };
    });
    await tx.insertEntries(
      drafts.flatMap((draft) =>
        draft.base.map((leg, seq) => ({
          transactionId: draft.id,
          seq,
          account: leg.account,
          amount: leg.amount,
          period: draft.booking.period,
        })),
      ),
    );

    const clauses = await lockClauses(tx, (clause) =>
      priced.some(({ event, rating }) => rating.revenue > 0n && counts(clause, saleOf(event))),
    );
    const postings: LedgerPostingRow[] = [];
    const shares = new Map<string, bigint>();
    for (const { event, rating, dimensions, base, booking, id } of drafts) {
      const shareLines: LedgerPostingRow['shareLines'] = [];
      if (rating.revenue > 0n) {
        for (const clause of clauses.matching(saleOf(event))) {
          const accrual = clauses.apply(clause.id, rating.revenue, 'up');
          shareLines.push({
            clauseId: clause.id,
            partner: clause.partner,
            basisDelta: rating.revenue,
            accrualDelta: accrual,
          });
        }
      }
      const share = shareLines.reduce((sum, line) => sum + line.accrualDelta, 0n);
      shares.set(event.requestId, share);
      postings.push({
        id,
        kind: 'usage',
        requestId: event.requestId,
        dimensions,
        effectiveAt: event.createdAt,
        postedAt: now,
        period: booking.period,
        adjustsPeriod: booking.adjustsPeriod,
        reverses: null,
        payloadHash: payloadHash(event),
        priceVersion: rating.priceVersion,
        revenue: rating.revenue,
        cost: rating.cost,
        share,
        memo: null,
        // Only the share legs are left to write; they continue the sequence after the base legs.
        entries: legs({
          tenantId: event.tenantId,
          provider: '',
          revenue: 0n,
          cost: 0n,
          accruals: shareLines.map((line) => ({
            partner: line.partner,
            amount: line.accrualDelta,
          })),
        }),
        entriesFrom: base.length,
        shareLines,
      });
      result.set(event.requestId, {
        status: 'posted',
        transactionId: id,
        revenue: rating.revenue,
        cost: rating.cost,
        share,
      });
    }

    const rollups = new Map<string, RollupDelta>();
    for (const { event, rating } of rated) {
      const rollup = rollupOf(rollups, dimensionsOf(event), event.createdAt);
      rollup.requests += 1;
      if (event.status === 'error') rollup.errors += 1;
      rollup.inputTokens += event.inputTokens;
      rollup.cachedInputTokens += event.cachedInputTokens;
      rollup.outputTokens += event.outputTokens;
      rollup.reasoningTokens += event.reasoningTokens;
      rollup.cacheWriteTokens += event.cacheWriteTokens ?? 0;
      rollup.cacheWrite1hTokens += event.cacheWrite1hTokens ?? 0;
      const share = shares.get(event.requestId);
      if (share === undefined) continue;
      rollup.revenue += rating.revenue;
      rollup.cost += rating.cost;
      rollup.share += share;
    }
    saved = await clauses.save(now);
    await tx.insertPostings(postings);
    await tx.addRollups([...rollups.values()]);
    return result;
  });
  if (saved.length > 0 && deps.onClauseTotals) {
    try {
      deps.onClauseTotals(saved);
    } catch {
      // A listener's failure must not fail a committed posting; the cache re-reads anyway.
    }
  }

  return events.map((event) => {
    const outcome = outcomes.get(event.requestId)!;
    if (first.get(event.requestId) === event) return outcome;
    // A second copy within the same batch: compare with the first.
    return payloadHash(first.get(event.requestId)!) === payloadHash(event)
      ? { status: 'duplicate' }
      : conflict(event.requestId);
  });
}

/** The reporting dimensions of a usage event. */
export function dimensionsOf(event: UsageEvent): Dimensions {
  return {
    tenantId: event.tenantId,
    projectId: event.projectId,
    keyId: event.keyId ?? '',
    model: event.model ?? '',
    deployment: event.deployment ?? '',
    partner: event.partner ?? '',
  };
}

function saleOf(event: UsageEvent) {
  return {
    partner: event.partner,
    deployment: event.deployment,
    model: event.model,
    at: event.createdAt,
  };
}

function rollupOf(
  rollups: Map<string, RollupDelta>,
  dimensions: Dimensions,
  at: number,
): RollupDelta {
  const fresh = rollupFor(dimensions, at);
  const key = [
    fresh.bucket,
    dimensions.tenantId,
    dimensions.projectId,
    dimensions.keyId,
    dimensions.model,
    dimensions.deployment,
    dimensions.partner,
  ].join('\u0000');
  let rollup = rollups.get(key);
  if (!rollup) rollups.set(key, (rollup = fresh));
  return rollup;
}

function conflict(requestId: string): UsageOutcome {
  const error = new GatewayError(
    `usage for request ${requestId} was already recorded with a different payload`,
    {
      code: 'invalid_request',
      status: 409,
      errorClass: 'conflict',
      retryable: false,
    },
  );
  return { status: 'conflict', error };
}
