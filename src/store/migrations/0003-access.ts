import type { CreateTableBuilder } from 'kysely';
import type { Migration } from './types.js';
import { int64 } from './types.js';

/**
 * Creates the access tables: tenants, projects, api_keys, api_key_secrets, budget_spend and
 * audit_log (see ../access-schema.ts).
 */
export const access: Migration = {
  name: '0003-access',
  async up(db, dialect) {
    const big = int64(dialect);
    const entity = <T extends string>(builder: CreateTableBuilder<T, never>) =>
      builder
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('name', 'text', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('metadata', 'text')
        .addColumn('tags', 'text', (column) => column.notNull())
        .addColumn('rpm', 'integer')
        .addColumn('tpm', 'integer')
        .addColumn('max_concurrent', 'integer')
        .addColumn('budget_micros', big)
        .addColumn('budget_period', 'text')
        .addColumn('budget_mode', 'text')
        .addColumn('budget_alert_percent', 'integer')
        .addColumn('created_at', big, (column) => column.notNull())
        .addColumn('updated_at', big, (column) => column.notNull());

    await entity(db.schema.createTable('tenants')).execute();
    await entity(db.schema.createTable('projects'))
      .addColumn('tenant_id', 'text', (column) => column.notNull().references('tenants.id'))
      .execute();
    await db.schema.createIndex('projects_tenant').on('projects').column('tenant_id').execute();
    await entity(db.schema.createTable('api_keys'))
      .addColumn('tenant_id', 'text', (column) => column.notNull().references('tenants.id'))
      .addColumn('project_id', 'text', (column) => column.notNull().references('projects.id'))
      .addColumn('allowed_models', 'text')
      .addColumn('key_prefix', 'text', (column) => column.notNull())
      .addColumn('expires_at', big)
      .addColumn('revoked_at', big)
      .execute();
    await db.schema.createIndex('api_keys_project').on('api_keys').column('project_id').execute();
    await db.schema.createIndex('api_keys_tenant').on('api_keys').column('tenant_id').execute();
    await db.schema
      .createTable('api_key_secrets')
      .addColumn('hash', 'text', (column) => column.primaryKey())
      .addColumn('key_id', 'text', (column) => column.notNull().references('api_keys.id'))
      .addColumn('prefix', 'text', (column) => column.notNull())
      .addColumn('created_at', big, (column) => column.notNull())
      .addColumn('expires_at', big)
      .execute();
    await db.schema
      .createIndex('api_key_secrets_key')
      .on('api_key_secrets')
      .column('key_id')
      .execute();
    await db.schema
      .createTable('budget_spend')
      .addColumn('scope', 'text', (column) => column.notNull())
      .addColumn('period_start', big, (column) => column.notNull())
      .addColumn('spent', big, (column) => column.notNull())
      .addColumn('alerted_percent', big, (column) => column.notNull())
      .addPrimaryKeyConstraint('budget_spend_pk', ['scope', 'period_start'])
      .execute();
    await db.schema
      .createTable('audit_log')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('at', big, (column) => column.notNull())
      .addColumn('actor', 'text', (column) => column.notNull())
      .addColumn('action', 'text', (column) => column.notNull())
      .addColumn('target_type', 'text', (column) => column.notNull())
      .addColumn('target_id', 'text', (column) => column.notNull())
      .addColumn('before', 'text')
      .addColumn('after', 'text')
      .addColumn('request_id', 'text')
      .execute();
    await db.schema.createIndex('audit_log_at').on('audit_log').columns(['at', 'id']).execute();
    await db.schema
      .createIndex('audit_log_target')
      .on('audit_log')
      .columns(['target_type', 'target_id', 'at'])
      .execute();
  },
};
