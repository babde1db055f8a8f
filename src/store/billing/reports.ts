import { type RawBuilder, sql } from 'kysely';
import type { BillingDb } from './schema.js';
import { toBigInt, toNumber } from '../internal/convert.js';

/**
 * Report queries: sums over daily and hourly rollups for whole days and hours, and over the raw rows
 * (`usage_events` for counts and tokens, `ledger_transactions` for money) for the partial
 * hours at the edges of a range. The caller merges them by dimension values.
 */

/** A column reports can group and filter by. */
export type ReportColumn =
  | 'tenant_id'
  | 'project_id'
  | 'key_id'
  | 'model'
  | 'deployment'
  | 'partner';

/** Equality filters on report columns ('' matches "none"). */
export type ReportFilters = Partial<Record<ReportColumn, string>>;

/** One grouped row: dimension values (in `columns` order) and sums. */
export interface ReportSums {
  values: string[];
  requests: bigint;
  errors: bigint;
  inputTokens: bigint;
  cachedInputTokens: bigint;
  outputTokens: bigint;
  reasoningTokens: bigint;
  cacheWriteTokens: bigint;
  cacheWrite1hTokens: bigint;
  revenue: bigint;
  cost: bigint;
  share: bigint;
}

const COUNTERS = [
  'requests',
  'errors',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'cache_write_tokens',
  'cache_write_1h_tokens',
] as const;
const MONEY = ['revenue', 'cost', 'share'] as const;

/** Sums of hourly (`grain` hour) or daily rollups with `bucket` in [from, to) (whole hours or days). */
export async function rollupSums(
  db: BillingDb,
  grain: 'hour' | 'day',
  from: number,
  to: number,
  columns: readonly ReportColumn[],
  filters: ReportFilters,
): Promise<ReportSums[]> {
  const sums = [...COUNTERS, ...MONEY].map(
    (name) => sql`cast(sum(${sql.ref(name)}) as bigint) as ${sql.ref(name)}`,
  );
  return run(
    db,
    grain === 'hour' ? 'billing_rollups' : 'billing_rollups_daily',
    'bucket',
    from,
    to,
    columns,
    filters,
    (column) => sql.ref(column),
    sums,
  );
}

/** Counts and tokens of usage events with `created_at` in [from, to). */
export async function usageSums(
  db: BillingDb,
  from: number,
  to: number,
  columns: readonly ReportColumn[],
  filters: ReportFilters,
): Promise<ReportSums[]> {
  const sums = [
    sql`cast(count(*) as bigint) as requests`,
    sql`cast(sum(case when status = 'error' then 1 else 0 end) as bigint) as errors`,
    ...COUNTERS.slice(2).map(
      (name) => sql`cast(sum(${sql.ref(name)}) as bigint) as ${sql.ref(name)}`,
    ),
  ];
  // usage_events keeps NULL where the ledger and rollups keep ''.
  return run(
    db,
    'usage_events',
    'created_at',
    from,
    to,
    columns,
    filters,
    (column) => sql`coalesce(${sql.ref(column)}, '')`,
    sums,
  );
}

/** Money of ledger transactions with `effective_at` in [from, to). */
export async function moneySums(
  db: BillingDb,
  from: number,
  to: number,
  columns: readonly ReportColumn[],
  filters: ReportFilters,
): Promise<ReportSums[]> {
  const sums = MONEY.map((name) => sql`cast(sum(${sql.ref(name)}) as bigint) as ${sql.ref(name)}`);
  return run(
    db,
    'ledger_transactions',
    'effective_at',
    from,
    to,
    columns,
    filters,
    (column) => sql.ref(column),
    sums,
  );
}

async function run(
  db: BillingDb,
  table: string,
  time: string,
  from: number,
  to: number,
  columns: readonly ReportColumn[],
  filters: ReportFilters,
  expression: (column: ReportColumn) => RawBuilder<unknown>,
  sums: Array<RawBuilder<unknown>>,
): Promise<ReportSums[]> {
  if (from >= to) return [];
  const dimensions = columns.map(
    (column, index) => sql`${expression(column)} as ${sql.ref(`d${index}`)}`,
  );
  const conditions = [sql`${sql.ref(time)} >= ${from}`, sql`${sql.ref(time)} < ${to}`];
  for (const [column, value] of Object.entries(filters) as Array<
    [ReportColumn, string | undefined]
  >) {
    if (value !== undefined) conditions.push(sql`${expression(column)} = ${value}`);
  }
  const groupBy =
    columns.length === 0
      ? sql``
      : sql`group by ${sql.join(columns.map((column) => expression(column)))}`;
  const query = sql<
    Record<string, unknown>
  >`select ${sql.join([...dimensions, ...sums])} from ${sql.table(table)} where ${sql.join(conditions, sql` and `)} ${groupBy}`;
  const { rows } = await query.execute(db);
  return rows
    .filter((row) => columns.length > 0 || row['requests'] !== null || row['revenue'] !== null)
    .map((row) => ({
      values: columns.map((_, index) => String(row[`d${index}`] ?? '')),
      requests: big(row['requests']),
      errors: big(row['errors']),
      inputTokens: big(row['input_tokens']),
      cachedInputTokens: big(row['cached_input_tokens']),
      cacheWriteTokens: big(row['cache_write_tokens']),
      cacheWrite1hTokens: big(row['cache_write_1h_tokens']),
      outputTokens: big(row['output_tokens']),
      reasoningTokens: big(row['reasoning_tokens']),
      revenue: big(row['revenue']),
      cost: big(row['cost']),
      share: big(row['share']),
    }));
}

function big(value: unknown): bigint {
  return value === null || value === undefined ? 0n : toBigInt(value);
}

/** Number of usage events with `created_at` in [from, to) (for reconciliation checks). */
export async function countUsage(db: BillingDb, from: number, to: number): Promise<number> {
  const row = await db
    .selectFrom('usage_events')
    .select((eb) => eb.fn.countAll().as('count'))
    .where('created_at', '>=', BigInt(from))
    .where('created_at', '<', BigInt(to))
    .executeTakeFirstOrThrow();
  return toNumber(row.count);
}
