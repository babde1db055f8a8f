import { sql } from 'kysely';
import type { Database, Dialect } from '../database.js';
import { type BillingDb, billingDb } from './schema.js';
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
import { clauseFromRow, clauseToRow, usageFromRow } from './rows.js';
import { sqliteFastOperations, sqliteTransactionControl } from './sqlite.js';
import { bulkInsert } from './bulk.js';
import type { BillingTx, StoredTransaction } from './tx.js';
import { toBigInt, toNumber } from '../internal/convert.js';
import type { UsageEvent } from '../usage/repository.js';
import { merged } from '../../core/objects.js';

/**
 * The billing store's write side: one database transaction at a time, with the locks the
 * running-total rule needs.
 *
 * Lock order (the same in every transaction, so writers never deadlock each other):
 * usage rows (request id order) → periods (shared) → clauses (id order, exclusive) → rollups
 * (key order). SQLite takes its single write lock up front (`begin immediate`); Postgres runs
 * at READ COMMITTED with row locks (`for share` / `for update`) and retries on deadlock or
 * serialization failure.
 */

const MAX_ATTEMPTS = 6;
/** Rows per multi-row insert: stays under SQLite's and Postgres' bound-parameter limits. */
const CHUNK = 400;

/**
 * Runs `work` in one database transaction and returns its result. `work` may run more than once
 * (retries after a deadlock, a serialization failure, a unique violation from a racing writer,
 * or SQLite busy), so it must not have side effects outside the transaction.
 */
export async function billingTransaction<T>(
  database: Database,
  work: (tx: BillingTx) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (database.dialect === 'postgres') {
        return await billingDb(database)
          .transaction()
          .execute((trx) => work(createTx(trx as unknown as BillingDb, 'postgres')));
      }
      const handle = database.sqlite;
      return await billingDb(database)
        .connection()
        .execute(async (connection) => {
          const db = connection as unknown as BillingDb;
          if (handle) {
            // Holding Kysely's only connection: no other query runs on the handle until we return.
            const control = sqliteTransactionControl(handle);
            control.begin();
            try {
              const result = await work(
                merged(createTx(db, 'sqlite'), sqliteFastOperations(handle)),
              );
              control.commit();
              return result;
            } catch (error) {
              control.rollback();
              throw error;
            }
          }
          await sql.raw('begin immediate').execute(db);
          try {
            const result = await work(createTx(db, 'sqlite'));
            await sql.raw('commit').execute(db);
            return result;
          } catch (error) {
            await sql
              .raw('rollback')
              .execute(db)
              .catch(() => undefined);
            throw error;
          }
        });
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !retryable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }
}

function retryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001' || code === '23505' || code === 'SQLITE_BUSY';
}

function createTx(db: BillingDb, dialect: Dialect): BillingTx {
  const postgres = dialect === 'postgres';
  // Postgres bulk inserts bind one array per column (no parameter limit): one statement per table.
  const bulk = postgres ? 20_000 : CHUNK;
  return {
    dialect,
    db,

    async insertUsage(events) {
      const inserted = new Set<string>();
      const sorted = [...events].sort((a, b) =>
        a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0,
      );
      for (const chunk of chunks(sorted, bulk / 2)) {
        const rows = chunk.map(usageValues);
        const returned = await bulkInsert<{ request_id: string }>(
          db,
          dialect,
          'usage_events',
          USAGE_COLUMNS,
          rows,
          'on conflict ("request_id") do nothing returning "request_id"',
        );
        for (const row of returned) inserted.add(row.request_id);
      }
      return inserted;
    },

    async usageRows(ids, lock = false) {
      const found = new Map<string, UsageEvent>();
      for (const chunk of chunks([...ids].sort(), CHUNK)) {
        const rows = await db
          .selectFrom('usage_events')
          .selectAll()
          .where('request_id', 'in', chunk)
          .$if(postgres && lock, (query) => query.forUpdate())
          .execute();
        for (const row of rows) found.set(row.request_id, usageFromRow(row));
      }
      return found;
    },

    async periods(periods) {
      const ids = [...new Set(periods.map((period) => period.id))].sort();
      const read = async () =>
        db
          .selectFrom('billing_periods')
          .select(['id', 'status'])
          .where('id', 'in', ids)
          .orderBy('id')
          .$if(postgres, (query) => query.forShare())
          .execute();
      let rows = await read();
      if (rows.length < ids.length) {
        const known = new Set(rows.map((row) => row.id));
        const missing = periods.filter((period) => !known.has(period.id));
        const unique = [...new Map(missing.map((period) => [period.id, period])).values()];
        await db
          .insertInto('billing_periods')
          .values(
            unique.map((period) => ({
              id: period.id,
              starts_at: period.startsAt,
              ends_at: period.endsAt,
              status: 'open',
              closed_at: null,
            })),
          )
          .onConflict((conflict) => conflict.column('id').doNothing())
          .execute();
        rows = await read();
      }
      return new Map(
        rows.map((row) => [
          row.id,
          { id: row.id, status: row.status === 'closed' ? 'closed' : 'open' },
        ]),
      );
    },

    async closePeriod(period, now) {
      await db
        .insertInto('billing_periods')
        .values({
          id: period.id,
          starts_at: period.startsAt,
          ends_at: period.endsAt,
          status: 'open',
          closed_at: null,
        })
        .onConflict((conflict) => conflict.column('id').doNothing())
        .execute();
      const result = await db
        .updateTable('billing_periods')
        .set({ status: 'closed', closed_at: now })
        .where('id', '=', period.id)
        .where('status', '=', 'open')
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },

    async insertStatements(rows, now) {
      for (const chunk of chunks(rows, 50)) {
        await db
          .insertInto('billing_statements')
          .values(
            chunk.map((row) => ({
              id: row.id,
              kind: row.kind,
              subject: row.subject,
              period: row.period,
              hash: row.hash,
              entry_count: row.entryCount,
              body: row.body,
              created_at: now,
            })),
          )
          .execute();
      }
    },

    async activeClauses() {
      const rows = await db
        .selectFrom('billing_clauses')
        .selectAll()
        .where('status', '=', 'active')
        .orderBy('id')
        .execute();
      return rows.map(clauseFromRow);
    },

    async partnerClauses(partner) {
      const rows = await db
        .selectFrom('billing_clauses')
        .selectAll()
        .where('partner', '=', partner)
        .orderBy('id')
        .$if(postgres, (query) => query.forUpdate())
        .execute();
      return rows.map(clauseFromRow);
    },

    async lockClauses(ids) {
      if (ids.length === 0) return [];
      const rows = await db
        .selectFrom('billing_clauses')
        .selectAll()
        .where('id', 'in', [...ids])
        .orderBy('id')
        .$if(postgres, (query) => query.forUpdate())
        .execute();
      return rows.map(clauseFromRow);
    },

    async saveTotals(totals, now) {
      for (const total of [...totals].sort((a, b) => (a.id < b.id ? -1 : 1))) {
        await db
          .updateTable('billing_clauses')
          .set({ basis_total: total.basis, accrued_total: total.accrued, updated_at: now })
          .where('id', '=', total.id)
          .execute();
      }
    },

    async putClause(clause, now) {
      const row = clauseToRow(clause);
      await db
        .insertInto('billing_clauses')
        .values(merged(row, { created_at: now, updated_at: now }))
        .onConflict((conflict) =>
          conflict.column('id').doUpdateSet(merged(row, { updated_at: now })),
        )
        .execute();
    },

    async insertEntries(entries) {
      const rows = entryValues(entries);
      for (const chunk of chunks(rows, bulk))
        await bulkInsert(db, dialect, 'ledger_entries', ENTRY_COLUMNS, chunk);
    },

    async insertPostings(postings) {
      if (postings.length === 0) return;
      const { headers, entries, lines } = postingValues(postings);
      for (const chunk of chunks(headers, bulk / 2))
        await bulkInsert(db, dialect, 'ledger_transactions', TRANSACTION_COLUMNS, chunk);
      for (const chunk of chunks(entries, bulk))
        await bulkInsert(db, dialect, 'ledger_entries', ENTRY_COLUMNS, chunk);
      for (const chunk of chunks(lines, bulk))
        await bulkInsert(db, dialect, 'billing_share_lines', LINE_COLUMNS, chunk);
    },

    async transaction(id, lock = false) {
      const row = await db
        .selectFrom('ledger_transactions')
        .selectAll()
        .where('id', '=', id)
        .$if(postgres && lock, (query) => query.forUpdate())
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        id: row.id,
        kind: row.kind as StoredTransaction['kind'],
        requestId: row.request_id,
        dimensions: {
          tenantId: row.tenant_id,
          projectId: row.project_id,
          keyId: row.key_id,
          model: row.model,
          deployment: row.deployment,
          partner: row.partner,
        },
        effectiveAt: toNumber(row.effective_at),
        postedAt: toNumber(row.posted_at),
        period: row.period,
        adjustsPeriod: row.adjusts_period,
        reverses: row.reverses,
        payloadHash: row.payload_hash,
        revenue: toBigInt(row.revenue),
        cost: toBigInt(row.cost),
        share: toBigInt(row.share),
        memo: row.memo,
      };
    },

    async requestTotals(requestId) {
      const revenue = await db
        .selectFrom('ledger_transactions')
        .select(sql<bigint>`coalesce(cast(sum(revenue) as bigint), 0)`.as('revenue'))
        .where('request_id', '=', requestId)
        .executeTakeFirstOrThrow();
      const lines = await db
        .selectFrom('billing_share_lines')
        .select(['clause_id', sql<bigint>`cast(sum(basis_delta) as bigint)`.as('basis')])
        // Through the request's transactions (indexed), not a scan of the lines.
        .where('transaction_id', 'in', (eb) =>
          eb.selectFrom('ledger_transactions').select('id').where('request_id', '=', requestId),
        )
        .groupBy('clause_id')
        .execute();
      return {
        revenue: toBigInt(revenue.revenue),
        basisByClause: new Map(lines.map((line) => [line.clause_id, toBigInt(line.basis)])),
      };
    },

    async shareLines(transactionId) {
      const rows = await db
        .selectFrom('billing_share_lines')
        .selectAll()
        .where('transaction_id', '=', transactionId)
        .orderBy('clause_id')
        .execute();
      return rows.map((row) => ({
        clauseId: row.clause_id,
        partner: row.partner,
        basisDelta: toBigInt(row.basis_delta),
        accrualDelta: toBigInt(row.accrual_delta),
      }));
    },

    async addRollups(deltas) {
      const { hourly, daily } = rollupValues(deltas);
      for (const chunk of chunks(hourly, bulk / 2))
        await bulkInsert(
          db,
          dialect,
          'billing_rollups',
          ROLLUP_COLUMNS,
          chunk,
          rollupUpsert('billing_rollups'),
        );
      for (const chunk of chunks(daily, bulk / 2))
        await bulkInsert(
          db,
          dialect,
          'billing_rollups_daily',
          ROLLUP_COLUMNS,
          chunk,
          rollupUpsert('billing_rollups_daily'),
        );
    },
  };
}

export { rollupKey } from './columns.js';

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let index = 0; index < items.length; index += size)
    out.push(items.slice(index, index + size));
  return out;
}

export type { ClauseRecord, Dimensions, LedgerPostingRow, RollupDelta } from './rows.js';
export type { BillingTx, PeriodState, StoredTransaction } from './tx.js';
