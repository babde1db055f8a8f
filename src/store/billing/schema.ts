import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { Int64, Int64Nullable, Schema } from '../schema.js';

/**
 * Tables of the commerce plane (migration `0004-billing`): a double-entry ledger
 * (`ledger_transactions` + `ledger_entries`), revenue-share clauses with their running totals,
 * per-request clause lines, accounting periods, frozen statements and hourly and daily rollups.
 *
 * Money is µUSD in 64-bit integer columns (read as `bigint`). Rows are append-only except
 * `billing_clauses` (running totals, serialised by a row lock), `billing_periods` (status) and
 * `billing_rollups` / `billing_rollups_daily` (counters).
 */

/** `ledger_transactions`: one row per posting (usage event, refund, credit, reversal). */
export interface LedgerTransactionsTable {
  /** `u:<requestId>`, `r:<refundId>`, `c:<creditId>`, `x:<reversedId>`. */
  id: string;
  /** usage | refund | credit | reversal */
  kind: string;
  request_id: string | null;
  tenant_id: string;
  project_id: string;
  /** '' when none (so the same value can key rollups). */
  key_id: string;
  model: string;
  /** Provider id (the cloud) that served the request, or ''. */
  deployment: string;
  /** Partner that served the request, or '' (never re-attributed). */
  partner: string;
  /** When it happened (usage: the request's start), epoch ms. Prices and windows use this. */
  effective_at: Int64;
  /** When it was written, epoch ms. */
  posted_at: Int64;
  /** Period it is booked in (`2026-11`). */
  period: string;
  /** The closed period this posting belongs to by `effective_at`, when booked later as an adjustment. */
  adjusts_period: string | null;
  /** Id of the transaction this one reverses. */
  reverses: string | null;
  /** SHA-256 of the billing-relevant payload (replays with another payload are refused). */
  payload_hash: string;
  /** Index of the model price version used, or null. */
  price_version: Int64Nullable;
  /** Net effect on revenue (µUSD, positive = earned); the sum of its revenue legs, negated. */
  revenue: Int64;
  /** Upstream cost (µUSD). */
  cost: Int64;
  /** Partner share accrued (µUSD, negative = clawed back). */
  share: Int64;
  memo: string | null;
}

/** `ledger_entries`: the legs of a transaction. Per transaction, `amount` sums to zero. */
export interface LedgerEntriesTable {
  transaction_id: string;
  seq: Int64;
  /** `receivable:<tenant>`, `revenue`, `cost:<provider>`, `cost_payable:<provider>`, `share_expense:<partner>`, `share_payable:<partner>`. */
  account: string;
  /** µUSD; debit positive, credit negative. */
  amount: Int64;
  period: string;
}

/** `billing_clauses`: revenue-share clauses with their running totals (the accumulator row). */
export interface BillingClausesTable {
  /** `<partner>` for the config clause, `<partner>@<n>` for later versions. */
  id: string;
  partner: string;
  /** active | retired */
  status: string;
  /** config | admin */
  source: string;
  /** Rate in parts per million (0.20 → 200000). */
  rate_ppm: Int64;
  /** µUSD, or null for no cap. */
  cap: Int64Nullable;
  currency: string;
  starts_at: Int64Nullable;
  /** Exclusive. */
  ends_at: Int64Nullable;
  /** gross | net */
  basis_kind: string;
  /** JSON array of provider or partner ids, or null (the partner's own). */
  clouds: string | null;
  /** JSON array of model patterns, or null (all). */
  models: string | null;
  /** reverse | none */
  clawback: string;
  /** Hash of the terms that fix the accrual formula (rate, basis, scope, start). */
  terms_hash: string;
  /** Revenue counted so far (µUSD). */
  basis_total: Int64;
  /** Share accrued so far (µUSD). */
  accrued_total: Int64;
  created_at: Int64;
  updated_at: Int64;
}

/** `billing_share_lines`: what one transaction did to one clause. */
export interface BillingShareLinesTable {
  transaction_id: string;
  clause_id: string;
  partner: string;
  request_id: string | null;
  basis_delta: Int64;
  accrual_delta: Int64;
  period: string;
}

/** `billing_periods`: accounting periods, created on first use. */
export interface BillingPeriodsTable {
  id: string;
  starts_at: Int64;
  ends_at: Int64;
  /** open | closed */
  status: string;
  closed_at: Int64Nullable;
}

/** `billing_statements`: statements frozen when their period closed. */
export interface BillingStatementsTable {
  /** `<kind>:<subject>:<period>` */
  id: string;
  /** partner | customer */
  kind: string;
  subject: string;
  period: string;
  /** SHA-256 over the statement's ledger entries. */
  hash: string;
  entry_count: Int64;
  /** JSON text: the statement as served. */
  body: string;
  created_at: Int64;
}

/** `billing_rollups`: hourly totals per dimension set, updated in the posting transaction. */
export interface BillingRollupsTable {
  /** Start of the hour, epoch ms. */
  bucket: Int64;
  tenant_id: string;
  project_id: string;
  key_id: string;
  model: string;
  deployment: string;
  partner: string;
  requests: Int64;
  errors: Int64;
  input_tokens: Int64;
  cached_input_tokens: Int64;
  output_tokens: Int64;
  reasoning_tokens: Int64;
  revenue: Int64;
  cost: Int64;
  share: Int64;
  /** Prompt-cache writes, and their one-hour part (migration 0014). */
  cache_write_tokens: Int64;
  cache_write_1h_tokens: Int64;
}

/** The billing tables, as Kysely sees them. */
// A type alias, not an interface: `withTables` needs an implicit index signature.
export type BillingTables = {
  ledger_transactions: LedgerTransactionsTable;
  ledger_entries: LedgerEntriesTable;
  billing_clauses: BillingClausesTable;
  billing_share_lines: BillingShareLinesTable;
  billing_periods: BillingPeriodsTable;
  billing_statements: BillingStatementsTable;
  billing_rollups: BillingRollupsTable;
  /** Same columns, `bucket` = start of the UTC day. */
  billing_rollups_daily: BillingRollupsTable;
};

/** The query builder over the shared schema plus the billing tables. */
export type BillingDb = Kysely<Schema & BillingTables>;

/** The database's query builder with the billing tables added to its type. */
export function billingDb(database: Database): BillingDb {
  return database.db.withTables<BillingTables>() as unknown as BillingDb;
}
