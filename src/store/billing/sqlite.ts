import type SqliteDatabase from 'better-sqlite3';
import {
  ENTRY_COLUMNS,
  entryValues,
  LINE_COLUMNS,
  postingValues,
  ROLLUP_COLUMNS,
  rollupUpsert,
  rollupValues,
  TRANSACTION_COLUMNS,
  USAGE_COLUMNS,
  usageValues,
} from './columns.js';
import { clauseFromRow, usageFromRow } from './rows.js';
import type { BillingTx, PeriodState } from './tx.js';

/**
 * The metering path's statements on SQLite, run as pre-prepared better-sqlite3 statements
 * instead of through the query builder. Building and compiling a Kysely query cost more than
 * SQLite spent executing it: one metered event took ~410 µs of CPU through Kysely and ~100 µs
 * with these (bench in docs/benchmarks.md). The SQL is the same as the Kysely path's; rows are
 * written one statement per row, which on an in-process database costs no more than a
 * multi-row insert and keeps the prepared statements few and small.
 *
 * Callers must hold Kysely's connection for the whole transaction (see `billingTransaction`),
 * so no other query runs on the handle between these statements.
 */

type Statement = SqliteDatabase.Statement;

interface Statements {
  begin: Statement;
  commit: Statement;
  rollback: Statement;
  insertUsage: Statement;
  usageRow: Statement;
  period: Statement;
  insertPeriod: Statement;
  activeClauses: Statement;
  clause: Statement;
  saveTotals: Statement;
  insertEntry: Statement;
  insertTransaction: Statement;
  insertLine: Statement;
  rollupHourly: Statement;
  rollupDaily: Statement;
}

const prepared = new WeakMap<SqliteDatabase.Database, Statements>();

function insertSql(
  table: string,
  columns: ReadonlyArray<readonly [string, unknown]>,
  tail = '',
): string {
  return `insert into "${table}" (${columns.map(([name]) => `"${name}"`).join(', ')}) values (${columns.map(() => '?').join(', ')})${tail ? ` ${tail}` : ''}`;
}

function statementsOf(handle: SqliteDatabase.Database): Statements {
  let statements = prepared.get(handle);
  if (statements) return statements;
  statements = {
    begin: handle.prepare('begin immediate'),
    commit: handle.prepare('commit'),
    rollback: handle.prepare('rollback'),
    insertUsage: handle.prepare(
      insertSql('usage_events', USAGE_COLUMNS, 'on conflict ("request_id") do nothing'),
    ),
    usageRow: handle.prepare('select * from "usage_events" where "request_id" = ?'),
    period: handle.prepare('select "id", "status" from "billing_periods" where "id" = ?'),
    insertPeriod: handle.prepare(
      `insert into "billing_periods" ("id", "starts_at", "ends_at", "status", "closed_at") values (?, ?, ?, 'open', null) on conflict ("id") do nothing`,
    ),
    activeClauses: handle.prepare(
      `select * from "billing_clauses" where "status" = 'active' order by "id"`,
    ),
    clause: handle.prepare('select * from "billing_clauses" where "id" = ?'),
    saveTotals: handle.prepare(
      'update "billing_clauses" set "basis_total" = ?, "accrued_total" = ?, "updated_at" = ? where "id" = ?',
    ),
    insertEntry: handle.prepare(insertSql('ledger_entries', ENTRY_COLUMNS)),
    insertTransaction: handle.prepare(insertSql('ledger_transactions', TRANSACTION_COLUMNS)),
    insertLine: handle.prepare(insertSql('billing_share_lines', LINE_COLUMNS)),
    rollupHourly: handle.prepare(
      insertSql('billing_rollups', ROLLUP_COLUMNS, rollupUpsert('billing_rollups')),
    ),
    rollupDaily: handle.prepare(
      insertSql('billing_rollups_daily', ROLLUP_COLUMNS, rollupUpsert('billing_rollups_daily')),
    ),
  };
  prepared.set(handle, statements);
  return statements;
}

/** Begin/commit/rollback of a SQLite write transaction (`begin immediate`: the write lock up front). */
export interface SqliteTransactionControl {
  begin(): void;
  commit(): void;
  rollback(): void;
}

/** Transaction control on `handle`. */
export function sqliteTransactionControl(
  handle: SqliteDatabase.Database,
): SqliteTransactionControl {
  const statements = statementsOf(handle);
  return {
    begin: () => void statements.begin.run(),
    commit: () => void statements.commit.run(),
    rollback: () => {
      if (handle.inTransaction) statements.rollback.run();
    },
  };
}

/** The hot-path operations of a billing transaction, on pre-prepared statements. */
export type SqliteFastOperations = Pick<
  BillingTx,
  | 'insertUsage'
  | 'usageRows'
  | 'periods'
  | 'activeClauses'
  | 'lockClauses'
  | 'saveTotals'
  | 'insertEntries'
  | 'insertPostings'
  | 'addRollups'
>;

/** Same contract as the Kysely transaction's methods of the same names (`tx.ts`). */
export function sqliteFastOperations(handle: SqliteDatabase.Database): SqliteFastOperations {
  const s = statementsOf(handle);
  return {
    async insertUsage(events) {
      const inserted = new Set<string>();
      const sorted = [...events].sort((a, b) =>
        a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0,
      );
      for (const event of sorted) {
        if (s.insertUsage.run(usageValues(event)).changes === 1) inserted.add(event.requestId);
      }
      return inserted;
    },

    async usageRows(ids) {
      const found = new Map<string, ReturnType<typeof usageFromRow>>();
      for (const id of [...ids].sort()) {
        const row = s.usageRow.get(id) as Parameters<typeof usageFromRow>[0] | undefined;
        if (row) found.set(id, usageFromRow(row));
      }
      return found;
    },

    async periods(periods) {
      const byId = new Map(periods.map((period) => [period.id, period]));
      const states = new Map<string, PeriodState>();
      for (const id of [...byId.keys()].sort()) {
        let row = s.period.get(id) as { id: string; status: string } | undefined;
        if (!row) {
          const period = byId.get(id)!;
          s.insertPeriod.run(period.id, period.startsAt, period.endsAt);
          row = s.period.get(id) as { id: string; status: string };
        }
        states.set(id, { id, status: row.status === 'closed' ? 'closed' : 'open' });
      }
      return states;
    },

    async activeClauses() {
      return (s.activeClauses.all() as Array<Parameters<typeof clauseFromRow>[0]>).map(
        clauseFromRow,
      );
    },

    async lockClauses(ids) {
      const out = [];
      for (const id of [...new Set(ids)].sort()) {
        const row = s.clause.get(id) as Parameters<typeof clauseFromRow>[0] | undefined;
        if (row) out.push(clauseFromRow(row));
      }
      return out;
    },

    async saveTotals(totals, now) {
      for (const total of [...totals].sort((a, b) => (a.id < b.id ? -1 : 1)))
        s.saveTotals.run(total.basis, total.accrued, now, total.id);
    },

    async insertEntries(entries) {
      for (const row of entryValues(entries)) s.insertEntry.run(row);
    },

    async insertPostings(postings) {
      if (postings.length === 0) return;
      const { headers, entries, lines } = postingValues(postings);
      for (const row of headers) s.insertTransaction.run(row);
      for (const row of entries) s.insertEntry.run(row);
      for (const row of lines) s.insertLine.run(row);
    },

    async addRollups(deltas) {
      const { hourly, daily } = rollupValues(deltas);
      for (const row of hourly) s.rollupHourly.run(row);
      for (const row of daily) s.rollupDaily.run(row);
    },
  };
}
