import { sql } from 'kysely';
import type { Database, Dialect } from './database.js';
import { type BillingDb, billingDb } from './billing-schema.js';
import {
  type ClauseRecord,
  clauseFromRow,
  clauseToRow,
  type Dimensions,
  type LedgerPostingRow,
  type RollupDelta,
  usageFromRow,
  usageRow,
} from './billing-rows.js';
import { bulkInsert } from './billing-bulk.js';
import { toBigInt, toNumber } from './internal/convert.js';
import type { UsageEvent } from './usage-repository.js';

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
  periods(periods: ReadonlyArray<{ id: string; startsAt: number; endsAt: number }>): Promise<Map<string, PeriodState>>;
  /** Marks a period closed (creating it if needed); false when it already was. Locks it exclusively. */
  closePeriod(period: { id: string; startsAt: number; endsAt: number }, now: number): Promise<boolean>;
  /** Stores frozen statements. */
  insertStatements(rows: ReadonlyArray<{ id: string; kind: string; subject: string; period: string; hash: string; entryCount: number; body: string }>, now: number): Promise<void>;
  /** Active clauses, not locked. */
  activeClauses(): Promise<ClauseRecord[]>;
  /** Every clause of a partner (any status), locked until commit. */
  partnerClauses(partner: string): Promise<ClauseRecord[]>;
  /** Re-reads and locks clauses (id order) until commit. */
  lockClauses(ids: readonly string[]): Promise<ClauseRecord[]>;
  /** Writes clause running totals. */
  saveTotals(totals: ReadonlyArray<{ id: string; basis: bigint; accrued: bigint }>, now: number): Promise<void>;
  /** Inserts or replaces a clause definition (totals included). */
  putClause(clause: ClauseRecord, now: number): Promise<void>;
  /** Writes ledger transactions, their entries and clause lines. */
  insertPostings(postings: readonly LedgerPostingRow[]): Promise<void>;
  /** Adds to hourly rollups. */
  addRollups(deltas: readonly RollupDelta[]): Promise<void>;
  /** A ledger transaction (without legs), or undefined. `lock` takes a row lock on Postgres. */
  transaction(id: string, lock?: boolean): Promise<StoredTransaction | undefined>;
  /** Net revenue of every transaction of a request, and its remaining basis per clause. */
  requestTotals(requestId: string): Promise<{ revenue: bigint; basisByClause: Map<string, bigint> }>;
  /** Clause lines of one transaction. */
  shareLines(transactionId: string): Promise<Array<{ clauseId: string; partner: string; basisDelta: bigint; accrualDelta: bigint }>>;
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

const MAX_ATTEMPTS = 6;
/** Rows per multi-row insert: stays under SQLite's and Postgres' bound-parameter limits. */
const CHUNK = 400;

/**
 * Runs `work` in one database transaction and returns its result. `work` may run more than once
 * (retries after a deadlock, a serialization failure, a unique violation from a racing writer,
 * or SQLite busy), so it must not have side effects outside the transaction.
 */
export async function billingTransaction<T>(database: Database, work: (tx: BillingTx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (database.dialect === 'postgres') {
        return await billingDb(database).transaction().execute((trx) => work(createTx(trx as unknown as BillingDb, 'postgres')));
      }
      return await billingDb(database)
        .connection()
        .execute(async (connection) => {
          const db = connection as unknown as BillingDb;
          await sql.raw('begin immediate').execute(db);
          try {
            const result = await work(createTx(db, 'sqlite'));
            await sql.raw('commit').execute(db);
            return result;
          } catch (error) {
            await sql.raw('rollback').execute(db).catch(() => undefined);
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
  return {
    dialect,
    db,

    async insertUsage(events) {
      const inserted = new Set<string>();
      const sorted = [...events].sort((a, b) => (a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0));
      for (const chunk of chunks(sorted, Math.floor(CHUNK / 2))) {
        const rows = chunk.map((event) => Object.values(usageRow(event)));
        const returned = await bulkInsert<{ request_id: string }>(db, dialect, 'usage_events', USAGE_COLUMNS, rows, 'on conflict ("request_id") do nothing returning "request_id"');
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
          .values(unique.map((period) => ({ id: period.id, starts_at: period.startsAt, ends_at: period.endsAt, status: 'open', closed_at: null })))
          .onConflict((conflict) => conflict.column('id').doNothing())
          .execute();
        rows = await read();
      }
      return new Map(rows.map((row) => [row.id, { id: row.id, status: row.status === 'closed' ? 'closed' : 'open' }]));
    },

    async closePeriod(period, now) {
      await db
        .insertInto('billing_periods')
        .values({ id: period.id, starts_at: period.startsAt, ends_at: period.endsAt, status: 'open', closed_at: null })
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
          .values(chunk.map((row) => ({ id: row.id, kind: row.kind, subject: row.subject, period: row.period, hash: row.hash, entry_count: row.entryCount, body: row.body, created_at: now })))
          .execute();
      }
    },

    async activeClauses() {
      const rows = await db.selectFrom('billing_clauses').selectAll().where('status', '=', 'active').orderBy('id').execute();
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
        .values({ ...row, created_at: now, updated_at: now })
        .onConflict((conflict) => conflict.column('id').doUpdateSet({ ...row, updated_at: now }))
        .execute();
    },

    async insertPostings(postings) {
      if (postings.length === 0) return;
      const headers = postings.map((posting) => [
        posting.id,
        posting.kind,
        posting.requestId,
        posting.dimensions.tenantId,
        posting.dimensions.projectId,
        posting.dimensions.keyId,
        posting.dimensions.model,
        posting.dimensions.deployment,
        posting.dimensions.partner,
        posting.effectiveAt,
        posting.postedAt,
        posting.period,
        posting.adjustsPeriod,
        posting.reverses,
        posting.payloadHash,
        posting.priceVersion,
        posting.revenue,
        posting.cost,
        posting.share,
        posting.memo,
      ]);
      for (const chunk of chunks(headers, Math.floor(CHUNK / 2))) await bulkInsert(db, dialect, 'ledger_transactions', TRANSACTION_COLUMNS, chunk);
      const entries = postings.flatMap((posting) => posting.entries.map((entry, seq) => [posting.id, seq, entry.account, entry.amount, posting.period]));
      for (const chunk of chunks(entries, CHUNK)) await bulkInsert(db, dialect, 'ledger_entries', ENTRY_COLUMNS, chunk);
      const lines = postings.flatMap((posting) =>
        posting.shareLines.map((line) => [posting.id, line.clauseId, line.partner, posting.requestId, line.basisDelta, line.accrualDelta, posting.period]),
      );
      for (const chunk of chunks(lines, CHUNK)) await bulkInsert(db, dialect, 'billing_share_lines', LINE_COLUMNS, chunk);
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
        dimensions: { tenantId: row.tenant_id, projectId: row.project_id, keyId: row.key_id, model: row.model, deployment: row.deployment, partner: row.partner },
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
        .where('transaction_id', 'in', (eb) => eb.selectFrom('ledger_transactions').select('id').where('request_id', '=', requestId))
        .groupBy('clause_id')
        .execute();
      return { revenue: toBigInt(revenue.revenue), basisByClause: new Map(lines.map((line) => [line.clause_id, toBigInt(line.basis)])) };
    },

    async shareLines(transactionId) {
      const rows = await db.selectFrom('billing_share_lines').selectAll().where('transaction_id', '=', transactionId).orderBy('clause_id').execute();
      return rows.map((row) => ({ clauseId: row.clause_id, partner: row.partner, basisDelta: toBigInt(row.basis_delta), accrualDelta: toBigInt(row.accrual_delta) }));
    },

    async addRollups(deltas) {
      const sorted = [...deltas].sort((a, b) => compareKeys(rollupKey(a), rollupKey(b)));
      const rows = sorted.map((delta) => [
        delta.bucket,
        delta.tenantId,
        delta.projectId,
        delta.keyId,
        delta.model,
        delta.deployment,
        delta.partner,
        delta.requests,
        delta.errors,
        delta.inputTokens,
        delta.cachedInputTokens,
        delta.outputTokens,
        delta.reasoningTokens,
        delta.revenue,
        delta.cost,
        delta.share,
      ]);
      for (const chunk of chunks(rows, Math.floor(CHUNK / 2))) await bulkInsert(db, dialect, 'billing_rollups', ROLLUP_COLUMNS, chunk, ROLLUP_UPSERT);
    },
  };
}

const text = (name: string) => [name, 'text'] as const;
const int8 = (name: string) => [name, 'int8'] as const;
const int4 = (name: string) => [name, 'int4'] as const;
/** `usage_events` columns in `usageRow()` order (types as in migration 0001). */
const USAGE_COLUMNS = [
  text('request_id'), int8('created_at'), text('tenant_id'), text('project_id'), text('key_id'), text('surface'), text('model_requested'), text('model'),
  text('deployment'), text('upstream_model'), text('partner'), int4('attempts'), text('attempt_log'), int8('input_tokens'), int8('cached_input_tokens'),
  int8('output_tokens'), int8('reasoning_tokens'), int4('latency_ms'), int4('ttfb_ms'), text('status'), int4('http_status'), text('error_code'), int4('stream'),
  int4('sandbox'), text('metadata'),
];
// Values are sent in `usageRow()` key order: fail at start-up, not on a wrong column, if they drift apart.
const USAGE_ORDER = Object.keys(usageRow({ requestId: '', createdAt: 0, tenantId: '', projectId: '', keyId: null, surface: '', modelRequested: '', model: null, deployment: null, upstreamModel: null, partner: null, attempts: 0, attemptLog: [], inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, latencyMs: 0, ttfbMs: null, status: 'ok', httpStatus: 0, errorCode: null, stream: false, sandbox: false, metadata: null }));
if (USAGE_ORDER.join() !== USAGE_COLUMNS.map(([name]) => name).join()) throw new Error('billing-store: USAGE_COLUMNS does not match usageRow()');
const TRANSACTION_COLUMNS = [
  text('id'), text('kind'), text('request_id'), text('tenant_id'), text('project_id'), text('key_id'), text('model'), text('deployment'), text('partner'),
  int8('effective_at'), int8('posted_at'), text('period'), text('adjusts_period'), text('reverses'), text('payload_hash'), int8('price_version'), int8('revenue'),
  int8('cost'), int8('share'), text('memo'),
];
const ENTRY_COLUMNS = [text('transaction_id'), int8('seq'), text('account'), int8('amount'), text('period')];
const LINE_COLUMNS = [text('transaction_id'), text('clause_id'), text('partner'), text('request_id'), int8('basis_delta'), int8('accrual_delta'), text('period')];
const ROLLUP_KEY = ['bucket', 'tenant_id', 'project_id', 'key_id', 'model', 'deployment', 'partner'];
const ROLLUP_SUMS = ['requests', 'errors', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'reasoning_tokens', 'revenue', 'cost', 'share'];
const ROLLUP_COLUMNS = [int8('bucket'), ...ROLLUP_KEY.slice(1).map(text), ...ROLLUP_SUMS.map(int8)];
const ROLLUP_UPSERT = `on conflict (${ROLLUP_KEY.map((column) => `"${column}"`).join(', ')}) do update set ${ROLLUP_SUMS.map((column) => `"${column}" = "billing_rollups"."${column}" + excluded."${column}"`).join(', ')}`;

/** Key of a rollup row, for ordering and merging. */
export function rollupKey(delta: Pick<RollupDelta, 'bucket' | 'tenantId' | 'projectId' | 'keyId' | 'model' | 'deployment' | 'partner'>): string {
  return [String(delta.bucket).padStart(16, '0'), delta.tenantId, delta.projectId, delta.keyId, delta.model, delta.deployment, delta.partner].join('\u0000');
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let index = 0; index < items.length; index += size) out.push(items.slice(index, index + size));
  return out;
}

export type { ClauseRecord, Dimensions, LedgerPostingRow, RollupDelta } from './billing-rows.js';
