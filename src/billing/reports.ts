import { invalidRequest } from '../errors/index.js';
import type { Database } from '../store/index.js';
import { billingDb } from '../store/billing/schema.js';
import {
  moneySums,
  type ReportColumn,
  type ReportFilters,
  type ReportSums,
  rollupSums,
  usageSums,
} from '../store/billing/reports.js';

/**
 * Usage and revenue reports by tenant, project, key, model, partner and cloud over any time
 * range. Whole days come from the daily rollups, whole hours at the edges of those days from the
 * hourly rollups (both written in the same transaction as the ledger, so they reconcile with it),
 * and the partial hours at either end from the raw rows. A month over ten million events reads
 * tens of thousands of rollup rows.
 */

/** A dimension reports group and filter by. `cloud` is the provider (deployment) that served. */
export type ReportDimension = 'tenant' | 'project' | 'key' | 'model' | 'partner' | 'cloud';

/** Every report dimension, in display order. */
export const REPORT_DIMENSIONS: readonly ReportDimension[] = [
  'tenant',
  'project',
  'key',
  'model',
  'partner',
  'cloud',
];

const COLUMN: Record<ReportDimension, ReportColumn> = {
  tenant: 'tenant_id',
  project: 'project_id',
  key: 'key_id',
  model: 'model',
  partner: 'partner',
  cloud: 'deployment',
};

/** What to report. Times are epoch ms, `from` inclusive, `to` exclusive. */
export interface ReportQuery {
  from: number;
  to: number;
  /** Dimensions to group by (none: one total row). */
  groupBy?: readonly ReportDimension[];
  /** Equality filters ('' selects rows without a value, such as tenant credits without a model). */
  where?: Partial<Record<ReportDimension, string>>;
}

/** One report row. Money in µUSD; `margin` is revenue − upstream cost − partner share. */
export interface ReportRow {
  dimensions: Partial<Record<ReportDimension, string>>;
  requests: number;
  errors: number;
  inputTokens: number;
  cachedInputTokens: number;
  /** Prompt-cache writes, and their one-hour part (priced apart: billing/prices.ts). */
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  revenue: bigint;
  cost: bigint;
  share: bigint;
  margin: bigint;
}

/** Runs a report. Rows are sorted by revenue (descending), then by dimension values. */
export async function report(database: Database, query: ReportQuery): Promise<ReportRow[]> {
  const groupBy = [...new Set(query.groupBy ?? [])];
  for (const dimension of [...groupBy, ...Object.keys(query.where ?? {})]) {
    if (!(dimension in COLUMN))
      throw invalidRequest(
        `unknown dimension "${dimension}" (use ${REPORT_DIMENSIONS.join(', ')})`,
        'group_by',
      );
  }
  if (
    !Number.isSafeInteger(query.from) ||
    !Number.isSafeInteger(query.to) ||
    query.from >= query.to
  ) {
    throw invalidRequest('`from` must be before `to`', 'from');
  }
  const columns = groupBy.map((dimension) => COLUMN[dimension]);
  const filters: ReportFilters = {};
  for (const [dimension, value] of Object.entries(query.where ?? {}) as Array<
    [ReportDimension, string | undefined]
  >) {
    if (value !== undefined) filters[COLUMN[dimension]] = value;
  }
  const db = billingDb(database);
  // [from, to) = raw | hours | days | hours | raw, each piece possibly empty.
  const hour = 3_600_000;
  const day = 86_400_000;
  const up = (at: number, unit: number) => Math.ceil(at / unit) * unit;
  const down = (at: number, unit: number) => Math.floor(at / unit) * unit;
  const hoursFrom = Math.min(up(query.from, hour), query.to);
  const hoursTo = Math.max(down(query.to, hour), hoursFrom);
  const daysFrom = Math.min(up(hoursFrom, day), hoursTo);
  const daysTo = Math.max(down(hoursTo, day), daysFrom);
  const parts: ReportSums[][] = [];
  for (const [from, to] of [
    [query.from, hoursFrom],
    [hoursTo, query.to],
  ] as const) {
    if (from < to)
      parts.push(
        await usageSums(db, from, to, columns, filters),
        await moneySums(db, from, to, columns, filters),
      );
  }
  for (const [from, to] of [
    [hoursFrom, daysFrom],
    [daysTo, hoursTo],
  ] as const) {
    if (from < to) parts.push(await rollupSums(db, 'hour', from, to, columns, filters));
  }
  if (daysFrom < daysTo)
    parts.push(await rollupSums(db, 'day', daysFrom, daysTo, columns, filters));
  const merged = new Map<string, ReportSums>();
  for (const row of parts.flat()) {
    const key = row.values.join('\u0000');
    const into = merged.get(key);
    if (!into) {
      merged.set(key, { ...row });
      continue;
    }
    into.requests += row.requests;
    into.errors += row.errors;
    into.inputTokens += row.inputTokens;
    into.cachedInputTokens += row.cachedInputTokens;
    into.cacheWriteTokens += row.cacheWriteTokens;
    into.cacheWrite1hTokens += row.cacheWrite1hTokens;
    into.outputTokens += row.outputTokens;
    into.reasoningTokens += row.reasoningTokens;
    into.revenue += row.revenue;
    into.cost += row.cost;
    into.share += row.share;
  }
  return [...merged.values()]
    .map(
      (row): ReportRow => ({
        dimensions: Object.fromEntries(
          groupBy.map((dimension, index) => [dimension, row.values[index] ?? '']),
        ),
        requests: Number(row.requests),
        errors: Number(row.errors),
        inputTokens: Number(row.inputTokens),
        cachedInputTokens: Number(row.cachedInputTokens),
        cacheWriteTokens: Number(row.cacheWriteTokens),
        cacheWrite1hTokens: Number(row.cacheWrite1hTokens),
        outputTokens: Number(row.outputTokens),
        reasoningTokens: Number(row.reasoningTokens),
        revenue: row.revenue,
        cost: row.cost,
        share: row.share,
        margin: row.revenue - row.cost - row.share,
      }),
    )
    .sort((a, b) =>
      a.revenue === b.revenue ? compareValues(a, b, groupBy) : a.revenue > b.revenue ? -1 : 1,
    );
}

function compareValues(a: ReportRow, b: ReportRow, groupBy: readonly ReportDimension[]): number {
  for (const dimension of groupBy) {
    const left = a.dimensions[dimension] ?? '';
    const right = b.dimensions[dimension] ?? '';
    if (left !== right) return left < right ? -1 : 1;
  }
  return 0;
}
