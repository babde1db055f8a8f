import type { Dialect } from '../database.js';
import type { BillingDb } from './schema.js';
import type { ClauseRecord, Dimensions, LedgerPostingRow, RollupDelta } from './rows.js';
import type { UsageEvent } from '../usage/repository.js';

/** The operations of one billing transaction (implemented in `store.ts`). */

/** Period status as seen inside a billing transaction. */
export interface PeriodState {
  id: string;
  status: 'open' | 'closed';
}

/** Operations available inside one billing transaction. */
export interface BillingTx {
  readonly dialect: Dialect;
  readonly db: BillingDb;
  /** Inserts usage rows (sorted by request id); returns the ids that were new. */
  insertUsage(events: readonly UsageEvent[]): Promise<Set<string>>;
  /** Stored usage rows by request id; `lock` takes a row lock on Postgres. */
  usageRows(ids: readonly string[], lock?: boolean): Promise<Map<string, UsageEvent>>;
  /** Creates missing periods (open) and returns their states, locked against closing until commit. */
  periods(
    periods: ReadonlyArray<{ id: string; startsAt: number; endsAt: number }>,
  ): Promise<Map<string, PeriodState>>;
  /** Marks a period closed (creating it if needed); false when it already was. Locks it exclusively. */
  closePeriod(
    period: { id: string; startsAt: number; endsAt: number },
    now: number,
  ): Promise<boolean>;
  /** Stores frozen statements. */
  insertStatements(
    rows: ReadonlyArray<{
      id: string;
      kind: string;
      subject: string;
      period: string;
      hash: string;
      entryCount: number;
      body: string;
    }>,
    now: number,
  ): Promise<void>;
  /** Active clauses, not locked. */
  activeClauses(): Promise<ClauseRecord[]>;
  /** Every clause of a partner (any status), locked until commit. */
  partnerClauses(partner: string): Promise<ClauseRecord[]>;
  /** Re-reads and locks clauses (id order) until commit. */
  lockClauses(ids: readonly string[]): Promise<ClauseRecord[]>;
  /** Writes clause running totals. */
  saveTotals(
    totals: ReadonlyArray<{ id: string; basis: bigint; accrued: bigint }>,
    now: number,
  ): Promise<void>;
  /** Inserts or replaces a clause definition (totals included). */
  putClause(clause: ClauseRecord, now: number): Promise<void>;
  /** Writes ledger entries on their own (legs of transactions written later in the same database transaction). */
  insertEntries(
    entries: ReadonlyArray<{
      transactionId: string;
      seq: number;
      account: string;
      amount: bigint;
      period: string;
    }>,
  ): Promise<void>;
  /** Writes ledger transactions, their entries and clause lines. */
  insertPostings(postings: readonly LedgerPostingRow[]): Promise<void>;
  /** Adds to hourly rollups. */
  addRollups(deltas: readonly RollupDelta[]): Promise<void>;
  /** A ledger transaction (without legs), or undefined. `lock` takes a row lock on Postgres. */
  transaction(id: string, lock?: boolean): Promise<StoredTransaction | undefined>;
  /** Net revenue of every transaction of a request, and its remaining basis per clause. */
  requestTotals(
    requestId: string,
  ): Promise<{ revenue: bigint; basisByClause: Map<string, bigint> }>;
  /** Clause lines of one transaction. */
  shareLines(
    transactionId: string,
  ): Promise<
    Array<{ clauseId: string; partner: string; basisDelta: bigint; accrualDelta: bigint }>
  >;
}

/** A stored ledger transaction header. */
export interface StoredTransaction {
  id: string;
  kind: LedgerPostingRow['kind'];
  requestId: string | null;
  dimensions: Dimensions;
  effectiveAt: number;
  postedAt: number;
  period: string;
  adjustsPeriod: string | null;
  reverses: string | null;
  payloadHash: string;
  revenue: bigint;
  cost: bigint;
  share: bigint;
  memo: string | null;
}
