import type { Kysely } from 'kysely';
import type { Database, Int64, Schema } from '../store/index.js';

/**
 * Telemetry's tables, created by the store's migration `0007-telemetry` (applied with the others
 * by `migrate()`): usage roll-ups that keep dashboard queries independent of the number of usage
 * events, and the optional debug body store.
 */

/** Upper bounds (ms) of the latency histogram kept per roll-up row; the last bucket is open. */
export const LATENCY_BOUNDS_MS = [50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000] as const;
/** Histogram columns `lat_0` … `lat_9`. */
export const LATENCY_COLUMNS = Array.from(
  { length: LATENCY_BOUNDS_MS.length + 1 },
  (_, index) => `lat_${index}` as const,
);
export type LatencyColumn = (typeof LATENCY_COLUMNS)[number];
/**
 * Histogram columns `ttfb_0` … `ttfb_9` of time to first byte (same bounds as latency; migration
 * `0015-telemetry-ttfb-histogram`): every event with a measured first byte, streamed or not.
 */
export const TTFB_COLUMNS = Array.from(
  { length: LATENCY_BOUNDS_MS.length + 1 },
  (_, index) => `ttfb_${index}` as const,
);
export type TtfbColumn = (typeof TTFB_COLUMNS)[number];

/** Dimensions of a roll-up row ('' stands for none, so the primary key works on both dialects). */
export const ROLLUP_DIMENSIONS = [
  'tenant_id',
  'project_id',
  'key_id',
  'model',
  'deployment',
  'partner',
  'surface',
  'status',
] as const;
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];

/** Additive measures of a roll-up row. */
export const ROLLUP_MEASURES = [
  'requests',
  'errors',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'latency_ms_sum',
  'ttft_ms_sum',
  'ttft_count',
  'revenue_micros',
  'cost_micros',
  ...LATENCY_COLUMNS,
  ...TTFB_COLUMNS,
] as const;
export type RollupMeasure = (typeof ROLLUP_MEASURES)[number];

/**
 * `telemetry_usage_rollups`. Coarse rows (`detail` 0, `project_id` and `key_id` '*') per minute
 * (`bucket_minutes` 1, kept 2 days), hour (60) and day (1440) serve unfiltered and tenant/model/
 * partner/cloud-filtered views; detailed rows (`detail` 1, every dimension) per hour serve
 * project and key filters through their own indexes. The row count grows with time and distinct
 * dimensions, never with traffic.
 */
export type UsageRollupsTable = {
  detail: Int64;
  bucket_minutes: Int64;
  bucket_start: Int64;
} & Record<RollupDimension, string> &
  Record<RollupMeasure, Int64>;

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

/** The query builder with telemetry's tables typed. */
export function telemetryDb(database: Database): TelemetryDb {
  return database.db.withTables<TelemetryTables>();
}
