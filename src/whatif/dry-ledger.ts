import { accrue, type ClauseTerms, counts, termsFromConfig } from '../billing/agreements.js';
import type { ClauseStand } from '../billing/net-cost.js';
import { billable, createRater } from '../billing/rating.js';
import type { Config } from '../config/index.js';
import type { UsageEvent } from '../store/index.js';
import { merged } from '../core/objects.js';

/**
 * The ledger's money rules run in memory: the same rater (`billing/rating.ts`) and the same
 * revenue-share running totals (`billing/agreements.ts` `counts` and `accrue`) that
 * `billing/post-usage.ts` applies inside its database transaction, over clauses built from a
 * config's `partners.*.revenueShare`. Nothing is written anywhere; caps apply in the order
 * events are posted, so post them in time order.
 */

/** What one event would post. */
export interface DryPosting {
  revenue: bigint;
  cost: bigint;
  /** Accrual per partner (only partners whose clause moved). */
  accruals: Array<{ partner: string; amount: bigint }>;
}

/** An in-memory ledger over one set of agreements. */
export interface DryLedger {
  post(event: UsageEvent): DryPosting;
  /** Running totals per clause (partner), µUSD. */
  totals(): Map<string, { basis: bigint; accrued: bigint }>;
  /** Each clause's terms with its running totals now (what `lowest-net-cost` reads live). */
  stands(): ClauseStand[];
}

interface ClauseState {
  terms: ClauseTerms;
  basis: bigint;
  accrued: bigint;
}

const NOTHING: DryPosting = { revenue: 0n, cost: 0n, accruals: [] };

/** Builds a dry ledger whose clauses start with zero totals. */
export function createDryLedger(config: Pick<Config, 'models' | 'partners'>): DryLedger {
  const rater = createRater(config);
  const clauses: ClauseState[] = Object.entries(config.partners)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .flatMap(([partner, settings]) =>
      settings.revenueShare
        ? [{ terms: termsFromConfig(partner, settings.revenueShare), basis: 0n, accrued: 0n }]
        : [],
    );
  return {
    post(event) {
      // As post-usage.ts: an event without tokens, or without price and cost, posts nothing.
      if (!billable(event)) return NOTHING;
      const rating = rater.rate(event);
      if (rating.revenue === 0n && rating.cost === 0n) return NOTHING;
      const accruals: DryPosting['accruals'] = [];
      if (rating.revenue > 0n && clauses.length > 0) {
        const sale = {
          partner: event.partner,
          deployment: event.deployment,
          model: event.model,
          at: event.createdAt,
        };
        for (const clause of clauses) {
          if (!counts(clause.terms, sale)) continue;
          const step = accrue(clause, clause.terms, rating.revenue, 'up');
          clause.basis = step.basis;
          clause.accrued = step.accrued;
          accruals.push({ partner: clause.terms.partner, amount: step.delta });
        }
      }
      return { revenue: rating.revenue, cost: rating.cost, accruals };
    },
    stands: () =>
      clauses.map((clause) =>
        merged(clause.terms, {
          id: clause.terms.partner,
          basisTotal: clause.basis,
          accruedTotal: clause.accrued,
        }),
      ),
    totals: () =>
      new Map(
        clauses.map((clause) => [
          clause.terms.partner,
          { basis: clause.basis, accrued: clause.accrued },
        ]),
      ),
  };
}
