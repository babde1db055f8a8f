import type { Migration } from './types.js';
import { int64 } from './types.js';

/**
 * `telemetry_usage_rollups` gains a histogram of time to first byte, `ttfb_0` … `ttfb_9`, with
 * the latency histogram's bounds (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000 ms, then
 * open), so the dashboard reads TTFB percentiles per model and partner from the roll-ups as it
 * reads total latency. Rows written before read as no TTFB samples (a backfill refills them).
 */
export const telemetryTtfbHistogram: Migration = {
  name: '0015-telemetry-ttfb-histogram',
  async up(db, dialect) {
    const big = int64(dialect);
    for (let index = 0; index < 10; index++)
      await db.schema
        .alterTable('telemetry_usage_rollups')
        .addColumn(`ttfb_${index}`, big, (column) => column.notNull().defaultTo(0))
        .execute();
  },
};
