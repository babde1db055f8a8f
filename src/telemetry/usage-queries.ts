import { csvField } from '../core/csv.js';
import type { Database } from '../store/index.js';
import type { UsageFilter } from './rollup-queries.js';

/** One usage event as the dashboard's table and the CSV export show it. */
export interface UsageRow {
  requestId: string;
  createdAt: number;
  tenantId: string;
  projectId: string;
  keyId: string | null;
  surface: string;
  model: string | null;
  deployment: string | null;
  partner: string | null;
  status: string;
  httpStatus: number;
  errorCode: string | null;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
  ttfbMs: number | null;
  attempts: number;
}

/** Columns of the CSV export, in order. */
export const CSV_COLUMNS: Array<keyof UsageRow> = [
  'requestId',
  'createdAt',
  'tenantId',
  'projectId',
  'keyId',
  'surface',
  'model',
  'deployment',
  'partner',
  'status',
  'httpStatus',
  'errorCode',
  'inputTokens',
  'outputTokens',
  'latencyMs',
  'ttfbMs',
  'attempts',
];

/**
 * Pages of `usage_events` newest first, filtered by time range (the `created_at` index bounds
 * the scan) and any of tenant, project, key, model, partner and deployment.
 */
export function createUsageQueries(database: Database) {
  const { db } = database;

  async function page(
    filter: UsageFilter,
    options: { limit: number; before?: { createdAt: number; requestId: string } | undefined },
  ): Promise<UsageRow[]> {
    let query = db
      .selectFrom('usage_events')
      .select([
        'request_id',
        'created_at',
        'tenant_id',
        'project_id',
        'key_id',
        'surface',
        'model',
        'deployment',
        'partner',
        'status',
        'http_status',
        'error_code',
        'input_tokens',
        'output_tokens',
        'latency_ms',
        'ttfb_ms',
        'attempts',
      ])
      .where('created_at', '>=', BigInt(Math.trunc(filter.from)))
      .where('created_at', '<', BigInt(Math.trunc(filter.to)));
    if (filter.tenantId) query = query.where('tenant_id', '=', filter.tenantId);
    if (filter.projectId) query = query.where('project_id', '=', filter.projectId);
    if (filter.keyId) query = query.where('key_id', '=', filter.keyId);
    if (filter.model) query = query.where('model', '=', filter.model);
    if (filter.partner) query = query.where('partner', '=', filter.partner);
    if (filter.deployment) query = query.where('deployment', '=', filter.deployment);
    if (filter.status) query = query.where('status', '=', filter.status as never);
    if (filter.errorCode) query = query.where('error_code', '=', filter.errorCode);
    const before = options.before;
    if (before) {
      const at = BigInt(before.createdAt);
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', at),
          eb.and([eb('created_at', '=', at), eb('request_id', '<', before.requestId)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('request_id', 'desc')
      .limit(options.limit)
      .execute();
    return rows.map((row) => ({
      requestId: row.request_id,
      createdAt: Number(row.created_at),
      tenantId: row.tenant_id,
      projectId: row.project_id,
      keyId: row.key_id,
      surface: row.surface,
      model: row.model,
      deployment: row.deployment,
      partner: row.partner,
      status: row.status,
      httpStatus: Number(row.http_status),
      errorCode: row.error_code,
      inputTokens: Number(row.input_tokens),
      outputTokens: Number(row.output_tokens),
      latencyMs: Number(row.latency_ms),
      ttfbMs: row.ttfb_ms === null ? null : Number(row.ttfb_ms),
      attempts: Number(row.attempts),
    }));
  }

  return {
    page,
    /** Every matching row as CSV lines (header first), fetched in pages of 5000. */
    async *csv(filter: UsageFilter): AsyncGenerator<string> {
      yield `${CSV_COLUMNS.map(snake).join(',')}\n`;
      let before: { createdAt: number; requestId: string } | undefined;
      for (;;) {
        const rows = await page(filter, { limit: 5000, before });
        if (rows.length === 0) return;
        yield `${rows
          .map((row) =>
            CSV_COLUMNS.map((column) =>
              csvCell(column === 'createdAt' ? new Date(row.createdAt).toISOString() : row[column]),
            ).join(','),
          )
          .join('\n')}\n`;
        const last = rows[rows.length - 1]!;
        before = { createdAt: last.createdAt, requestId: last.requestId };
        if (rows.length < 5000) return;
      }
    },
  };
}

export type UsageQueries = ReturnType<typeof createUsageQueries>;

/** One CSV cell (RFC 4180 quoting); a leading `=`, `+`, `-` or `@` is defused for spreadsheets. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@]/.test(text)) text = `'${text}`;
  return csvField(text);
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
