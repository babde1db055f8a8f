import { type Kysely, sql } from 'kysely';
import type { Database, Int64, Migration, Schema } from '../store/index.js';
import { int64, migrate } from '../store/index.js';

/**
 * Telemetry's own tables, created by its own migrations (recorded in `switchyard_migrations`
 * next to the store's): usage roll-ups that keep dashboard queries independent of the number of
 * usage events, and the optional debug body store.
 */

/** Upper bounds (ms) of the latency histogram kept per roll-up row; the last bucket is open. */
export const LATENCY_BOUNDS_MS = [50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000] as const;
/** Histogram columns `lat_0` … `lat_9`. */
export const LATENCY_COLUMNS = Array.from({ length: LATENCY_BOUNDS_MS.length + 1 }, (_, index) => `lat_${index}` as const);
export type LatencyColumn = (typeof LATENCY_COLUMNS)[number];

/** Dimensions of a roll-up row ('' stands for none, so the primary key works on both dialects). */
export const ROLLUP_DIMENSIONS = ['tenant_id', 'project_id', 'key_id', 'model', 'deployment', 'partner', 'surface', 'status'] as const;
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];

/** Additive measures of a roll-up row. */
export const ROLLUP_MEASURES = ['requests', 'errors', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'reasoning_tokens', 'latency_ms_sum', 'ttft_ms_sum', 'ttft_count', 'revenue_micros', 'cost_micros', ...LATENCY_COLUMNS] as const;
export type RollupMeasure = (typeof ROLLUP_MEASURES)[number];

/**
 * `telemetry_usage_rollups`. Coarse rows (`detail` 0, `project_id` and `key_id` '*') per minute
 * (`bucket_minutes` 1, kept 2 days), hour (60) and day (1440) serve unfiltered and tenant/model/
 * partner/cloud-filtered views; detailed rows (`detail` 1, every dimension) per hour serve
 * project and key filters through their own indexes. The row count grows with time and distinct
 * dimensions, never with traffic.
 */
export type UsageRollupsTable = { detail: Int64; bucket_minutes: Int64; bucket_start: Int64 } & Record<RollupDimension, string> & Record<RollupMeasure, Int64>;

/** `telemetry_bodies`: redacted request and response bodies, when `telemetry.bodies.enabled`. */
export interface BodiesTable {
  request_id: string;
  created_at: Int64;
  request: string | null;
  response: string | null;
}

/** The tables telemetry adds to the store's schema. */
export type TelemetryTables = {
  telemetry_usage_rollups: UsageRollupsTable;
  telemetry_bodies: BodiesTable;
};

/** The store's query builder with telemetry's tables. */
export type TelemetryDb = Kysely<Schema & TelemetryTables>;

const rollups: Migration = {
  name: 'telemetry-0001-usage-rollups',
  async up(db, dialect) {
    const big = int64(dialect);
    let table = db.schema
      .createTable('telemetry_usage_rollups')
      .addColumn('detail', 'integer', (column) => column.notNull())
      .addColumn('bucket_minutes', 'integer', (column) => column.notNull())
      .addColumn('bucket_start', big, (column) => column.notNull());
    for (const dimension of ROLLUP_DIMENSIONS) table = table.addColumn(dimension, 'text', (column) => column.notNull());
    for (const measure of ROLLUP_MEASURES) table = table.addColumn(measure, big, (column) => column.notNull().defaultTo(0));
    table = table.addPrimaryKeyConstraint('telemetry_usage_rollups_pk', ['detail', 'bucket_minutes', 'bucket_start', ...ROLLUP_DIMENSIONS] as never);
    // SQLite: rows clustered by the primary key, so a time range is one contiguous read.
    await (dialect === 'sqlite' ? table.modifyEnd(sql`without rowid`) : table).execute();
    await db.schema.createIndex('telemetry_usage_rollups_key').on('telemetry_usage_rollups').columns(['detail', 'key_id', 'bucket_start']).execute();
    await db.schema.createIndex('telemetry_usage_rollups_project').on('telemetry_usage_rollups').columns(['detail', 'project_id', 'bucket_start']).execute();
  },
};

const bodies: Migration = {
  name: 'telemetry-0002-bodies',
  async up(db, dialect) {
    await db.schema
      .createTable('telemetry_bodies')
      .addColumn('request_id', 'text', (column) => column.primaryKey())
      .addColumn('created_at', int64(dialect), (column) => column.notNull())
      .addColumn('request', 'text')
      .addColumn('response', 'text')
      .execute();
    await db.schema.createIndex('telemetry_bodies_created_at').on('telemetry_bodies').column('created_at').execute();
  },
};

/** The usage page's newest-first list filtered by key reads this index instead of scanning the range. */
const usageKeyIndex: Migration = {
  name: 'telemetry-0003-usage-events-key-index',
  async up(db) {
    await db.schema.createIndex('usage_events_key_created_at').ifNotExists().on('usage_events').columns(['key_id', 'created_at']).execute();
  },
};

/** Telemetry's migrations, in order. */
export const TELEMETRY_MIGRATIONS: readonly Migration[] = [rollups, bodies, usageKeyIndex];

/** Applies telemetry's migrations (idempotent; safe from several processes, like the store's). */
export async function migrateTelemetry(database: Database): Promise<string[]> {
  return migrate(database, TELEMETRY_MIGRATIONS);
}

/** The query builder with telemetry's tables typed. */
export function telemetryDb(database: Database): TelemetryDb {
  return database.db.withTables<TelemetryTables>();
}
