import { sql } from 'kysely';
import type { Insertable, Selectable } from 'kysely';
import { invalidRequest } from '../../errors/index.js';
import type { Database } from '../database.js';
import { assertInteger, parseJson, toNumber, toNumberOrNull } from '../internal/convert.js';
import type { UsageEventsTable } from '../schema.js';
import { merged } from '../../core/objects.js';

/** Client protocol a request arrived on. Known values listed; others are allowed. */
export type UsageSurface =
  | 'openai-chat'
  | 'openai-embeddings'
  | 'openai-responses'
  | 'anthropic-messages'
  | 'bedrock-converse'
  | (string & {});

/** How a request ended: `aborted` means the client went away. */
export type UsageStatus = 'ok' | 'error' | 'aborted';

/** One upstream attempt, in the order the router made them. */
export interface UsageAttempt {
  /** Deployment (provider id) tried. */
  provider: string;
  /** Upstream HTTP status, or null when no response arrived (connect error, timeout). */
  status: number | null;
  /** `ErrorClass` of the failure, or null on success. */
  errorClass: string | null;
  /** Duration of the attempt in ms. */
  ms: number;
}

/** One metered request: a row of `usage_events`. Written once per request id. */
export interface UsageEvent {
  requestId: string;
  /** Epoch ms when the request arrived. */
  createdAt: number;
  tenantId: string;
  projectId: string;
  keyId: string | null;
  surface: UsageSurface;
  /** Model name as the client sent it. */
  modelRequested: string;
  /** Logical model finally used, after aliases and fallback. */
  model: string | null;
  /** Provider id (deployment) that served the request. */
  deployment: string | null;
  /** Model id sent upstream. */
  upstreamModel: string | null;
  partner: string | null;
  attempts: number;
  attemptLog: UsageAttempt[];
  /** Includes `cachedInputTokens`. */
  inputTokens: number;
  cachedInputTokens: number;
  /** Includes `reasoningTokens`. */
  outputTokens: number;
  reasoningTokens: number;
  /** Input tokens written to a prompt cache (part of `inputTokens`); absent = 0. */
  cacheWriteTokens?: number;
  /** The part of `cacheWriteTokens` written for one hour; absent = 0. */
  cacheWrite1hTokens?: number;
  /**
   * True when the tokens were counted by Switchyard's tokenizer because the upstream reported
   * none (a stream cut before its usage arrived); absent = false.
   */
  estimated?: boolean;
  latencyMs: number;
  /** Time to first byte sent to the client; null when nothing was sent. */
  ttfbMs: number | null;
  status: UsageStatus;
  /** HTTP status returned to the client. */
  httpStatus: number;
  errorCode: string | null;
  stream: boolean;
  sandbox: boolean;
  metadata: Record<string, string> | null;
}

/** Filter for {@link UsageRepository.list}. Time bounds are epoch ms, `from` inclusive, `to` exclusive. */
export interface UsageListFilter {
  from?: number;
  to?: number;
  tenantId?: string;
  /** Matches the logical model finally used (`model`), not `modelRequested`. */
  model?: string;
  /** Page size, 1–1000. Default 100. */
  limit?: number;
  /** Cursor: the `requestId` of the last event of the previous page. */
  after?: string;
}

/** Filter for {@link UsageRepository.summary}. Time bounds are epoch ms, `from` inclusive, `to` exclusive. */
export interface UsageSummaryFilter {
  from?: number;
  to?: number;
  tenantId?: string;
}

/** Totals for one (model, deployment, partner) group. */
export interface UsageSummaryRow {
  model: string | null;
  deployment: string | null;
  partner: string | null;
  requests: number;
  /** Requests with status `error` (client aborts are not errors). */
  errors: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
}

/** Reads and writes `usage_events`. */
export interface UsageRepository {
  /** Inserts the event unless its request id is already stored. Returns true if inserted. */
  record(event: UsageEvent): Promise<boolean>;
  get(requestId: string): Promise<UsageEvent | undefined>;
  /** Newest first (ties broken by request id, descending). Throws 400 for an unknown `after` cursor. */
  list(filter?: UsageListFilter): Promise<UsageEvent[]>;
  /** Totals grouped by model, deployment and partner, sorted by those (nulls first). */
  summary(filter?: UsageSummaryFilter): Promise<UsageSummaryRow[]>;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/**
 * Creates the usage repository over an open, migrated database.
 * @example
 * const usage = createUsageRepository(database);
 * const inserted = await usage.record(event); // false on a retried write of the same request
 */
export function createUsageRepository(database: Database): UsageRepository {
  const { db } = database;

  return {
    async record(event) {
      const result = await db
        .insertInto('usage_events')
        .values(usageRow(event))
        .onConflict((conflict) => conflict.column('request_id').doNothing())
        .executeTakeFirst();
      return result.numInsertedOrUpdatedRows === 1n;
    },

    async get(requestId) {
      const row = await db
        .selectFrom('usage_events')
        .selectAll()
        .where('request_id', '=', requestId)
        .executeTakeFirst();
      return row && usageFromRow(row);
    },

    async list(filter = {}) {
      const limit = Math.min(Math.max(Math.trunc(filter.limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT);
      let query = db.selectFrom('usage_events').selectAll();
      if (filter.from !== undefined)
        query = query.where('created_at', '>=', bound(filter.from, 'from'));
      if (filter.to !== undefined) query = query.where('created_at', '<', bound(filter.to, 'to'));
      if (filter.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId);
      if (filter.model !== undefined) query = query.where('model', '=', filter.model);
      if (filter.after !== undefined) {
        const cursor = await db
          .selectFrom('usage_events')
          .select('created_at')
          .where('request_id', '=', filter.after)
          .executeTakeFirst();
        if (!cursor) throw invalidRequest(`unknown cursor "${filter.after}"`, 'after');
        const { created_at: createdAt } = cursor;
        const requestId = filter.after;
        // Keyset pagination in (created_at desc, request_id desc) order.
        query = query.where((eb) =>
          eb.or([
            eb('created_at', '<', createdAt),
            eb.and([eb('created_at', '=', createdAt), eb('request_id', '<', requestId)]),
          ]),
        );
      }
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('request_id', 'desc')
        .limit(limit)
        .execute();
      return rows.map((row) => usageFromRow(row));
    },

    async summary(filter = {}) {
      let query = db
        .selectFrom('usage_events')
        .select(['model', 'deployment', 'partner'])
        .select((eb) => [
          eb.fn.countAll().as('requests'),
          // sum() of a Postgres bigint is numeric; the cast brings it back to int8 (→ bigint).
          sql<bigint>`cast(sum(case when ${eb.ref('status')} = 'error' then 1 else 0 end) as bigint)`.as(
            'errors',
          ),
          sql<bigint>`cast(sum(${eb.ref('input_tokens')}) as bigint)`.as('input_tokens'),
          sql<bigint>`cast(sum(${eb.ref('cached_input_tokens')}) as bigint)`.as(
            'cached_input_tokens',
          ),
          sql<bigint>`cast(sum(${eb.ref('output_tokens')}) as bigint)`.as('output_tokens'),
          sql<bigint>`cast(sum(${eb.ref('reasoning_tokens')}) as bigint)`.as('reasoning_tokens'),
        ])
        .groupBy(['model', 'deployment', 'partner']);
      if (filter.from !== undefined)
        query = query.where('created_at', '>=', bound(filter.from, 'from'));
      if (filter.to !== undefined) query = query.where('created_at', '<', bound(filter.to, 'to'));
      if (filter.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId);
      const rows = await query.execute();
      return rows
        .map(
          (row): UsageSummaryRow => ({
            model: row.model,
            deployment: row.deployment,
            partner: row.partner,
            requests: toNumber(row.requests),
            errors: toNumber(row.errors),
            inputTokens: toNumber(row.input_tokens),
            cachedInputTokens: toNumber(row.cached_input_tokens),
            outputTokens: toNumber(row.output_tokens),
            reasoningTokens: toNumber(row.reasoning_tokens),
          }),
        )
        .sort(
          (a, b) =>
            compareNullable(a.model, b.model) ||
            compareNullable(a.deployment, b.deployment) ||
            compareNullable(a.partner, b.partner),
        );
    },
  };
}

/** An epoch-ms filter bound, as the bigint the column compares with. */
function bound(value: number, field: string): bigint {
  return BigInt(assertInteger(value, field));
}

// The dialects sort NULL differently (Postgres last, SQLite first), so sort here.
function compareNullable(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/**
 * Throws when a count or time of `event` is not an integer (the store would refuse it). The
 * meter checks every event with this as it is recorded, without building the row; {@link usageRow}
 * checks with it too.
 */
export function assertUsageRow(event: UsageEvent): void {
  assertInteger(event.createdAt, 'createdAt');
  assertInteger(event.attempts, 'attempts');
  assertInteger(event.inputTokens, 'inputTokens');
  assertInteger(event.cachedInputTokens, 'cachedInputTokens');
  assertInteger(event.outputTokens, 'outputTokens');
  assertInteger(event.reasoningTokens, 'reasoningTokens');
  assertInteger(event.latencyMs, 'latencyMs');
  if (event.ttfbMs !== null) assertInteger(event.ttfbMs, 'ttfbMs');
  assertInteger(event.httpStatus, 'httpStatus');
  assertInteger(event.cacheWriteTokens ?? 0, 'cacheWriteTokens');
  assertInteger(event.cacheWrite1hTokens ?? 0, 'cacheWrite1hTokens');
}

/** Maps a usage event to its `usage_events` row (billing's usage insert uses it too). */
export function usageRow(event: UsageEvent): Insertable<UsageEventsTable> {
  assertUsageRow(event);
  return {
    request_id: event.requestId,
    created_at: event.createdAt,
    tenant_id: event.tenantId,
    project_id: event.projectId,
    key_id: event.keyId,
    surface: event.surface,
    model_requested: event.modelRequested,
    model: event.model,
    deployment: event.deployment,
    upstream_model: event.upstreamModel,
    partner: event.partner,
    attempts: event.attempts,
    attempt_log: JSON.stringify(event.attemptLog),
    input_tokens: event.inputTokens,
    cached_input_tokens: event.cachedInputTokens,
    output_tokens: event.outputTokens,
    reasoning_tokens: event.reasoningTokens,
    latency_ms: event.latencyMs,
    ttfb_ms: event.ttfbMs,
    status: event.status,
    http_status: event.httpStatus,
    error_code: event.errorCode,
    stream: event.stream ? 1 : 0,
    sandbox: event.sandbox ? 1 : 0,
    metadata: event.metadata === null ? null : JSON.stringify(event.metadata),
    cache_write_tokens: event.cacheWriteTokens ?? 0,
    cache_write_1h_tokens: event.cacheWrite1hTokens ?? 0,
    estimated: event.estimated ? 1 : 0,
  };
}

/**
 * Reads a `usage_events` row back into a usage event: the one mapping. Billing reads rows only
 * to rate them again, so it asks for `detail: false` and skips parsing the attempt log and
 * metadata (neutral values instead).
 */
export function usageFromRow(row: Selectable<UsageEventsTable>, detail = true): UsageEvent {
  return {
    requestId: row.request_id,
    createdAt: toNumber(row.created_at),
    tenantId: row.tenant_id,
    projectId: row.project_id,
    keyId: row.key_id,
    surface: row.surface,
    modelRequested: row.model_requested,
    model: row.model,
    deployment: row.deployment,
    upstreamModel: row.upstream_model,
    partner: row.partner,
    attempts: toNumber(row.attempts),
    attemptLog: detail ? (parseJson<UsageAttempt[]>(row.attempt_log, 'attempt_log') ?? []) : [],
    inputTokens: toNumber(row.input_tokens),
    cachedInputTokens: toNumber(row.cached_input_tokens),
    outputTokens: toNumber(row.output_tokens),
    reasoningTokens: toNumber(row.reasoning_tokens),
    latencyMs: toNumber(row.latency_ms),
    ttfbMs: toNumberOrNull(row.ttfb_ms),
    status: row.status as UsageStatus,
    httpStatus: toNumber(row.http_status),
    errorCode: row.error_code,
    stream: toNumber(row.stream) !== 0,
    sandbox: toNumber(row.sandbox) !== 0,
    ...cacheAndEstimate(row),
    metadata: detail ? parseJson<Record<string, string>>(row.metadata, 'metadata') : null,
  };
}

/** The migration-0010 fields, present on the event only when set (as the gateway writes them). */
function cacheAndEstimate(
  row: Selectable<UsageEventsTable>,
): Pick<UsageEvent, 'cacheWriteTokens' | 'cacheWrite1hTokens' | 'estimated'> {
  const written = toNumber(row.cache_write_tokens ?? 0);
  const hour = toNumber(row.cache_write_1h_tokens ?? 0);
  return merged(
    written > 0 && { cacheWriteTokens: written },
    hour > 0 && { cacheWrite1hTokens: hour },
    toNumber(row.estimated ?? 0) !== 0 && { estimated: true },
  );
}
