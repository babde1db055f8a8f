import type { Migration } from './types.js';
import { int64 } from './types.js';

/**
 * Creates the stateful runtime's tables (see `../runtime-schema.ts`): responses, their items
 * (shared with conversations), conversations, and the event logs of streamed responses.
 * Indexes serve the hot paths: chain rebuild (`runtime_items` primary key by owner), item
 * lookups by id per tenant (`item_reference`, duplicate checks), conversation listing, and the
 * retention sweep (`expires_at`).
 */
export const runtimeState: Migration = {
  name: '0002-runtime-state',
  async up(db, dialect) {
    const big = int64(dialect);
    await db.schema
      .createTable('runtime_responses')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('tenant_id', 'text', (column) => column.notNull())
      .addColumn('previous_response_id', 'text')
      .addColumn('conversation_id', 'text')
      .addColumn('status', 'text', (column) => column.notNull())
      .addColumn('model', 'text', (column) => column.notNull())
      .addColumn('created_at', big, (column) => column.notNull())
      .addColumn('expires_at', big)
      // Large JSON last: SQLite reads overflow pages only for the columns a query needs.
      .addColumn('body', 'text', (column) => column.notNull())
      .execute();
    await db.schema
      .createIndex('runtime_responses_expires_at')
      .on('runtime_responses')
      .column('expires_at')
      .execute();

    await db.schema
      .createTable('runtime_items')
      .addColumn('owner_id', 'text', (column) => column.notNull())
      .addColumn('seq', 'integer', (column) => column.notNull())
      .addColumn('tenant_id', 'text', (column) => column.notNull())
      .addColumn('id', 'text', (column) => column.notNull())
      .addColumn('type', 'text', (column) => column.notNull())
      .addColumn('kind', 'text', (column) => column.notNull())
      .addColumn('response_id', 'text')
      .addColumn('conversation_id', 'text')
      .addColumn('conversation_seq', big)
      .addColumn('created_at', big, (column) => column.notNull())
      .addColumn('expires_at', big)
      .addColumn('body', 'text', (column) => column.notNull())
      .addPrimaryKeyConstraint('runtime_items_pk', ['owner_id', 'seq'])
      .execute();
    await db.schema
      .createIndex('runtime_items_tenant_id')
      .on('runtime_items')
      .columns(['tenant_id', 'id'])
      .execute();
    await db.schema
      .createIndex('runtime_items_conversation')
      .on('runtime_items')
      .columns(['conversation_id', 'conversation_seq'])
      .execute();
    await db.schema
      .createIndex('runtime_items_expires_at')
      .on('runtime_items')
      .column('expires_at')
      .execute();

    await db.schema
      .createTable('runtime_conversations')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('tenant_id', 'text', (column) => column.notNull())
      .addColumn('created_at', big, (column) => column.notNull())
      .addColumn('expires_at', big)
      .addColumn('metadata', 'text', (column) => column.notNull())
      .addColumn('item_seq', big, (column) => column.notNull())
      .execute();
    await db.schema
      .createIndex('runtime_conversations_expires_at')
      .on('runtime_conversations')
      .column('expires_at')
      .execute();

    await db.schema
      .createTable('runtime_response_events')
      .addColumn('response_id', 'text', (column) => column.primaryKey())
      .addColumn('tenant_id', 'text', (column) => column.notNull())
      .addColumn('expires_at', big)
      .addColumn('events', 'text', (column) => column.notNull())
      .execute();
    await db.schema
      .createIndex('runtime_response_events_expires_at')
      .on('runtime_response_events')
      .column('expires_at')
      .execute();
  },
};
