import { sql } from 'kysely';
import type { BillingDb } from './schema.js';
import { type ClauseRecord, clauseFromRow } from './rows.js';
import { toBigInt, toNumber, toNumberOrNull } from '../internal/convert.js';

/**
 * Billing reads: clauses, periods, balances, statement data and ledger checks. Each function
 * takes the query builder (the database's or a transaction's), so the same read serves the
 * admin API and the period-closing transaction. `sum()` results are cast to int8 so Postgres
 * returns them as `bigint` (its sum of int8 is numeric).
 */

/** One accounting period row. */
export interface PeriodRecord {
  id: string;
  startsAt: number;
  endsAt: number;
  status: 'open' | 'closed';
  closedAt: number | null;
}

/** A statement line: transactions of one kind, model and adjusted period, summed. */
export interface StatementLineRecord {
  kind: string;
  model: string;
  deployment: string;
  adjustsPeriod: string | null;
  transactions: number;
  /** Customer: revenue charged (refunds negative). Partner: revenue counted toward the share. */
  basis: bigint;
  /** Partner: share accrued (clawbacks negative). Customer: upstream-independent, always 0. */
  accrued: bigint;
  /** Tokens of the line's usage transactions, from their usage rows (other kinds: 0). */
  tokens: LineTokens;
}

/** Token quantities of a statement line, summed from `usage_events`. */
export interface LineTokens {
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  outputTokens: number;
}

const NO_TOKENS: LineTokens = {
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  outputTokens: 0,
};

/** The token sums of a line query, as `sum_*` columns over `usage_events as u` (0 when none). */
const tokenSums = [
  sql<bigint>`cast(coalesce(sum(u.input_tokens), 0) as bigint)`.as('sum_input'),
  sql<bigint>`cast(coalesce(sum(u.cached_input_tokens), 0) as bigint)`.as('sum_cached_input'),
  sql<bigint>`cast(coalesce(sum(u.cache_write_tokens), 0) as bigint)`.as('sum_cache_write'),
  sql<bigint>`cast(coalesce(sum(u.cache_write_1h_tokens), 0) as bigint)`.as('sum_cache_write_1h'),
  sql<bigint>`cast(coalesce(sum(u.output_tokens), 0) as bigint)`.as('sum_output'),
] as const;

function tokensFromRow(row: {
  sum_input: unknown;
  sum_cached_input: unknown;
  sum_cache_write: unknown;
  sum_cache_write_1h: unknown;
  sum_output: unknown;
}): LineTokens {
  return {
    inputTokens: toNumber(row.sum_input),
    cachedInputTokens: toNumber(row.sum_cached_input),
    cacheWriteTokens: toNumber(row.sum_cache_write),
    cacheWrite1hTokens: toNumber(row.sum_cache_write_1h),
    outputTokens: toNumber(row.sum_output),
  };
}

/** Every clause, active ones first, then by id. */
export async function allClauses(db: BillingDb): Promise<ClauseRecord[]> {
  const rows = await db
    .selectFrom('billing_clauses')
    .selectAll()
    .orderBy('status')
    .orderBy('id')
    .execute();
  return rows.map(clauseFromRow);
}

/** Known periods, oldest first. */
export async function listPeriods(db: BillingDb): Promise<PeriodRecord[]> {
  const rows = await db.selectFrom('billing_periods').selectAll().orderBy('starts_at').execute();
  return rows.map((row) => ({
    id: row.id,
    startsAt: toNumber(row.starts_at),
    endsAt: toNumber(row.ends_at),
    status: row.status === 'closed' ? 'closed' : 'open',
    closedAt: toNumberOrNull(row.closed_at),
  }));
}

/** Balance of every account (µUSD), optionally up to and including `throughPeriod`. */
export async function balances(
  db: BillingDb,
  throughPeriod?: string,
): Promise<Map<string, bigint>> {
  const rows = await db
    .selectFrom('ledger_entries')
    .select(['account', sql<bigint>`cast(sum(amount) as bigint)`.as('balance')])
    .$if(throughPeriod !== undefined, (query) => query.where('period', '<=', throughPeriod!))
    .groupBy('account')
    .orderBy('account')
    .execute();
  return new Map(rows.map((row) => [row.account, toBigInt(row.balance)]));
}

/**
 * Sum of the entries on `accounts` booked in `period`, and how many there are. Scans the entries
 * (they have no account index, see migration 0004): for checks and tests, not the request path.
 */
export async function accountTotals(
  db: BillingDb,
  accounts: readonly string[],
  period: string,
): Promise<{ total: bigint; count: number }> {
  const row = await db
    .selectFrom('ledger_entries')
    .select([
      sql<bigint>`coalesce(cast(sum(amount) as bigint), 0)`.as('total'),
      (eb) => eb.fn.countAll().as('count'),
    ])
    .where('account', 'in', [...accounts])
    .where('period', '=', period)
    .executeTakeFirstOrThrow();
  return { total: toBigInt(row.total), count: toNumber(row.count) };
}

/** Whose entries a statement covers: a tenant's receivable, or a partner's share accounts, in one period. */
export type EntryScope =
  | { kind: 'customer'; tenantId: string; period: string; accounts: readonly string[] }
  | { kind: 'partner'; partner: string; period: string; accounts: readonly string[] };

/**
 * Pages through the entries of a statement's scope in (transaction, seq) order, for its hash.
 * Transactions are found by index (period and tenant, or partner clause lines), their entries
 * by primary key.
 */
export async function forEachEntry(
  db: BillingDb,
  scope: EntryScope,
  visit: (
    rows: Array<{ transactionId: string; seq: number; account: string; amount: bigint }>,
  ) => void,
  pageSize = 2000,
): Promise<void> {
  let after = '';
  for (;;) {
    const ids =
      scope.kind === 'customer'
        ? await db
            .selectFrom('ledger_transactions')
            .select('id')
            .where('period', '=', scope.period)
            .where('tenant_id', '=', scope.tenantId)
            .where('id', '>', after)
            .orderBy('id')
            .limit(pageSize)
            .execute()
        : await db
            .selectFrom('billing_share_lines')
            .select('transaction_id as id')
            .distinct()
            .where('partner', '=', scope.partner)
            .where('period', '=', scope.period)
            .where('transaction_id', '>', after)
            .orderBy('transaction_id')
            .limit(pageSize)
            .execute();
    if (ids.length === 0) return;
    const rows = await db
      .selectFrom('ledger_entries')
      .select(['transaction_id', 'seq', 'account', 'amount'])
      .where(
        'transaction_id',
        'in',
        ids.map((row) => row.id),
      )
      .where('account', 'in', [...scope.accounts])
      .orderBy('transaction_id')
      .orderBy('seq')
      .execute();
    visit(
      rows.map((row) => ({
        transactionId: row.transaction_id,
        seq: toNumber(row.seq),
        account: row.account,
        amount: toBigInt(row.amount),
      })),
    );
    after = ids[ids.length - 1]!.id;
    if (ids.length < pageSize) return;
  }
}

/** Customer statement lines: the tenant's transactions booked in `period`. */
export async function customerLines(
  db: BillingDb,
  tenantId: string,
  period: string,
): Promise<StatementLineRecord[]> {
  // Only usage transactions join their usage row (request_id is its primary key, so a
  // transaction meets at most one): refunds and reversals of a request carry no tokens.
  const rows = await db
    .selectFrom('ledger_transactions as t')
    .leftJoin('usage_events as u', (join) =>
      join.onRef('u.request_id', '=', 't.request_id').on('t.kind', '=', 'usage'),
    )
    .select([
      't.kind',
      't.model',
      't.adjusts_period',
      (eb) => eb.fn.countAll().as('transactions'),
      sql<bigint>`cast(sum(t.revenue) as bigint)`.as('basis'),
      ...tokenSums,
    ])
    .where('t.tenant_id', '=', tenantId)
    .where('t.period', '=', period)
    .where('t.revenue', '!=', 0n)
    .groupBy(['t.kind', 't.model', 't.adjusts_period'])
    .execute();
  return sortLines(
    rows.map((row) => ({
      kind: row.kind,
      model: row.model,
      deployment: '',
      adjustsPeriod: row.adjusts_period,
      transactions: toNumber(row.transactions),
      basis: toBigInt(row.basis),
      accrued: 0n,
      tokens: tokensFromRow(row),
    })),
  );
}

/** Partner statement lines: clause lines of the partner booked in `period`, by kind, model and cloud. */
export async function partnerLines(
  db: BillingDb,
  partner: string,
  period: string,
): Promise<StatementLineRecord[]> {
  const rows = await db
    .selectFrom('billing_share_lines as line')
    .innerJoin('ledger_transactions as t', 't.id', 'line.transaction_id')
    .select([
      't.kind',
      't.model',
      't.deployment',
      't.adjusts_period',
      (eb) => eb.fn.countAll().as('transactions'),
      sql<bigint>`cast(sum(line.basis_delta) as bigint)`.as('basis'),
      sql<bigint>`cast(sum(line.accrual_delta) as bigint)`.as('accrued'),
    ])
    .where('line.partner', '=', partner)
    .where('line.period', '=', period)
    .groupBy(['t.kind', 't.model', 't.deployment', 't.adjusts_period'])
    .execute();
  // Tokens per distinct usage transaction: a transaction with lines on several clauses of the
  // partner is counted once (joining the lines would count its tokens once per clause).
  const tokenRows = await db
    .selectFrom('ledger_transactions as t')
    .innerJoin('usage_events as u', 'u.request_id', 't.request_id')
    .select(['t.kind', 't.model', 't.deployment', 't.adjusts_period', ...tokenSums])
    .where('t.kind', '=', 'usage')
    .where('t.id', 'in', (eb) =>
      eb
        .selectFrom('billing_share_lines as line')
        .select('line.transaction_id')
        .where('line.partner', '=', partner)
        .where('line.period', '=', period),
    )
    .groupBy(['t.kind', 't.model', 't.deployment', 't.adjusts_period'])
    .execute();
  const key = (row: {
    kind: string;
    model: string;
    deployment: string;
    adjusts_period: string | null;
  }) => [row.adjusts_period ?? '', row.kind, row.model, row.deployment].join('\u0000');
  const tokens = new Map(tokenRows.map((row) => [key(row), tokensFromRow(row)]));
  return sortLines(
    rows.map((row) => ({
      kind: row.kind,
      model: row.model,
      deployment: row.deployment,
      adjustsPeriod: row.adjusts_period,
      transactions: toNumber(row.transactions),
      basis: toBigInt(row.basis),
      accrued: toBigInt(row.accrued),
      tokens: tokens.get(key(row)) ?? { ...NO_TOKENS },
    })),
  );
}

/** Subjects with activity in `period`: tenants with receivable entries, partners with clause lines. */
export async function statementSubjects(
  db: BillingDb,
  period: string,
): Promise<{ customers: string[]; partners: string[] }> {
  const customers = await db
    .selectFrom('ledger_transactions')
    .select('tenant_id')
    .distinct()
    .where('period', '=', period)
    .where('revenue', '!=', 0n)
    .execute();
  // Partners come from the (few) clauses, each checked through the (partner, period) index.
  const candidates = await db.selectFrom('billing_clauses').select('partner').distinct().execute();
  const partners: string[] = [];
  for (const { partner } of candidates) {
    const line = await db
      .selectFrom('billing_share_lines')
      .select('partner')
      .where('partner', '=', partner)
      .where('period', '=', period)
      .limit(1)
      .executeTakeFirst();
    if (line) partners.push(partner);
  }
  return { customers: customers.map((row) => row.tenant_id).sort(), partners: partners.sort() };
}

/** A frozen statement's stored JSON and hash, or undefined. */
export async function frozenStatement(
  db: BillingDb,
  id: string,
): Promise<{ body: string; hash: string } | undefined> {
  return db
    .selectFrom('billing_statements')
    .select(['body', 'hash'])
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Transactions whose legs do not sum to zero (should always be empty). */
export async function unbalancedTransactions(db: BillingDb): Promise<string[]> {
  const rows = await db
    .selectFrom('ledger_entries')
    .select('transaction_id')
    .groupBy('transaction_id')
    .having(sql`sum(amount)`, '!=', 0)
    .execute();
  return rows.map((row) => row.transaction_id);
}

/** Ledger transactions of a request, oldest first, with their legs. */
export async function requestTransactions(db: BillingDb, requestId: string) {
  const headers = await db
    .selectFrom('ledger_transactions')
    .selectAll()
    .where('request_id', '=', requestId)
    .orderBy('posted_at')
    .orderBy('id')
    .execute();
  const ids = headers.map((row) => row.id);
  const entries =
    ids.length === 0
      ? []
      : await db
          .selectFrom('ledger_entries')
          .selectAll()
          .where('transaction_id', 'in', ids)
          .orderBy('transaction_id')
          .orderBy('seq')
          .execute();
  return headers.map((row) => ({
    id: row.id,
    kind: row.kind,
    period: row.period,
    adjustsPeriod: row.adjusts_period,
    effectiveAt: toNumber(row.effective_at),
    postedAt: toNumber(row.posted_at),
    revenue: toBigInt(row.revenue),
    cost: toBigInt(row.cost),
    share: toBigInt(row.share),
    reverses: row.reverses,
    entries: entries
      .filter((entry) => entry.transaction_id === row.id)
      .map((entry) => ({ account: entry.account, amount: toBigInt(entry.amount) })),
  }));
}

function sortLines(lines: StatementLineRecord[]): StatementLineRecord[] {
  const key = (line: StatementLineRecord) =>
    [line.adjustsPeriod ?? '', line.kind, line.model, line.deployment].join('\u0000');
  return lines.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
