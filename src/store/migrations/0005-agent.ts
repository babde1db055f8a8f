import type { Migration } from './types.js';
import { int64 } from './types.js';

/**
 * The agent runtime's tables (runtime/agent, runtime/tools):
 * - `agent_runs`: checkpointed server-run agent loops and background responses, under a lease
 *   (`../agent-runs.ts`);
 * - `agent_http_tools`: operator-registered HTTP tools (`runtime/tools/http-tools.ts`), the auth
 *   header sealed;
 * - `agent_memory`: the memory store of the built-in `memory` tool, per tenant and user
 *   (`runtime/tools/memory-store.ts`): key/value entries (`kind = 'kv'`) and notes
 *   (`kind = 'note'`).
 *
 * Releases before this migration created `agent_runs` and `agent_http_tools` lazily on first
 * use, with these same columns: every statement is `if not exists`, so such a database
 * migrates without touching its rows.
 */
export const agent: Migration = {
  name: '0005-agent',
  async up(db, dialect) {
    const big = int64(dialect);
    await db.schema
      .createTable('agent_runs')
      .ifNotExists()
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('tenant_id', 'text', (column) => column.notNull())
      .addColumn('status', 'text', (column) => column.notNull())
      .addColumn('background', 'integer', (column) => column.notNull())
      .addColumn('cancel_requested', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('lease_owner', 'text')
      .addColumn('lease_expires_at', big)
      .addColumn('created_at', big, (column) => column.notNull())
      .addColumn('updated_at', big, (column) => column.notNull())
      // Large JSON last: SQLite reads overflow pages only for the columns a query needs.
      .addColumn('request', 'text', (column) => column.notNull())
      .addColumn('state', 'text', (column) => column.notNull())
      .addColumn('response', 'text', (column) => column.notNull())
      .addColumn('events', 'text', (column) => column.notNull())
      .execute();
    // The takeover worker's scan: unfinished runs by lease expiry.
    await db.schema
      .createIndex('agent_runs_lease')
      .ifNotExists()
      .on('agent_runs')
      .columns(['status', 'lease_expires_at'])
      .execute();

    await db.schema
      .createTable('agent_http_tools')
      .ifNotExists()
      .addColumn('name', 'text', (column) => column.primaryKey())
      .addColumn('description', 'text')
      .addColumn('parameters', 'text', (column) => column.notNull())
      .addColumn('url', 'text', (column) => column.notNull())
      .addColumn('auth_header', 'text')
      .addColumn('timeout_ms', 'integer', (column) => column.notNull())
      .addColumn('idempotent', 'integer', (column) => column.notNull())
      .addColumn('created_at', big, (column) => column.notNull())
      .execute();

    await db.schema
      .createTable('agent_memory')
      .ifNotExists()
      .addColumn('tenant_id', 'text', (column) => column.notNull())
      .addColumn('user_id', 'text', (column) => column.notNull())
      .addColumn('kind', 'text', (column) => column.notNull())
      .addColumn('key', 'text', (column) => column.notNull())
      /** UTF-8 bytes of key + value: what the per-user byte limit counts. */
      .addColumn('bytes', 'integer', (column) => column.notNull())
      .addColumn('created_at', big, (column) => column.notNull())
      .addColumn('updated_at', big, (column) => column.notNull())
      .addColumn('value', 'text', (column) => column.notNull())
      .addPrimaryKeyConstraint('agent_memory_pk', ['tenant_id', 'user_id', 'kind', 'key'])
      .execute();
    // Recent notes first (search, listing) within one user's memory.
    await db.schema
      .createIndex('agent_memory_recent')
      .ifNotExists()
      .on('agent_memory')
      .columns(['tenant_id', 'user_id', 'kind', 'updated_at'])
      .execute();
  },
};
