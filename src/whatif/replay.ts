import { type PeriodBounds, periodOf, type PeriodUnit } from '../billing/periods.js';
import type { Config } from '../config/index.js';
import type { Deployment } from '../router/catalog.js';
import type { Database, UsageEvent } from '../store/index.js';
import { createDryLedger, type DryPosting } from './dry-ledger.js';
import { createChooser } from './routing.js';
import { countUsage, usageInOrder } from './usage-rows.js';
import { merged } from '../core/objects.js';

/**
 * `switchyard whatif`: replays stored usage through alternative agreements. Each stored row is
 * rated twice, both times in memory and in time order:
 *
 * - **baseline**: as it was served (its stored deployment and partner) under the current config;
 * - **alternative**: routed again under the alternative config (see `routing.ts` for the rule)
 *   and rated there, with the partner of the deployment it would have gone to.
 *
 * Token counts are the stored ones: a request is assumed to use the same tokens on any cloud.
 * Revenue-share clauses start at zero totals at `capsFrom` (default `from`) in both scenarios, so
 * caps count from there. Rows without a serving deployment (every attempt failed) stay unserved.
 * Nothing is written to the store.
 */

/** Options of {@link runWhatIf}. */
export interface WhatIfOptions {
  database: Database;
  current: Config;
  alternative: Config;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /**
   * Epoch ms: usage from here to `from` is replayed too, only so that it counts toward the
   * revenue-share caps (in both scenarios); it is not reported. Default: `from`.
   */
  capsFrom?: number;
  /** Default: the current config's `billing.period`. */
  periodUnit?: PeriodUnit;
  /** Rows read per page. Default 5000. */
  pageSize?: number;
  /** Told after every page: rows done and rows in the window. */
  onProgress?: (done: number, total: number) => void;
}

/** Figures of one scenario. Money in µUSD. */
export interface ScenarioFigures {
  /** Requests per deployment (`provider/upstream-model`), `(refused)` and `(not served)`. */
  served: Record<string, number>;
  revenue: bigint;
  cost: bigint;
  /** Partner accruals, by partner. */
  accruals: Record<string, bigint>;
  /** Sum of the accruals. */
  share: bigint;
  /** revenue − cost − share (as the billing reports define it). */
  margin: bigint;
}

/** One period (or the whole window) of a what-if. */
export interface WhatIfPeriod {
  period: string;
  startsAt: number;
  endsAt: number;
  requests: number;
  /** Requests the alternative sends to another deployment (or refuses). */
  moved: number;
  baseline: ScenarioFigures;
  alternative: ScenarioFigures;
}

/** The result of a what-if. */
export interface WhatIfReport {
  from: number;
  to: number;
  unit: PeriodUnit;
  periods: WhatIfPeriod[];
  total: WhatIfPeriod;
}

/** Served-count key of a request that would have been refused under the alternative. */
export const REFUSED = '(refused)';
/** Served-count key of a request no deployment served (all attempts failed). */
export const NOT_SERVED = '(not served)';

/** Runs a what-if over the stored usage of `[from, to)`. */
export async function runWhatIf(options: WhatIfOptions): Promise<WhatIfReport> {
  const unit = options.periodUnit ?? options.current.billing.period;
  const capsFrom = Math.min(options.capsFrom ?? options.from, options.from);
  const scan = {
    from: capsFrom,
    to: options.to,
    ...(options.pageSize !== undefined && { pageSize: options.pageSize }),
  };
  const total = await countUsage(options.database, scan);
  const baseline = createDryLedger(options.current);
  const alternative = createDryLedger(options.alternative);
  const choose = createChooser(options.alternative, alternative);
  const periods: WhatIfPeriod[] = [];
  let period: WhatIfPeriod | undefined;
  let done = 0;
  options.onProgress?.(0, total);
  for await (const page of usageInOrder(options.database, scan)) {
    for (const event of page) {
      if (event.createdAt < options.from) {
        // Before the window: only the running totals of the clauses move.
        if (event.deployment === null) continue;
        baseline.post(event);
        const choice = choose(event);
        if (choice !== null) alternative.post(replayedOn(event, choice));
        continue;
      }
      if (!period || event.createdAt >= period.endsAt || event.createdAt < period.startsAt) {
        period = emptyPeriod(periodOf(event.createdAt, unit));
        periods.push(period);
      }
      period.requests += 1;
      if (event.deployment === null) {
        count(period.baseline, NOT_SERVED);
        count(period.alternative, NOT_SERVED);
        continue;
      }
      const servedKey = `${event.deployment}/${event.upstreamModel ?? ''}`;
      count(period.baseline, servedKey);
      add(period.baseline, baseline.post(event));
      const choice = choose(event);
      if (choice === null) {
        count(period.alternative, REFUSED);
        period.moved += 1;
        continue;
      }
      count(period.alternative, choice.key);
      if (choice.key !== servedKey) period.moved += 1;
      add(period.alternative, alternative.post(replayedOn(event, choice)));
    }
    done += page.length;
    options.onProgress?.(done, Math.max(total, done));
  }
  // Periods come out in time order (rows are read in time order), each once.
  return {
    from: options.from,
    to: options.to,
    unit,
    periods,
    total: sum(periods, options.from, options.to),
  };
}

/** The event as the chosen deployment would have served it. */
function replayedOn(event: UsageEvent, choice: Deployment): UsageEvent {
  if (
    choice.provider === event.deployment &&
    choice.upstreamModel === event.upstreamModel &&
    choice.partner === event.partner
  )
    return event;
  return merged(event, {
    deployment: choice.provider,
    upstreamModel: choice.upstreamModel,
    partner: choice.partner,
  });
}

function emptyFigures(): ScenarioFigures {
  return { served: {}, revenue: 0n, cost: 0n, accruals: {}, share: 0n, margin: 0n };
}

function emptyPeriod(bounds: PeriodBounds): WhatIfPeriod {
  return {
    period: bounds.id,
    startsAt: bounds.startsAt,
    endsAt: bounds.endsAt,
    requests: 0,
    moved: 0,
    baseline: emptyFigures(),
    alternative: emptyFigures(),
  };
}

function count(figures: ScenarioFigures, key: string, requests = 1): void {
  figures.served[key] = (figures.served[key] ?? 0) + requests;
}

function add(figures: ScenarioFigures, posting: DryPosting): void {
  if (posting.revenue === 0n && posting.cost === 0n && posting.accruals.length === 0) return;
  figures.revenue += posting.revenue;
  figures.cost += posting.cost;
  let share = 0n;
  for (const accrual of posting.accruals) {
    figures.accruals[accrual.partner] = (figures.accruals[accrual.partner] ?? 0n) + accrual.amount;
    share += accrual.amount;
  }
  figures.share += share;
  figures.margin += posting.revenue - posting.cost - share;
}

function merge(into: ScenarioFigures, from: ScenarioFigures): void {
  for (const [key, requests] of Object.entries(from.served)) count(into, key, requests);
  into.revenue += from.revenue;
  into.cost += from.cost;
  for (const [partner, amount] of Object.entries(from.accruals))
    into.accruals[partner] = (into.accruals[partner] ?? 0n) + amount;
  into.share += from.share;
  into.margin += from.margin;
}

function sum(periods: readonly WhatIfPeriod[], from: number, to: number): WhatIfPeriod {
  const total = emptyPeriod({ id: 'total', startsAt: from, endsAt: to });
  for (const period of periods) {
    total.requests += period.requests;
    total.moved += period.moved;
    merge(total.baseline, period.baseline);
    merge(total.alternative, period.alternative);
  }
  return total;
}
