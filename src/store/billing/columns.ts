import type { BulkType } from './bulk.js';
import { type LedgerPostingRow, type RollupDelta, usageRow } from './rows.js';

/**
 * Column lists of the tables the metering path writes, in the order their value arrays are
 * built, and the builders of those arrays. Shared by the Kysely transaction (multi-row inserts)
 * and the SQLite fast path (one prepared statement per row).
 */

type Column = readonly [name: string, type: BulkType];

const text = (name: string): Column => [name, 'text'];
const int8 = (name: string): Column => [name, 'int8'];
const int4 = (name: string): Column => [name, 'int4'];

/** `usage_events` columns in `usageRow()` order (types as in migration 0001). */
export const USAGE_COLUMNS: readonly Column[] = [
  text('request_id'),
  int8('created_at'),
  text('tenant_id'),
  text('project_id'),
  text('key_id'),
  text('surface'),
  text('model_requested'),
  text('model'),
  text('deployment'),
  text('upstream_model'),
  text('partner'),
  int4('attempts'),
  text('attempt_log'),
  int8('input_tokens'),
  int8('cached_input_tokens'),
  int8('output_tokens'),
  int8('reasoning_tokens'),
  int4('latency_ms'),
  int4('ttfb_ms'),
  text('status'),
  int4('http_status'),
  text('error_code'),
  int4('stream'),
  int4('sandbox'),
  text('metadata'),
  int8('cache_write_tokens'),
  int8('cache_write_1h_tokens'),
  int4('estimated'),
];
// Values are sent in `usageRow()` key order: fail at start-up, not on a wrong column, if they drift apart.
const USAGE_ORDER = Object.keys(
  usageRow({
    requestId: '',
    createdAt: 0,
    tenantId: '',
    projectId: '',
    keyId: null,
    surface: '',
    modelRequested: '',
    model: null,
    deployment: null,
    upstreamModel: null,
    partner: null,
    attempts: 0,
    attemptLog: [],
    inputTokens: 0,
    cachedInputTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    latencyMs: 0,
    ttfbMs: null,
    status: 'ok',
    httpStatus: 0,
    errorCode: null,
    stream: false,
    sandbox: false,
    metadata: null,
  }),
);
if (USAGE_ORDER.join() !== USAGE_COLUMNS.map(([name]) => name).join())
  throw new Error('store/billing/columns: USAGE_COLUMNS does not match usageRow()');

export const TRANSACTION_COLUMNS: readonly Column[] = [
  text('id'),
  text('kind'),
  text('request_id'),
  text('tenant_id'),
  text('project_id'),
  text('key_id'),
  text('model'),
  text('deployment'),
  text('partner'),
  int8('effective_at'),
  int8('posted_at'),
  text('period'),
  text('adjusts_period'),
  text('reverses'),
  text('payload_hash'),
  int8('price_version'),
  int8('revenue'),
  int8('cost'),
  int8('share'),
  text('memo'),
];
export const ENTRY_COLUMNS: readonly Column[] = [
  text('transaction_id'),
  int8('seq'),
  text('account'),
  int8('amount'),
  text('period'),
];
export const LINE_COLUMNS: readonly Column[] = [
  text('transaction_id'),
  text('clause_id'),
  text('partner'),
  text('request_id'),
  int8('basis_delta'),
  int8('accrual_delta'),
  text('period'),
];
const ROLLUP_KEY = [
  'bucket',
  'tenant_id',
  'project_id',
  'key_id',
  'model',
  'deployment',
  'partner',
];
const ROLLUP_SUMS = [
  'requests',
  'errors',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'revenue',
  'cost',
  'share',
  'cache_write_tokens',
  'cache_write_1h_tokens',
];
export const ROLLUP_COLUMNS: readonly Column[] = [
  int8('bucket'),
  ...ROLLUP_KEY.slice(1).map(text),
  ...ROLLUP_SUMS.map(int8),
];

/** The `on conflict` clause that adds a rollup row's counters to the stored ones. */
export function rollupUpsert(table: string): string {
  return `on conflict (${ROLLUP_KEY.map((column) => `"${column}"`).join(', ')}) do update set ${ROLLUP_SUMS.map((column) => `"${column}" = "${table}"."${column}" + excluded."${column}"`).join(', ')}`;
}

/** The `usage_events` values of an event, in {@link USAGE_COLUMNS} order. */
export function usageValues(event: Parameters<typeof usageRow>[0]): unknown[] {
  return Object.values(usageRow(event));
}

/** `ledger_entries` values of entries written ahead of their headers, in {@link ENTRY_COLUMNS} order. */
export function entryValues(
  entries: ReadonlyArray<{
    transactionId: string;
    seq: number;
    account: string;
    amount: bigint;
    period: string;
  }>,
): unknown[][] {
  return entries.map((entry) => [
    entry.transactionId,
    entry.seq,
    entry.account,
    entry.amount,
    entry.period,
  ]);
}

/** Header, entry and clause-line values of postings, in their column orders. */
export function postingValues(postings: readonly LedgerPostingRow[]): {
  headers: unknown[][];
  entries: unknown[][];
  lines: unknown[][];
} {
  const headers: unknown[][] = [];
  const entries: unknown[][] = [];
  const lines: unknown[][] = [];
  for (const posting of postings) {
    const { dimensions } = posting;
    headers.push([
      posting.id,
      posting.kind,
      posting.requestId,
      dimensions.tenantId,
      dimensions.projectId,
      dimensions.keyId,
      dimensions.model,
      dimensions.deployment,
      dimensions.partner,
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
    const from = posting.entriesFrom ?? 0;
    posting.entries.forEach((entry, index) => {
      entries.push([posting.id, from + index, entry.account, entry.amount, posting.period]);
    });
    for (const line of posting.shareLines)
      lines.push([
        posting.id,
        line.clauseId,
        line.partner,
        posting.requestId,
        line.basisDelta,
        line.accrualDelta,
        posting.period,
      ]);
  }
  return { headers, entries, lines };
}

/**
 * Hourly and daily rollup values of `deltas`, each sorted by key (the lock order), in
 * {@link ROLLUP_COLUMNS} order. Deltas of one day are summed into one daily row.
 */
export function rollupValues(deltas: readonly RollupDelta[]): {
  hourly: unknown[][];
  daily: unknown[][];
} {
  const sorted = [...deltas].sort((a, b) => compareKeys(rollupKey(a), rollupKey(b)));
  const hourly = sorted.map((delta) => [
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
    delta.cacheWriteTokens,
    delta.cacheWrite1hTokens,
  ]);
  const byDay = new Map<string, unknown[]>();
  for (const row of hourly) {
    const day = Math.floor((row[0] as number) / 86_400_000) * 86_400_000;
    const key = [String(day).padStart(16, '0'), ...row.slice(1, 7)].join('\u0000');
    const into = byDay.get(key);
    if (!into) byDay.set(key, [day, ...row.slice(1)]);
    else
      for (let index = 7; index < row.length; index++) into[index] = add(into[index], row[index]);
  }
  const daily = [...byDay.entries()].sort(([a], [b]) => compareKeys(a, b)).map(([, row]) => row);
  return { hourly, daily };
}

/** Key of a rollup row, for ordering and merging. */
export function rollupKey(
  delta: Pick<
    RollupDelta,
    'bucket' | 'tenantId' | 'projectId' | 'keyId' | 'model' | 'deployment' | 'partner'
  >,
): string {
  return [
    String(delta.bucket).padStart(16, '0'),
    delta.tenantId,
    delta.projectId,
    delta.keyId,
    delta.model,
    delta.deployment,
    delta.partner,
  ].join('\u0000');
}

/** Sum of two counters of the same column: numbers (counts, tokens) or bigints (money). */
function add(a: unknown, b: unknown): number | bigint {
  return typeof a === 'bigint' ? a + (b as bigint) : (a as number) + (b as number);
}

/** Plain string order (code units), the same on both dialects' text keys as used here. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
