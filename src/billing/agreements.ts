import { createHash } from 'node:crypto';
import type { PartnerConfig } from '../config/index.js';
import { decimalToScaled, MICROS } from '../core/money.js';

/**
 * Revenue-share clauses: their terms, which sales they count, and the running-total rule.
 *
 * A clause keeps two running totals: `basis` (revenue counted, µUSD) and `accrued` (share owed,
 * µUSD). After every change of basis the share owed is recomputed from the totals,
 * `target = min(cap, floor(basis × rate))`, and only `target − accrued` is posted. Rounding
 * therefore never accumulates: 20% of 1 µUSD, a million times, is exactly 200,000 µUSD in any
 * order, and the cap is never passed.
 */

/** The terms of one revenue-share clause (`partners.<id>.revenueShare`), as integers. */
export interface ClauseTerms {
  partner: string;
  /** Parts per million: `"0.20"` → 200000n. */
  ratePpm: bigint;
  /** µUSD; null = no cap. */
  cap: bigint | null;
  currency: string;
  /** Epoch ms, inclusive; null = since forever. */
  startsAt: number | null;
  /** Epoch ms, exclusive; null = forever. */
  endsAt: number | null;
  /** `net`: refunds reduce the basis; `gross`: they do not. */
  basis: 'gross' | 'net';
  /** Provider or partner ids whose sales count; null = sales served by the partner itself. */
  clouds: string[] | null;
  /** Model patterns (`gpt-*`) that count; null = all. */
  models: string[] | null;
  /** What a refund does to accruals already made. */
  clawback: 'reverse' | 'none';
}

/** A stored clause: terms plus identity and running totals. */
export interface Clause extends ClauseTerms {
  id: string;
  status: 'active' | 'retired';
  source: 'config' | 'admin';
  basisTotal: bigint;
  accruedTotal: bigint;
}

/** What a sale looks like to a clause. */
export interface Sale {
  /** Partner that served it. */
  partner: string | null;
  /** Provider id (cloud) that served it. */
  deployment: string | null;
  model: string | null;
  /** When it happened (a stream's start), epoch ms. */
  at: number;
}

/** How a basis change moves the accrual. */
export type AccrualMode =
  /** Recompute; only an increase is posted (charges, reversed refunds). */
  | 'up'
  /** Recompute; only a decrease is posted (clawback on refunds and reversals). */
  | 'down'
  /** Keep the accrual as it is (refund without clawback). */
  | 'hold';

/** Running totals of a clause after a change, and the accrual to post. */
export interface AccrualStep {
  basis: bigint;
  accrued: bigint;
  /** Accrual to post (µUSD); negative for a clawback. */
  delta: bigint;
}

/**
 * Reads `partners.<partner>.revenueShare` into integer terms. Only USD agreements are
 * supported (the ledger is µUSD); a rate outside [0, 1] or with more than six decimals throws.
 * @example termsFromConfig('azure', { revenueShare: { rate: '0.20', ... } }).ratePpm === 200000n
 */
export function termsFromConfig(
  partner: string,
  config: NonNullable<PartnerConfig['revenueShare']>,
): ClauseTerms {
  const ratePpm = decimalToScaled(config.rate, 6);
  if (ratePpm < 0n || ratePpm > MICROS)
    throw new RangeError(`partners.${partner}.revenueShare.rate must be between 0 and 1`);
  const cap = config.cap === undefined ? null : decimalToScaled(config.cap, 6);
  if (cap !== null && cap < 0n)
    throw new RangeError(`partners.${partner}.revenueShare.cap must not be negative`);
  if (config.currency.toUpperCase() !== 'USD') {
    throw new RangeError(
      `partners.${partner}.revenueShare.currency: only USD is supported (the ledger is in µUSD)`,
    );
  }
  return {
    partner,
    ratePpm,
    cap,
    currency: 'USD',
    startsAt: config.from ?? null,
    endsAt: config.until ?? null,
    basis: config.basis,
    clouds: config.clouds ?? null,
    models: config.models ?? null,
    clawback: config.clawback,
  };
}

/**
 * Hash of the terms that define the accrual formula: rate, basis, scope, start and currency.
 * A clause whose hash changes after it accrued is retired and replaced by a new version; cap,
 * end and clawback policy may change in place.
 */
export function termsHash(terms: ClauseTerms): string {
  const fixed = [
    terms.partner,
    String(terms.ratePpm),
    terms.currency,
    terms.startsAt,
    terms.basis,
    terms.clouds,
    terms.models,
  ];
  return createHash('sha256').update(JSON.stringify(fixed)).digest('hex');
}

/** True when `sale` counts toward `clause`: in its window (`[from, until)` on the sale's start), cloud and models. */
export function counts(clause: ClauseTerms, sale: Sale): boolean {
  if (clause.startsAt !== null && sale.at < clause.startsAt) return false;
  if (clause.endsAt !== null && sale.at >= clause.endsAt) return false;
  if (clause.clouds === null) {
    if (sale.partner !== clause.partner) return false;
  } else if (!clause.clouds.some((cloud) => cloud === sale.deployment || cloud === sale.partner)) {
    return false;
  }
  if (clause.models !== null) {
    const model = sale.model ?? '';
    if (
      !clause.models.some((pattern) =>
        pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : pattern === model,
      )
    )
      return false;
  }
  return true;
}

/** The share owed on `basis`: `min(cap, floor(basis × rate))`, never negative. */
export function shareOf(basis: bigint, terms: Pick<ClauseTerms, 'ratePpm' | 'cap'>): bigint {
  const share = basis <= 0n ? 0n : (basis * terms.ratePpm) / MICROS;
  return terms.cap !== null && share > terms.cap ? terms.cap : share;
}

/**
 * Applies a basis change to a clause's running totals. The basis never goes below zero.
 * @example accrue({ basis: 4n, accrued: 0n }, { ratePpm: 200000n, cap: null }, 1n, 'up') // → { basis: 5n, accrued: 1n, delta: 1n }
 */
export function accrue(
  state: { basis: bigint; accrued: bigint },
  terms: Pick<ClauseTerms, 'ratePpm' | 'cap'>,
  basisDelta: bigint,
  mode: AccrualMode,
): AccrualStep {
  const next = state.basis + basisDelta;
  const basis = next < 0n ? 0n : next;
  if (mode === 'hold') return { basis, accrued: state.accrued, delta: 0n };
  const gap = shareOf(basis, terms) - state.accrued;
  const delta = mode === 'up' ? (gap > 0n ? gap : 0n) : gap < 0n ? gap : 0n;
  return { basis, accrued: state.accrued + delta, delta };
}
