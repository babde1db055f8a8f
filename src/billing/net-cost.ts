import type { Config } from '../config/index.js';
import type { Usage } from '../core/usage.js';
import { withStoreTimeout } from '../errors/index.js';
import type { Database } from '../store/index.js';
import { allClauses } from '../store/billing/queries.js';
import type { ClauseRecord } from '../store/billing/rows.js';
import { billingDb } from '../store/billing/schema.js';
import { type ClauseTerms, counts, type Sale, shareOf } from './agreements.js';
import { costMicros, createPriceBook, type ModelPrice, parsePrice } from './prices.js';
import { merged } from '../core/objects.js';

/**
 * The money side of `lowest-net-cost` routing (src/router/net-cost.ts): the cloud's price and
 * the customer's price of a request's expected tokens, rated as the ledger rates them, and the
 * revenue share one more sale adds at the margin, computed with the ledger's own rule
 * (`shareOf(basis + revenue) − accrued`, so the cap and the window apply exactly as booking
 * applies them) from clause totals kept in memory.
 *
 * The totals come from the shared store (`billing_clauses`), re-read in the background every
 * `intervalMs` so every replica sees the others' bookings, and updated at once when this
 * process books an accrual (billing's `onClauseTotals`). Routing never waits on the store.
 */

/** Where a clause stands for one more sale (the router's `ShareState`). */
export type MarginState = 'rate' | 'reaches-cap' | 'cap-reached' | 'before-window' | 'after-window';

/** One clause's marginal share for a sale (the router's `ShareFigure`). */
export interface MarginFigure {
  clause: string;
  partner: string;
  ratePpm: bigint;
  cap: bigint | null;
  basis: bigint;
  accrued: bigint;
  share: bigint;
  state: MarginState;
}

/** Terms and running totals of a clause, as the margin needs them. */
export type ClauseStand = ClauseTerms & { id: string; basisTotal: bigint; accruedTotal: bigint };

/**
 * The share `clause` would accrue on one more sale of `revenue` µUSD at `sale.at`: what the
 * ledger would post, `max(0, min(cap, floor((basis + revenue) × rate)) − accrued)`, and zero
 * outside `[from, until)`. Undefined when the clause does not cover the sale's partner, cloud
 * or model at all.
 */
export function marginalShare(
  clause: ClauseStand,
  sale: Sale,
  revenue: bigint,
): MarginFigure | undefined {
  // Scope (partner, clouds, models) is judged at an instant inside the window; the window next.
  const inside = clause.startsAt ?? (clause.endsAt === null ? sale.at : clause.endsAt - 1);
  if (!counts(clause, inside === sale.at ? sale : merged(sale, { at: inside }))) return undefined;
  const figure: MarginFigure = {
    clause: clause.id,
    partner: clause.partner,
    ratePpm: clause.ratePpm,
    cap: clause.cap,
    basis: clause.basisTotal,
    accrued: clause.accruedTotal,
    share: 0n,
    state: 'rate',
  };
  if (clause.startsAt !== null && sale.at < clause.startsAt) figure.state = 'before-window';
  else if (clause.endsAt !== null && sale.at >= clause.endsAt) figure.state = 'after-window';
  else if (clause.cap !== null && clause.accruedTotal >= clause.cap) figure.state = 'cap-reached';
  else {
    const basis = clause.basisTotal + (revenue > 0n ? revenue : 0n);
    const gap = shareOf(basis, clause) - clause.accruedTotal;
    figure.share = gap > 0n ? gap : 0n;
    if (clause.cap !== null && shareOf(basis, { ratePpm: clause.ratePpm, cap: null }) >= clause.cap)
      figure.state = 'reaches-cap';
  }
  return figure;
}

/** New running totals of a clause, as a posting saved them. */
export interface ClauseTotals {
  id: string;
  basis: bigint;
  accrued: bigint;
}

/** Active clauses with their running totals, kept current from the shared store. */
export interface AccrualCache {
  /** The margin figures of every active clause that covers `sale`. */
  shares(sale: Sale, revenue: bigint): MarginFigure[];
  /** Takes totals this process just committed (called after the posting's commit). */
  apply(totals: readonly ClauseTotals[]): void;
  /** Re-reads the clauses now (also what the background timer does). Never rejects. */
  refresh(): Promise<void>;
  /** Starts the background refresh, a read every `intervalMs` (call `refresh` for one now). */
  start(): void;
  stop(): void;
  /** When the last successful read finished (epoch ms), or undefined before the first. */
  readonly loadedAt: number | undefined;
}

/** Options of {@link createAccrualCache}. */
export interface AccrualCacheOptions {
  /** Reads every clause (active and retired); default: the store's `billing_clauses`. */
  load: () => Promise<ClauseRecord[]>;
  /** Background refresh interval, ms. Default 1000. */
  intervalMs?: number;
  /** Longest a read may take before it is abandoned (the figures kept), ms. Default 5000. */
  timeoutMs?: number;
  now: () => number;
  onError?: (error: unknown) => void;
}

/** Reads every clause of `database`. */
export function clauseLoader(database: Database): () => Promise<ClauseRecord[]> {
  const db = billingDb(database);
  return () => allClauses(db);
}

/** Creates the accrual cache (not yet refreshing: call `start`). */
export function createAccrualCache(options: AccrualCacheOptions): AccrualCache {
  const intervalMs = options.intervalMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 5000;
  let clauses: ClauseStand[] = [];
  let byId = new Map<string, ClauseStand>();
  let index = indexOf(clauses);
  /** The last decision's figures per partner (cleared whenever the clauses change). */
  const memo = {
    at: Number.NaN,
    revenue: -1n,
    model: null as string | null,
    byPartner: new Map<string | null, MarginFigure[]>(),
  };
  /** Clause id → local update sequence, so a read begun before a local booking does not undo it. */
  const touched = new Map<string, number>();
  let sequence = 0;
  let loadedAt: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  const read = async (): Promise<void> => {
    const began = sequence;
    try {
      const rows = await withStoreTimeout(options.load(), timeoutMs, 'accrual refresh');
      const next = rows.filter((row) => row.status === 'active').map((row) => ({ ...row }));
      for (const clause of next) {
        const local = byId.get(clause.id);
        // Booked here after this read began: the local figure is at least as new.
        if (local && (touched.get(clause.id) ?? -1) >= began) {
          clause.basisTotal = local.basisTotal;
          clause.accruedTotal = local.accruedTotal;
        }
      }
      clauses = next;
      byId = new Map(next.map((clause) => [clause.id, clause]));
      index = indexOf(next);
      memo.byPartner.clear();
      loadedAt = options.now();
    } catch (error) {
      options.onError?.(error);
    }
  };

  const refresh = (): Promise<void> => {
    inFlight ??= read().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  return {
    get loadedAt() {
      return loadedAt;
    },
    shares(sale, revenue) {
      // Clauses without `clouds` depend on the partner only: one routing decision asks for the
      // same instant, model and revenue for every deployment, so each partner is worked out once.
      const memoable = index.named.length === 0;
      if (memoable) {
        if (memo.at !== sale.at || memo.revenue !== revenue || memo.model !== sale.model) {
          memo.at = sale.at;
          memo.revenue = revenue;
          memo.model = sale.model;
          memo.byPartner.clear();
        }
        const known = memo.byPartner.get(sale.partner);
        if (known) return known;
      }
      const out: MarginFigure[] = [];
      const own = sale.partner === null ? undefined : index.own.get(sale.partner);
      for (const list of [own, index.named]) {
        if (!list) continue;
        for (const clause of list) {
          const figure = marginalShare(clause, sale, revenue);
          if (figure) out.push(figure);
        }
      }
      if (memoable) memo.byPartner.set(sale.partner, out);
      return out;
    },
    apply(totals) {
      sequence += 1;
      for (const total of totals) {
        const clause = byId.get(total.id);
        if (!clause) continue;
        clause.basisTotal = total.basis;
        clause.accruedTotal = total.accrued;
        touched.set(total.id, sequence);
      }
      memo.byPartner.clear();
    },
    refresh,
    start() {
      if (timer) return;
      timer = setInterval(() => void refresh(), intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

/**
 * Clauses by what they count: a partner's own sales (no `clouds`), found by partner; clauses
 * naming clouds are checked for every sale. Keeps a decision at a few clauses, not all.
 */
function indexOf(clauses: readonly ClauseStand[]) {
  const own = new Map<string, ClauseStand[]>();
  const named: ClauseStand[] = [];
  for (const clause of clauses) {
    if (clause.clouds !== null) named.push(clause);
    else {
      const list = own.get(clause.partner) ?? [];
      list.push(clause);
      own.set(clause.partner, list);
    }
  }
  return { own, named };
}

/** Token counts of an estimate as a usage block. */
function usageOf(estimate: { inputTokens: number; outputTokens: number }): Usage {
  return {
    inputTokens: estimate.inputTokens,
    cachedInputTokens: 0,
    outputTokens: estimate.outputTokens,
    reasoningTokens: 0,
  };
}

/** A price's input and output rates as Numbers (exact: µUSD per 1M tokens are small integers). */
const asNumbers = new WeakMap<ModelPrice, [number, number]>();

/**
 * `costMicros(estimate, price, 'half-even')`, computed in exact integer Number arithmetic while
 * every product stays below 2^53 (a routing decision prices 50 deployments; bigint arithmetic
 * was most of its time), else in bigint. Equal to the bigint result in both cases.
 */
export function priceOf(
  estimate: { inputTokens: number; outputTokens: number },
  price: ModelPrice,
): bigint {
  let numbers = asNumbers.get(price);
  if (!numbers) asNumbers.set(price, (numbers = [Number(price.input), Number(price.output)]));
  const [input, output] = numbers;
  const picos = estimate.inputTokens * input + estimate.outputTokens * output;
  if (
    !Number.isSafeInteger(picos) ||
    !Number.isSafeInteger(estimate.inputTokens * input) ||
    !Number.isSafeInteger(estimate.outputTokens * output)
  )
    return costMicros(usageOf(estimate), price, 'half-even');
  const remainder = picos % 1_000_000;
  const quotient = (picos - remainder) / 1_000_000;
  if (remainder * 2 > 1_000_000 || (remainder * 2 === 1_000_000 && quotient % 2 === 1))
    return BigInt(quotient + 1);
  return BigInt(quotient);
}

/**
 * The router's `NetCostSource` over the config's prices and an {@link AccrualCache}: cloud
 * price and customer price rated like the ledger rates them (half to even, once), shares from
 * the cache.
 */
export function createNetCostSource(config: Pick<Config, 'models'>, accruals: AccrualCache) {
  const book = createPriceBook(config.models);
  const costs = new Map<string, ModelPrice>();
  /** Each deployment's cost price, found once per deployment object (routing's hot path). */
  const prepared = new WeakMap<object, ModelPrice | null>();
  for (const [name, model] of Object.entries(config.models))
    for (const deployment of model.deployments)
      if (deployment.cost)
        costs.set(
          `${name}\u0000${deployment.provider}\u0000${deployment.model}`,
          parsePrice(deployment.cost),
        );
  return {
    cloudCost(
      model: string,
      deployment: { provider: string; upstreamModel: string },
      estimate: { inputTokens: number; outputTokens: number },
      at: number,
    ): bigint | undefined {
      let price = prepared.get(deployment);
      if (price === undefined) {
        price =
          costs.get(`${model}\u0000${deployment.provider}\u0000${deployment.upstreamModel}`) ??
          null;
        prepared.set(deployment, price);
      }
      if (!price || (price.effective !== undefined && price.effective > at)) return undefined;
      return priceOf(estimate, price);
    },
    revenue(model: string, estimate: { inputTokens: number; outputTokens: number }, at: number) {
      const price = book.at(model, at);
      return price ? priceOf(estimate, price) : 0n;
    },
    shares: (sale: Sale, revenue: bigint) => accruals.shares(sale, revenue),
  };
}
