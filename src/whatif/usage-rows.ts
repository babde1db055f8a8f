import { type CompiledQuery, sql } from 'kysely';
import type { Database, UsageAttempt, UsageEvent, UsageStatus } from '../store/index.js';

/**
 * Streams stored usage (`usage_events`) in time order, `(created_at, request_id)`, one page at a
 * time, so a replay of millions of rows holds one page in memory. Pages are keyset ranges on
 * `created_at` (the column both dialects index); the rows sharing the last instant of a full
 * page are read on their own, so a page boundary never splits an instant and no OFFSET is used.
 */

/** Options of {@link usageInOrder}. */
export interface UsageScan {
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /** Rows per page. Default 5000. */
  pageSize?: number;
}

/** Only what routing and rating read: fewer columns is most of a page's cost. */
const COLUMNS = [
  'request_id',
  'created_at',
  // Tenant and surface: what a licence scoped by tenant region and API kind will read.
  'tenant_id',
  'surface',
  'model',
  'deployment',
  'upstream_model',
  'partner',
  'attempts',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'cache_write_tokens',
  'cache_write_1h_tokens',
  'status',
] as const;

/** Number of stored usage rows in `[from, to)` (for progress). */
export async function countUsage(database: Database, scan: UsageScan): Promise<number> {
  const row = await database.db
    .selectFrom('usage_events')
    .select((eb) => eb.fn.countAll().as('rows'))
    .where('created_at', '>=', BigInt(scan.from))
    .where('created_at', '<', BigInt(scan.to))
    .executeTakeFirst();
  return Number(row?.rows ?? 0);
}

/**
 * Yields pages of usage events in `[from, to)`, oldest first, ties by request id.
 * Only the fields routing and rating read are filled; the others (project, key, latency,
 * metadata) are left empty.
 */
export async function* usageInOrder(
  database: Database,
  scan: UsageScan,
): AsyncGenerator<UsageEvent[]> {
  const pageSize = scan.pageSize ?? 5000;
  const to = BigInt(scan.to);
  let after: bigint | null = null;
  for (;;) {
    let query = database.db
      .selectFrom('usage_events')
      .select(COLUMNS)
      .select(attemptLog)
      .where('created_at', '<', to)
      // Index order only: with request_id too, SQLite sorts everything after the cursor for
      // every page. Ties within the page are put in request-id order below.
      .orderBy('created_at')
      .limit(pageSize);
    query =
      after === null
        ? query.where('created_at', '>=', BigInt(scan.from))
        : query.where('created_at', '>', after);
    const rows = await execute(database, query);
    if (rows.length === 0) return;
    const last = BigInt(rows[rows.length - 1]!.created_at);
    if (rows.length < pageSize) {
      yield rows.sort(inOrder).map(toEvent);
      return;
    }
    // A full page: its last instant may continue on the next page, so read that instant whole.
    const head = rows.filter((row) => BigInt(row.created_at) !== last);
    const tie = await execute(
      database,
      database.db
        .selectFrom('usage_events')
        .select(COLUMNS)
        .select(attemptLog)
        .where('created_at', '=', last)
        .orderBy('request_id'),
    );
    yield [...head.sort(inOrder), ...tie].map(toEvent);
    after = last;
  }
}

/**
 * Runs a page query. On SQLite it runs on the better-sqlite3 handle (holding Kysely's
 * connection, as `Database.sqlite` asks) with safe integers off: every integer of a page would
 * otherwise be a BigInt, and those allocations were most of a page's cost. Timestamps and token
 * counts are far below 2^53.
 */
async function execute<Row>(database: Database, query: Compilable<Row>): Promise<Row[]> {
  const handle = database.sqlite;
  if (!handle) return query.execute();
  const compiled = query.compile();
  return database.db.connection().execute(
    async () =>
      handle
        .prepare(compiled.sql)
        .safeIntegers(false)
        .all(...(compiled.parameters as unknown[])) as Row[],
  );
}

interface Compilable<Row> {
  compile(): CompiledQuery<Row>;
  execute(): Promise<Row[]>;
}

/** `(created_at, request_id)` order; pages come in created_at order, so this is nearly free. */
function inOrder(a: { created_at: unknown; request_id: unknown }, b: typeof a): number {
  const at = Number(a.created_at) - Number(b.created_at);
  if (at !== 0) return at;
  return (a.request_id as string) < (b.request_id as string) ? -1 : 1;
}

/** The attempt log is read only for requests that failed over (the replay's health). */
const attemptLog = sql<string | null>`case when attempts > 1 then attempt_log end`.as(
  'attempt_log',
);

type Row = {
  [K in (typeof COLUMNS)[number] | 'attempt_log']: unknown;
};

function toEvent(row: Row): UsageEvent {
  const attempts = Number(row.attempts);
  const cacheWrite = Number(row.cache_write_tokens ?? 0);
  const cacheWrite1h = Number(row.cache_write_1h_tokens ?? 0);
  return {
    requestId: row.request_id as string,
    createdAt: Number(row.created_at),
    tenantId: row.tenant_id as string,
    projectId: '',
    keyId: null,
    surface: row.surface as string,
    modelRequested: (row.model as string | null) ?? '',
    model: row.model as string | null,
    deployment: row.deployment as string | null,
    upstreamModel: row.upstream_model as string | null,
    partner: row.partner as string | null,
    attempts,
    // Only a request that failed over has attempts worth reading (the replay's health).
    attemptLog: attempts > 1 ? parseAttempts(row.attempt_log) : [],
    inputTokens: Number(row.input_tokens),
    cachedInputTokens: Number(row.cached_input_tokens),
    outputTokens: Number(row.output_tokens),
    reasoningTokens: Number(row.reasoning_tokens),
    ...(cacheWrite > 0 && { cacheWriteTokens: cacheWrite }),
    ...(cacheWrite1h > 0 && { cacheWrite1hTokens: cacheWrite1h }),
    latencyMs: 0,
    ttfbMs: null,
    status: row.status as UsageStatus,
    httpStatus: 0,
    errorCode: null,
    stream: false,
    sandbox: false,
    metadata: null,
  };
}

function parseAttempts(text: unknown): UsageAttempt[] {
  if (typeof text !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? (parsed as UsageAttempt[]) : [];
  } catch {
    return [];
  }
}
