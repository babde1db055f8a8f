import type { Migration } from './types.js';
import { int64 } from './types.js';

/**
 * `billing_rollups` and `billing_rollups_daily` gain the prompt-cache writes (all of them, and
 * the one-hour part), summed like the other token counters in the posting transaction, so
 * reports and statements carry cache reads and writes. Rows written before read as 0 writes
 * (the raw usage rows keep the exact figures: docs/billing.md).
 */
export const rollupCacheWrites: Migration = {
  name: '0014-rollup-cache-writes',
  async up(db, dialect) {
    const big = int64(dialect);
    for (const table of ['billing_rollups', 'billing_rollups_daily']) {
      await db.schema
        .alterTable(table)
        .addColumn('cache_write_tokens', big, (column) => column.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable(table)
        .addColumn('cache_write_1h_tokens', big, (column) => column.notNull().defaultTo(0))
        .execute();
    }
  },
};
