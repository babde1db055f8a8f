import type { Insertable, Selectable } from 'kysely';
import { toBigInt, toNumberOrNull } from '../internal/convert.js';
import type { BillingClausesTable } from './schema.js';
import type { UsageEventsTable } from '../schema.js';
import { type UsageEvent, usageFromRow as usageEventFromRow } from '../usage/repository.js';

/**
 * Row mappings used by the billing store. The `usage_events` mapping matches the usage
 * repository's, so billing can insert usage rows in its own transaction.
 */

/** A ledger transaction about to be written, with its legs and clause lines. */
export interface LedgerPostingRow {
  id: string;
  kind: 'usage' | 'refund' | 'credit' | 'reversal';
  requestId: string | null;
  dimensions: Dimensions;
  effectiveAt: number;
  postedAt: number;
  period: string;
  adjustsPeriod: string | null;
  reverses: string | null;
  payloadHash: string;
  priceVersion: number | null;
  revenue: bigint;
  cost: bigint;
  share: bigint;
  memo: string | null;
  entries: Array<{ account: string; amount: bigint }>;
  /** Sequence number of `entries[0]` (default 0): legs before it were written with `insertEntries`. */
  entriesFrom?: number;
  shareLines: Array<{
    clauseId: string;
    partner: string;
    basisDelta: bigint;
    accrualDelta: bigint;
  }>;
}

/** The reporting dimensions of a posting or rollup; '' stands for none. */
export interface Dimensions {
  tenantId: string;
  projectId: string;
  keyId: string;
  model: string;
  deployment: string;
  partner: string;
}

/** Additions to one hourly rollup row. */
export interface RollupDelta extends Dimensions {
  /** Start of the hour, epoch ms. */
  bucket: number;
  requests: number;
  errors: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  revenue: bigint;
  cost: bigint;
  share: bigint;
  /** Prompt-cache writes, and their one-hour part. */
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
}

/** A stored revenue-share clause, as the store returns it. */
export interface ClauseRecord {
  id: string;
  partner: string;
  status: 'active' | 'retired';
  source: 'config' | 'admin';
  ratePpm: bigint;
  cap: bigint | null;
  currency: string;
  startsAt: number | null;
  endsAt: number | null;
  basis: 'gross' | 'net';
  clouds: string[] | null;
  models: string[] | null;
  clawback: 'reverse' | 'none';
  termsHash: string;
  basisTotal: bigint;
  accruedTotal: bigint;
}

/** Maps a usage event to its `usage_events` row: the usage repository's one mapping. */
export { assertUsageRow, usageRow } from '../usage/repository.js';

/** Reads back the fields of a stored usage row that billing needs (the usage repository's mapping). */
export function usageFromRow(row: Selectable<UsageEventsTable>): UsageEvent {
  return usageEventFromRow(row, false);
}

/** Maps a `billing_clauses` row to a {@link ClauseRecord}. */
export function clauseFromRow(row: Selectable<BillingClausesTable>): ClauseRecord {
  return {
    id: row.id,
    partner: row.partner,
    status: row.status === 'retired' ? 'retired' : 'active',
    source: row.source === 'admin' ? 'admin' : 'config',
    ratePpm: toBigInt(row.rate_ppm),
    cap: row.cap === null ? null : toBigInt(row.cap),
    currency: row.currency,
    startsAt: toNumberOrNull(row.starts_at),
    endsAt: toNumberOrNull(row.ends_at),
    basis: row.basis_kind === 'net' ? 'net' : 'gross',
    clouds: row.clouds === null ? null : (JSON.parse(row.clouds) as string[]),
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    clawback: row.clawback === 'none' ? 'none' : 'reverse',
    termsHash: row.terms_hash,
    basisTotal: toBigInt(row.basis_total),
    accruedTotal: toBigInt(row.accrued_total),
  };
}

/** Maps a clause to its row (without timestamps). */
export function clauseToRow(
  clause: ClauseRecord,
): Omit<Insertable<BillingClausesTable>, 'created_at' | 'updated_at'> {
  return {
    id: clause.id,
    partner: clause.partner,
    status: clause.status,
    source: clause.source,
    rate_ppm: clause.ratePpm,
    cap: clause.cap,
    currency: clause.currency,
    starts_at: clause.startsAt,
    ends_at: clause.endsAt,
    basis_kind: clause.basis,
    clouds: clause.clouds === null ? null : JSON.stringify(clause.clouds),
    models: clause.models === null ? null : JSON.stringify(clause.models),
    clawback: clause.clawback,
    terms_hash: clause.termsHash,
    basis_total: clause.basisTotal,
    accrued_total: clause.accruedTotal,
  };
}
