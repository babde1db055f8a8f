import type { Migration } from './types.js';

/**
 * `include_cost` on `api_keys`: 1 when every model call made with the key answers `usage.cost`
 * in its body, as `billing.costInBody` does for every key (access/key-cache.ts → the gateway).
 * Existing keys read as 0 (only when asked per request).
 */
export const keyIncludeCost: Migration = {
  name: '0013-key-include-cost',
  async up(db) {
    await db.schema
      .alterTable('api_keys')
      .addColumn('include_cost', 'integer', (column) => column.notNull().defaultTo(0))
      .execute();
  },
};
