import type { Migration } from './types.js';
import { int64 } from './types.js';

/**
 * `usage_events` gains the prompt-cache writes (priced at their own rates, billing/prices.ts)
 * and the `estimated` flag: 1 when Switchyard counted the tokens with its tokenizer because
 * the upstream reported none (a stream cut before its usage, gateway/metered-stream.ts).
 * Existing rows read as no cache writes and not estimated.
 */
export const usageCacheWrites: Migration = {
  name: '0010-usage-cache-writes',
  async up(db, dialect) {
    const big = int64(dialect);
    await db.schema
      .alterTable('usage_events')
      .addColumn('cache_write_tokens', big, (column) => column.notNull().defaultTo(0))
      .execute();
    await db.schema
      .alterTable('usage_events')
      .addColumn('cache_write_1h_tokens', big, (column) => column.notNull().defaultTo(0))
      .execute();
    await db.schema
      .alterTable('usage_events')
      .addColumn('estimated', 'integer', (column) => column.notNull().defaultTo(0))
      .execute();
  },
};
