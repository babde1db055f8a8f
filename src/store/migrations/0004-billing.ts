import { sql } from 'kysely';
import type { Migration } from './types.js';
import { int64 } from './types.js';

/**
 * Creates the billing tables (see `../billing-schema.ts`): the ledger, revenue-share clauses,
 * clause lines, periods, statements and hourly and daily rollups.
 *
 * Every metered request writes a transaction, four to six entries, a clause line per clause and
 * a rollup upsert, so indexes are kept to what a query needs: refunds (transactions by request
 * id), report edges (transactions by time), customer statements (transactions by period and
 * tenant), partner statements (clause lines by partner and period). Entries are reached through
 * their transaction (primary key), never by account. On SQLite the tables keyed by text are
 * `WITHOUT ROWID`, so a row is stored once, in its primary-key b-tree.
 */
export const billing: Migration = {
  name: '0004-billing',
  async up(db, dialect) {
    const big = int64(dialect);
    const compact = <T extends { modifyEnd(node: ReturnType<typeof sql.raw>): T }>(
      builder: T,
    ): T => (dialect === 'sqlite' ? builder.modifyEnd(sql.raw('without rowid')) : builder);
    await compact(
      db.schema
        .createTable('ledger_transactions')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('kind', 'text', (column) => column.notNull())
        .addColumn('request_id', 'text')
        .addColumn('tenant_id', 'text', (column) => column.notNull())
        .addColumn('project_id', 'text', (column) => column.notNull())
        .addColumn('key_id', 'text', (column) => column.notNull())
        .addColumn('model', 'text', (column) => column.notNull())
        .addColumn('deployment', 'text', (column) => column.notNull())
        .addColumn('partner', 'text', (column) => column.notNull())
        .addColumn('effective_at', big, (column) => column.notNull())
        .addColumn('posted_at', big, (column) => column.notNull())
        .addColumn('period', 'text', (column) => column.notNull())
        .addColumn('adjusts_period', 'text')
        .addColumn('reverses', 'text')
        .addColumn('payload_hash', 'text', (column) => column.notNull())
        .addColumn('price_version', big)
        .addColumn('revenue', big, (column) => column.notNull())
        .addColumn('cost', big, (column) => column.notNull())
        .addColumn('share', big, (column) => column.notNull())
        .addColumn('memo', 'text'),
    ).execute();
    await db.schema
      .createIndex('ledger_transactions_request')
      .on('ledger_transactions')
      .column('request_id')
      .execute();
    await db.schema
      .createIndex('ledger_transactions_effective_at')
      .on('ledger_transactions')
      .column('effective_at')
      .execute();
    await db.schema
      .createIndex('ledger_transactions_period_tenant')
      .on('ledger_transactions')
      .columns(['period', 'tenant_id', 'id'])
      .execute();

    await compact(
      db.schema
        .createTable('ledger_entries')
        .addColumn('transaction_id', 'text', (column) => column.notNull())
        .addColumn('seq', big, (column) => column.notNull())
        .addColumn('account', 'text', (column) => column.notNull())
        .addColumn('amount', big, (column) => column.notNull())
        .addColumn('period', 'text', (column) => column.notNull())
        .addPrimaryKeyConstraint('ledger_entries_pk', ['transaction_id', 'seq']),
    ).execute();

    await db.schema
      .createTable('billing_clauses')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('partner', 'text', (column) => column.notNull())
      .addColumn('status', 'text', (column) => column.notNull())
      .addColumn('source', 'text', (column) => column.notNull())
      .addColumn('rate_ppm', big, (column) => column.notNull())
      .addColumn('cap', big)
      .addColumn('currency', 'text', (column) => column.notNull())
      .addColumn('starts_at', big)
      .addColumn('ends_at', big)
      .addColumn('basis_kind', 'text', (column) => column.notNull())
      .addColumn('clouds', 'text')
      .addColumn('models', 'text')
      .addColumn('clawback', 'text', (column) => column.notNull())
      .addColumn('terms_hash', 'text', (column) => column.notNull())
      .addColumn('basis_total', big, (column) => column.notNull())
      .addColumn('accrued_total', big, (column) => column.notNull())
      .addColumn('created_at', big, (column) => column.notNull())
      .addColumn('updated_at', big, (column) => column.notNull())
      .execute();
    await db.schema
      .createIndex('billing_clauses_partner')
      .on('billing_clauses')
      .columns(['partner', 'status'])
      .execute();

    await compact(
      db.schema
        .createTable('billing_share_lines')
        .addColumn('transaction_id', 'text', (column) => column.notNull())
        .addColumn('clause_id', 'text', (column) => column.notNull())
        .addColumn('partner', 'text', (column) => column.notNull())
        .addColumn('request_id', 'text')
        .addColumn('basis_delta', big, (column) => column.notNull())
        .addColumn('accrual_delta', big, (column) => column.notNull())
        .addColumn('period', 'text', (column) => column.notNull())
        .addPrimaryKeyConstraint('billing_share_lines_pk', ['transaction_id', 'clause_id']),
    ).execute();
    await db.schema
      .createIndex('billing_share_lines_partner_period')
      .on('billing_share_lines')
      .columns(['partner', 'period', 'transaction_id'])
      .execute();

    await db.schema
      .createTable('billing_periods')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('starts_at', big, (column) => column.notNull())
      .addColumn('ends_at', big, (column) => column.notNull())
      .addColumn('status', 'text', (column) => column.notNull())
      .addColumn('closed_at', big)
      .execute();

    await db.schema
      .createTable('billing_statements')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('kind', 'text', (column) => column.notNull())
      .addColumn('subject', 'text', (column) => column.notNull())
      .addColumn('period', 'text', (column) => column.notNull())
      .addColumn('hash', 'text', (column) => column.notNull())
      .addColumn('entry_count', big, (column) => column.notNull())
      .addColumn('created_at', big, (column) => column.notNull())
      .addColumn('body', 'text', (column) => column.notNull())
      .execute();

    // Hourly and daily rollups: reports read whole days from the daily table, whole hours at
    // the day edges from the hourly one, and partial hours from the raw rows.
    const dimensions = [
      'bucket',
      'tenant_id',
      'project_id',
      'key_id',
      'model',
      'deployment',
      'partner',
    ];
    for (const table of ['billing_rollups', 'billing_rollups_daily']) {
      let rollups = db.schema
        .createTable(table)
        .addColumn('bucket', big, (column) => column.notNull());
      for (const name of dimensions.slice(1))
        rollups = rollups.addColumn(name, 'text', (column) => column.notNull());
      for (const name of [
        'requests',
        'errors',
        'input_tokens',
        'cached_input_tokens',
        'output_tokens',
        'reasoning_tokens',
        'revenue',
        'cost',
        'share',
      ]) {
        rollups = rollups.addColumn(name, big, (column) => column.notNull());
      }
      await compact(rollups.addPrimaryKeyConstraint(`${table}_pk`, dimensions as never)).execute();
    }
  },
};
