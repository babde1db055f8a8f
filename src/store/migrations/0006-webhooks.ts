import type { Migration } from './types.js';
import { int64 } from './types.js';

/**
 * Creates `webhook_deliveries` (see `../webhook-deliveries.ts`): one row per background
 * response and configured webhook endpoint, written before the run's terminal checkpoint, so a
 * crash can delay a webhook but never lose it. The unique index on (response_id, endpoint)
 * makes enqueueing idempotent when two processes finish the same run (lease lost and taken
 * over). The dispatcher reads due rows by (status, next_attempt_at).
 */
export const webhooks: Migration = {
  name: '0006-webhooks',
  async up(db, dialect) {
    const big = int64(dialect);
    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('response_id', 'text', (column) => column.notNull())
      .addColumn('tenant_id', 'text', (column) => column.notNull())
      .addColumn('endpoint', 'text', (column) => column.notNull())
      .addColumn('type', 'text', (column) => column.notNull())
      .addColumn('status', 'text', (column) => column.notNull())
      .addColumn('attempts', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('next_attempt_at', big, (column) => column.notNull())
      .addColumn('lease_owner', 'text')
      .addColumn('lease_expires_at', big)
      .addColumn('last_status', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('event_created_at', big, (column) => column.notNull())
      .addColumn('created_at', big, (column) => column.notNull())
      .addColumn('updated_at', big, (column) => column.notNull())
      .addColumn('delivered_at', big)
      .execute();
    await db.schema
      .createIndex('webhook_deliveries_response_endpoint')
      .unique()
      .on('webhook_deliveries')
      .columns(['response_id', 'endpoint'])
      .execute();
    await db.schema
      .createIndex('webhook_deliveries_due')
      .on('webhook_deliveries')
      .columns(['status', 'next_attempt_at'])
      .execute();
  },
};
