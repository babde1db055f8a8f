import { invalidRequest } from '../errors/index.js';
import type { Database } from '../store/index.js';
import { billingDb } from '../store/billing-schema.js';
import { moneySums, type ReportColumn, type ReportFilters, type ReportSums, rollupSums, usageSums } from '../store/billing-reports.js';
import { hourOf } from './booking.js';

/**
 * Usage and revenue reports by tenant, project, key, model, partner and cloud over any time
 * range. Whole hours come from the hourly rollups (written in the same transaction as the
 * ledger, so they reconcile with it); the partial hours at either edge come from the raw rows.
 * A month over ten million events reads a few hundred thousand rollup rows at most.
 */

/** A dimension reports group and filter by. `cloud` is the provider (deployment) that served. */
export type ReportDimension = 'tenant' | 'project' | 'key' | 'model' | 'partner' | 'cloud';

/** Every report dimension, in display order. */
export const REPORT_DIMENSIONS: readonly ReportDimension[] = ['tenant', 'project', 'key', 'model', 'partner', 'cloud'];

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
    if (!(dimension in COLUMN)) throw invalidRequest(`unknown dimension "${dimension}" (use ${REPORT_DIMENSIONS.join(', ')})`, 'group_by');
  }
  if (!Number.isSafeInteger(query.from) || !Number.isSafeInteger(query.to) || query.from >= query.to) {
    throw invalidRequest('`from` must be before `to`', 'from');
  }
  const columns = groupBy.map((dimension) => COLUMN[dimension]);
  const filters: ReportFilters = {};
  for (const [dimension, value] of Object.entries(query.where ?? {}) as Array<[ReportDimension, string | undefined]>) {
    if (value !== undefined) filters[COLUMN[dimension]] = value;
  }
  const db = billingDb(database);
  const wholeFrom = query.from === hourOf(query.from) ? query.from : hourOf(query.from) + 3_600_000;
  const wholeTo = hourOf(query.to);
  const parts: ReportSums[][] = [];
  if (wholeFrom < wholeTo) {
    parts.push(await rollupSums(db, wholeFrom, wholeTo, columns, filters));
    for (const [from, to] of [[query.from, wholeFrom], [wholeTo, query.to]] as const) {
      parts.push(await usageSums(db, from, to, columns, filters), await moneySums(db, from, to, columns, filters));
    }
  } else {
    parts.push(await usageSums(db, query.from, query.to, columns, filters), await moneySums(db, query.from, query.to, columns, filters));
  }
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
    into.outputTokens += row.outputTokens;
    into.reasoningTokens += row.reasoningTokens;
    into.revenue += row.revenue;
    into.cost += row.cost;
    into.share += row.share;
  }
  return [...merged.values()]
    .map((row): ReportRow => ({
      dimensions: Object.fromEntries(groupBy.map((dimension, index) => [dimension, row.values[index] ?? ''])),
      requests: Number(row.requests),
      errors: Number(row.errors),
      inputTokens: Number(row.inputTokens),
      cachedInputTokens: Number(row.cachedInputTokens),
      outputTokens: Number(row.outputTokens),
      reasoningTokens: Number(row.reasoningTokens),
      revenue: row.revenue,
      cost: row.cost,
      share: row.share,
      margin: row.revenue - row.cost - row.share,
    }))
    .sort((a, b) => (a.revenue === b.revenue ? compareValues(a, b, groupBy) : a.revenue > b.revenue ? -1 : 1));
}

function compareValues(a: ReportRow, b: ReportRow, groupBy: readonly ReportDimension[]): number {
  for (const dimension of groupBy) {
    const left = a.dimensions[dimension] ?? '';
    const right = b.dimensions[dimension] ?? '';
    if (left !== right) return left < right ? -1 : 1;
  }
  return 0;
}
