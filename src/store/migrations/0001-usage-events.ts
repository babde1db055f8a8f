import type { Migration } from './types.js';
import { int64 } from './types.js';

/** Creates `usage_events`: one row per request, keyed by request id. */
export const usageEvents: Migration = {
  name: '0001-usage-events',
  async up(db, dialect) {
    const big = int64(dialect);
    await db.schema
      .createTable('usage_events')
      .addColumn('request_id', 'text', (column) => column.primaryKey())
      .addColumn('created_at', big, (column) => column.notNull())
      .addColumn('tenant_id', 'text', (column) => column.notNull())
      .addColumn('project_id', 'text', (column) => column.notNull())
      .addColumn('key_id', 'text')
      .addColumn('surface', 'text', (column) => column.notNull())
      .addColumn('model_requested', 'text', (column) => column.notNull())
      .addColumn('model', 'text')
      .addColumn('deployment', 'text')
      .addColumn('upstream_model', 'text')
      .addColumn('partner', 'text')
      .addColumn('attempts', 'integer', (column) => column.notNull())
      .addColumn('attempt_log', 'text', (column) => column.notNull())
      .addColumn('input_tokens', big, (column) => column.notNull())
      .addColumn('cached_input_tokens', big, (column) => column.notNull())
      .addColumn('output_tokens', big, (column) => column.notNull())
      .addColumn('reasoning_tokens', big, (column) => column.notNull())
      .addColumn('latency_ms', 'integer', (column) => column.notNull())
      .addColumn('ttfb_ms', 'integer')
      .addColumn('status', 'text', (column) => column.notNull())
      .addColumn('http_status', 'integer', (column) => column.notNull())
      .addColumn('error_code', 'text')
      .addColumn('stream', 'integer', (column) => column.notNull())
      .addColumn('sandbox', 'integer', (column) => column.notNull())
      .addColumn('metadata', 'text')
      .execute();
    await db.schema
      .createIndex('usage_events_created_at')
      .on('usage_events')
      .column('created_at')
      .execute();
    await db.schema
      .createIndex('usage_events_tenant_created_at')
      .on('usage_events')
      .columns(['tenant_id', 'created_at'])
      .execute();
  },
};
