import type { Config, PartnerConfig } from '../config/index.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { Database, UsageEvent } from '../store/index.js';
import { billingDb } from '../store/billing/schema.js';
import { type ClauseRecord, billingTransaction } from '../store/billing/store.js';
import {
  allClauses,
  balances,
  listPeriods,
  type PeriodRecord,
  requestTransactions,
  statementSubjects,
  unbalancedTransactions,
} from '../store/billing/queries.js';
import { type AdjustmentResult, credit, refund, reverse } from './adjustments.js';
import { type ClauseChange, putClause, retireClause, syncAgreements } from './agreement-sync.js';
import { termsFromConfig } from './agreements.js';
import { createMeter } from './meter.js';
import { parsePeriod, type PeriodUnit } from './periods.js';
import { type PostUsageDeps, postUsage, type UsageOutcome } from './post-usage.js';
import { createRater } from './rating.js';
import { report, type ReportQuery, type ReportRow } from './reports.js';
import { closePeriod, getStatement, type Statement, type StatementKind } from './statements.js';
import { merged } from '../core/objects.js';

/** Options of {@link createBilling}. */
export interface BillingOptions {
  /** `billing.period` sets the period length; absent (a store-only CLI run) means `month`. */
  config: Pick<Config, 'models' | 'partners'> & {
    billing?: Pick<Config['billing'], 'period'> | undefined;
  };
  database: Database;
  clock?: Clock;
  /** Length of accounting periods; overrides the config's `billing.period`. Default: the config's, else `month`. */
  periodUnit?: PeriodUnit | undefined;
  /** Largest group commit. Default 2000. */
  maxBatch?: number;
  /**
   * Group commits in flight at once. Default 1: every batch takes the clause locks, so a second
   * one mostly waits, and measured throughput was best with one (bench/metering.ts).
   */
  concurrency?: number;
  /** Told after each group commit of usage events: its duration, ms, and its size (telemetry). */
  onCommit?: (ms: number, events: number) => void;
  /** Told the revenue-share clause totals each committed posting moved (`lowest-net-cost` routing). */
  onClauseTotals?: PostUsageDeps['onClauseTotals'];
}

/**
 * The commerce plane: meters usage events into the ledger, keeps partner agreements, books
 * refunds, credits and reversals, closes periods into frozen statements, and reports.
 */
export interface Billing {
  /**
   * The gateway's usage sink: writes the usage row and its ledger transaction (revenue, cost,
   * partner accruals, rollups) in one database transaction, batched with concurrent events.
   */
  record(event: UsageEvent): Promise<UsageOutcome>;
  /** Applies the config's revenue-share clauses to the store. Call once at start-up. */
  start(): Promise<Record<string, ClauseChange>>;
  /** Waits until every recorded event is committed. */
  flush(): Promise<void>;
  refund(input: {
    requestId: string;
    amount?: bigint;
    id?: string;
    memo?: string;
  }): Promise<AdjustmentResult>;
  credit(input: {
    tenantId: string;
    amount: bigint;
    id?: string;
    memo?: string;
  }): Promise<AdjustmentResult>;
  reverse(input: { transactionId: string; memo?: string }): Promise<AdjustmentResult>;
  closePeriod(
    period: string,
  ): Promise<{ period: string; closed: boolean; statements: Array<{ id: string; hash: string }> }>;
  periods(): Promise<PeriodRecord[]>;
  statement(kind: StatementKind, subject: string, period: string): Promise<Statement>;
  /**
   * Tenants with charges, refunds or credits booked in `period`, sorted: the customers that get a
   * statement when it closes (the same query the close uses), for exports of every statement.
   */
  customers(period: string): Promise<string[]>;
  report(query: ReportQuery): Promise<ReportRow[]>;
  clauses(): Promise<ClauseRecord[]>;
  /** Sets a partner's revenue-share clause through the admin API (wins over the config). */
  putAgreement(
    partner: string,
    revenueShare: NonNullable<PartnerConfig['revenueShare']>,
  ): Promise<ClauseChange>;
  /** Removes an admin clause (the config's applies again at the next start). */
  removeAgreement(partner: string): Promise<ClauseChange>;
  balances(throughPeriod?: string): Promise<Map<string, bigint>>;
  /** Ledger transactions of a request with their legs. */
  transactions(requestId: string): ReturnType<typeof requestTransactions>;
  /** Ledger checks: the whole ledger and every transaction net to zero. */
  check(): Promise<{ balanced: boolean; total: bigint; unbalanced: string[] }>;
  readonly periodUnit: PeriodUnit;
}

/**
 * Creates the billing service over a migrated database.
 * @example
 * const billing = createBilling({ config, database });
 * await billing.start();
 * const gateway = createGateway({ ..., usage: billing });
 */
export function createBilling(options: BillingOptions): Billing {
  const { database, config } = options;
  const clock = options.clock ?? systemClock;
  const periodUnit = options.periodUnit ?? config.billing?.period ?? 'month';
  const rater = createRater(config);
  const deps = { database, now: clock, periodUnit };
  const statementDeps = merged(deps, {
    partners: Object.keys(config.partners).filter(
      (id) => config.partners[id]?.revenueShare !== undefined,
    ),
  });
  const meter = createMeter({
    post: (events) =>
      postUsage(merged(deps, { rater, onClauseTotals: options.onClauseTotals }), events),
    maxBatch: options.maxBatch ?? 2000,
    concurrency: options.concurrency ?? 1,
    ...(options.onCommit && { onCommit: options.onCommit }),
  });
  const db = billingDb(database);

  return {
    periodUnit,
    record: (event) => meter.record(event),
    start: () => syncAgreements(database, config, clock()),
    flush: () => meter.flush(),
    refund: (input) => refund(deps, input),
    credit: (input) => credit(deps, input),
    reverse: (input) => reverse(deps, input),
    closePeriod: (period) => closePeriod(statementDeps, period),
    periods: () => listPeriods(db),
    statement: (kind, subject, period) => getStatement(statementDeps, kind, subject, period),
    customers: async (period) =>
      (await statementSubjects(db, parsePeriod(period, periodUnit).id)).customers,
    report: (query) => report(database, query),
    clauses: () => allClauses(db),
    putAgreement: (partner, revenueShare) =>
      billingTransaction(database, (tx) =>
        putClause(tx, termsFromConfig(partner, revenueShare), 'admin', clock()),
      ),
    removeAgreement: (partner) =>
      billingTransaction(database, (tx) => retireClause(tx, partner, 'admin', clock())),
    balances: (throughPeriod) => balances(db, throughPeriod),
    transactions: (requestId) => requestTransactions(db, requestId),
    async check() {
      const all = await balances(db);
      const total = [...all.values()].reduce((sum, value) => sum + value, 0n);
      const unbalanced = await unbalancedTransactions(db);
      return { balanced: total === 0n && unbalanced.length === 0, total, unbalanced };
    },
  };
}
