import { sql } from 'kysely';
import type { Catalog } from '../router/catalog.js';
import type { Database, UsageEvent } from '../store/index.js';
import { createPricer } from './money.js';
import { migrateTelemetry, telemetryDb } from './rollup-schema.js';
import { createRollupRecorder } from './rollups.js';

/** Options of {@link backfillRollups}. */
export interface BackfillOptions {
  database: Database;
  catalog: Catalog;
  /** Epoch ms; rounded down to the start of its UTC day. */
  from: number;
  /** Epoch ms; rounded up to the end of its UTC day. */
  to: number;
  /** Events read per page. Default 10000. */
  batchSize?: number;
  clock?: () => number;
  /** Called after each page with events done and the total. */
  onProgress?: (done: number, total: number) => void;
}

const DAY = 86_400_000;

/**
 * Rebuilds the usage roll-ups of whole UTC days from `usage_events`: deletes the days' roll-up
 * rows, then reads the events in pages (oldest first) and writes their sums. For a store that
 * existed before roll-ups, or to repair a range. Traffic arriving inside the range while it
 * runs is counted once (events of the running minute may be missed: rerun for the last day).
 */
export async function backfillRollups(options: BackfillOptions): Promise<{ events: number; from: number; to: number }> {
  const clock = options.clock ?? Date.now;
  const from = Math.floor(options.from / DAY) * DAY;
  const to = Math.ceil(options.to / DAY) * DAY;
  await migrateTelemetry(options.database);
  const db = telemetryDb(options.database);
  const recorder = createRollupRecorder({ database: options.database, pricer: createPricer(options.catalog), clock, onError: (error) => {
    throw error;
  } });
  const counted = await sql<{ count: number | bigint }>`select count(*) as count from usage_events where created_at >= ${from} and created_at < ${to}`.execute(options.database.db);
  const total = Number(counted.rows[0]?.count ?? 0);
  await db.deleteFrom('telemetry_usage_rollups').where('bucket_start', '>=', BigInt(from)).where('bucket_start', '<', BigInt(to)).execute();
  const batchSize = options.batchSize ?? 10_000;
  let done = 0;
  let cursor: { at: bigint; id: string } | undefined;
  options.onProgress?.(0, total);
  for (;;) {
    let query = options.database.db
      .selectFrom('usage_events')
      .select(['request_id', 'created_at', 'tenant_id', 'project_id', 'key_id', 'surface', 'model_requested', 'model', 'deployment', 'partner', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'reasoning_tokens', 'latency_ms', 'ttfb_ms', 'status', 'stream'])
      .where('created_at', '>=', BigInt(from))
      .where('created_at', '<', BigInt(to));
    if (cursor) {
      const { at, id } = cursor;
      query = query.where((eb) => eb.or([eb('created_at', '>', at), eb.and([eb('created_at', '=', at), eb('request_id', '>', id)])]));
    }
    const rows = await query.orderBy('created_at').orderBy('request_id').limit(batchSize).execute();
    for (const row of rows) {
      recorder.add({
        requestId: row.request_id,
        createdAt: Number(row.created_at),
        tenantId: row.tenant_id,
        projectId: row.project_id,
        keyId: row.key_id,
        surface: row.surface,
        modelRequested: row.model_requested,
        model: row.model,
        deployment: row.deployment,
        partner: row.partner,
        inputTokens: Number(row.input_tokens),
        cachedInputTokens: Number(row.cached_input_tokens),
        outputTokens: Number(row.output_tokens),
        reasoningTokens: Number(row.reasoning_tokens),
        latencyMs: Number(row.latency_ms),
        ttfbMs: row.ttfb_ms === null ? null : Number(row.ttfb_ms),
        status: row.status as UsageEvent['status'],
        stream: Number(row.stream) !== 0,
      } as UsageEvent);
    }
    done += rows.length;
    const last = rows[rows.length - 1];
    // Whole pages are flushed together, so a crash leaves days either absent or complete up to a page.
    await recorder.flush();
    options.onProgress?.(done, total);
    if (!last || rows.length < batchSize) break;
    cursor = { at: BigInt(last.created_at), id: last.request_id };
  }
  return { events: done, from, to };
}
