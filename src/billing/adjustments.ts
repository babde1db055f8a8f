import { createHash } from 'node:crypto';
import { randomId } from '../core/ids.js';
import { GatewayError, invalidRequest } from '../errors/index.js';
import type { Database } from '../store/index.js';
import {
  type BillingTx,
  billingTransaction,
  type Dimensions,
  type LedgerPostingRow,
  type StoredTransaction,
} from '../store/billing/store.js';
import { type Booking, bookings, type ClauseLedger, lockClauses, rollupFor } from './booking.js';
import { assertInt64, legs } from './legs.js';
import type { PeriodUnit } from './periods.js';

/**
 * Corrections and concessions, each one ledger transaction: refunds (of a request, all or part
 * of it), credits (an amount for a customer) and reversals (exact undoing of an earlier
 * transaction). Entries are never edited; these post new ones.
 *
 * Effect on partner accruals, by the running-total rule:
 * - refund of a request: for each clause the request counted toward, a `net` clause loses the
 *   refunded basis (never more than the request added, never below zero); with clawback
 *   `reverse` the accrual is recomputed down, with `none` it is kept. `gross` clauses and
 *   clauses the request never counted toward (sold before the agreement) are untouched.
 * - credit: tenant-level, no partner effect.
 * - reversal: undoes the basis the original moved, whatever the clause's basis and clawback
 *   (a correction says the sale did not happen), and recomputes the accrual.
 */

/** Dependencies of the adjustment operations. */
export interface AdjustmentDeps {
  database: Database;
  now: () => number;
  periodUnit: PeriodUnit;
}

/** The result of a refund, credit or reversal. */
export interface AdjustmentResult {
  transactionId: string;
  /** False when an earlier call with the same id already posted it (idempotent replay). */
  created: boolean;
  period: string;
  /** Effect on revenue (negative for refunds and credits), µUSD. */
  revenue: bigint;
  /** Effect on partner accruals, µUSD. */
  share: bigint;
}

/** Refunds all (default) or part of what a request was charged. `id` makes retries idempotent. */
export async function refund(
  deps: AdjustmentDeps,
  input: { requestId: string; amount?: bigint; id?: string; memo?: string },
): Promise<AdjustmentResult> {
  const id = `r:${input.id ?? randomId('rf_')}`;
  const hash = digest([
    'refund',
    input.requestId,
    input.amount === undefined ? null : String(input.amount),
  ]);
  return billingTransaction(deps.database, async (tx) => {
    const now = deps.now();
    const replay = await existing(tx, id, hash);
    if (replay) return replay;
    const usage = (await tx.usageRows([input.requestId], true)).get(input.requestId);
    if (!usage) throw notFound(`no usage recorded for request ${input.requestId}`);
    const charged = await tx.transaction(`u:${input.requestId}`);
    if (!charged) throw invalidRequest(`request ${input.requestId} was not charged`, 'request_id');
    const totals = await tx.requestTotals(input.requestId);
    const amount = input.amount ?? totals.revenue;
    if (amount <= 0n) throw invalidRequest('refund amount must be positive', 'amount');
    if (amount > totals.revenue)
      throw invalidRequest(
        `refund exceeds what remains of the charge (${totals.revenue} µUSD)`,
        'amount',
      );
    const booking = await bookingAt(tx, deps, now, now);
    const clauses = await lockClauses(tx, () => false, [...totals.basisByClause.keys()]);
    const lines: LedgerPostingRow['shareLines'] = [];
    for (const [clauseId, remaining] of totals.basisByClause) {
      const clause = clauses.get(clauseId);
      if (!clause || clause.basis === 'gross' || remaining <= 0n) continue;
      const basisDelta = -(amount < remaining ? amount : remaining);
      const accrual = clauses.apply(
        clauseId,
        basisDelta,
        clause.clawback === 'reverse' ? 'down' : 'hold',
      );
      lines.push({ clauseId, partner: clause.partner, basisDelta, accrualDelta: accrual });
    }
    return write(tx, clauses, booking, {
      id,
      kind: 'refund',
      requestId: input.requestId,
      dimensions: charged.dimensions,
      effectiveAt: now,
      now,
      reverses: null,
      hash,
      revenue: -amount,
      cost: 0n,
      lines,
      memo: input.memo ?? null,
    });
  });
}

/** Credits a customer an amount (not tied to a request; no partner effect). */
export async function credit(
  deps: AdjustmentDeps,
  input: { tenantId: string; amount: bigint; id?: string; memo?: string },
): Promise<AdjustmentResult> {
  if (input.amount <= 0n) throw invalidRequest('credit amount must be positive', 'amount');
  assertInt64(input.amount, 'credit');
  const id = `c:${input.id ?? randomId('cr_')}`;
  const hash = digest(['credit', input.tenantId, String(input.amount)]);
  return billingTransaction(deps.database, async (tx) => {
    const now = deps.now();
    const replay = await existing(tx, id, hash);
    if (replay) return replay;
    const dimensions: Dimensions = {
      tenantId: input.tenantId,
      projectId: '',
      keyId: '',
      model: '',
      deployment: '',
      partner: '',
    };
    const booking = await bookingAt(tx, deps, now, now);
    const clauses = await lockClauses(tx, () => false);
    return write(tx, clauses, booking, {
      id,
      kind: 'credit',
      requestId: null,
      dimensions,
      effectiveAt: now,
      now,
      reverses: null,
      hash,
      revenue: -input.amount,
      cost: 0n,
      lines: [],
      memo: input.memo ?? null,
    });
  });
}

/**
 * Reverses a transaction: its revenue and cost legs negated, its clause basis undone (accruals
 * recomputed). Dated at the original's time, so a reversal of a closed period's transaction is
 * booked as an adjustment in the open one. A usage transaction with refunds outstanding cannot
 * be reversed (reverse the refunds first); a reversal cannot be reversed.
 */
export async function reverse(
  deps: AdjustmentDeps,
  input: { transactionId: string; memo?: string },
): Promise<AdjustmentResult> {
  const id = `x:${input.transactionId}`;
  const hash = digest(['reversal', input.transactionId]);
  return billingTransaction(deps.database, async (tx) => {
    const now = deps.now();
    const replay = await existing(tx, id, hash);
    if (replay) return replay;
    const original = await tx.transaction(input.transactionId, true);
    if (!original) throw notFound(`no ledger transaction ${input.transactionId}`);
    if (original.kind === 'reversal')
      throw invalidRequest('a reversal cannot be reversed', 'transaction_id');
    if (original.kind === 'usage' && original.requestId !== null) {
      if (!(await tx.usageRows([original.requestId], true)).has(original.requestId))
        throw notFound(`no usage for ${original.requestId}`);
      const totals = await tx.requestTotals(original.requestId);
      if (totals.revenue !== original.revenue)
        throw conflictError(`request ${original.requestId} has refunds; reverse them first`);
    }
    const originalLines = await tx.shareLines(original.id);
    const booking = await bookingAt(tx, deps, original.effectiveAt, now);
    const clauses = await lockClauses(
      tx,
      () => false,
      originalLines.map((line) => line.clauseId),
    );
    const lines = originalLines.map((line) => {
      const basisDelta = -line.basisDelta;
      const accrual = clauses.apply(line.clauseId, basisDelta, basisDelta > 0n ? 'up' : 'down');
      return { clauseId: line.clauseId, partner: line.partner, basisDelta, accrualDelta: accrual };
    });
    return write(tx, clauses, booking, {
      id,
      kind: 'reversal',
      requestId: original.requestId,
      dimensions: original.dimensions,
      effectiveAt: original.effectiveAt,
      now,
      reverses: original.id,
      hash,
      revenue: -original.revenue,
      cost: -original.cost,
      lines,
      memo: input.memo ?? null,
    });
  });
}

interface Draft {
  id: string;
  kind: LedgerPostingRow['kind'];
  requestId: string | null;
  dimensions: Dimensions;
  effectiveAt: number;
  now: number;
  reverses: string | null;
  hash: string;
  revenue: bigint;
  cost: bigint;
  lines: LedgerPostingRow['shareLines'];
  memo: string | null;
}

/** Periods are locked before clauses, in every transaction (see store/billing/store.ts). */
async function bookingAt(
  tx: BillingTx,
  deps: AdjustmentDeps,
  at: number,
  now: number,
): Promise<Booking> {
  return (await bookings(tx, [at], now, deps.periodUnit))(at);
}

async function write(
  tx: BillingTx,
  clauses: ClauseLedger,
  booking: Booking,
  draft: Draft,
): Promise<AdjustmentResult> {
  const share = draft.lines.reduce((sum, line) => sum + line.accrualDelta, 0n);
  await clauses.save(draft.now);
  await tx.insertPostings([
    {
      id: draft.id,
      kind: draft.kind,
      requestId: draft.requestId,
      dimensions: draft.dimensions,
      effectiveAt: draft.effectiveAt,
      postedAt: draft.now,
      period: booking.period,
      adjustsPeriod: booking.adjustsPeriod,
      reverses: draft.reverses,
      payloadHash: draft.hash,
      priceVersion: null,
      revenue: draft.revenue,
      cost: draft.cost,
      share,
      memo: draft.memo,
      entries: legs({
        tenantId: draft.dimensions.tenantId,
        provider: draft.dimensions.deployment,
        revenue: draft.revenue,
        cost: draft.cost,
        accruals: draft.lines.map((line) => ({ partner: line.partner, amount: line.accrualDelta })),
      }),
      shareLines: draft.lines,
    },
  ]);
  const rollup = rollupFor(draft.dimensions, draft.effectiveAt);
  rollup.revenue = draft.revenue;
  rollup.cost = draft.cost;
  rollup.share = share;
  await tx.addRollups([rollup]);
  return {
    transactionId: draft.id,
    created: true,
    period: booking.period,
    revenue: draft.revenue,
    share,
  };
}

async function existing(
  tx: BillingTx,
  id: string,
  hash: string,
): Promise<AdjustmentResult | undefined> {
  const found: StoredTransaction | undefined = await tx.transaction(id);
  if (!found) return undefined;
  if (found.payloadHash !== hash)
    throw conflictError(`transaction ${id} already exists with different terms`);
  return {
    transactionId: found.id,
    created: false,
    period: found.period,
    revenue: found.revenue,
    share: found.share,
  };
}

function digest(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

function notFound(message: string): GatewayError {
  return new GatewayError(message, { code: 'not_found', status: 404, retryable: false });
}

function conflictError(message: string): GatewayError {
  return new GatewayError(message, {
    code: 'invalid_request',
    status: 409,
    errorClass: 'conflict',
    retryable: false,
  });
}
