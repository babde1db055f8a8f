import { sql } from 'kysely';
import type { Migration } from './types.js';
import { int64 } from './types.js';

/**
 * Telemetry's tables (typed in `src/telemetry/rollup-schema.ts`): the usage roll-ups behind the
 * dashboard, the optional debug body store, and an index for the usage page's per-key list.
 *
 * Until this migration these were telemetry's own list (`telemetry-0001-usage-rollups`,
 * `telemetry-0002-bodies`, `telemetry-0003-usage-events-key-index`), applied by the telemetry
 * module after the store's. A database that already applied them has the tables and indexes, so
 * every statement here is `if not exists`: there it only records `0007-telemetry`. The column
 * lists are spelled out (not imported from telemetry) because a shipped migration never changes.
 */
export const telemetry: Migration = {
  name: '0007-telemetry',
  async up(db, dialect) {
    const big = int64(dialect);
    const dimensions = [
      'tenant_id',
      'project_id',
      'key_id',
      'model',
      'deployment',
      'partner',
      'surface',
      'status',
    ];
    const measures = [
      'requests',
      'errors',
      'input_tokens',
      'cached_input_tokens',
      'output_tokens',
      'reasoning_tokens',
      'latency_ms_sum',
      'ttft_ms_sum',
      'ttft_count',
      'revenue_micros',
      'cost_micros',
      ...Array.from({ length: 10 }, (_, index) => `lat_${index}`),
    ];
    // One row per (level, bucket, dimensions): `detail` 0 rows (project and key '*') per minute,
    // hour and day; `detail` 1 rows (every dimension) per hour.
    let rollups = db.schema
      .createTable('telemetry_usage_rollups')
      .ifNotExists()
      .addColumn('detail', 'integer', (column) => column.notNull())
      .addColumn('bucket_minutes', 'integer', (column) => column.notNull())
      .addColumn('bucket_start', big, (column) => column.notNull());
    for (const dimension of dimensions)
      rollups = rollups.addColumn(dimension, 'text', (column) => column.notNull());
    for (const measure of measures)
      rollups = rollups.addColumn(measure, big, (column) => column.notNull().defaultTo(0));
    rollups = rollups.addPrimaryKeyConstraint('telemetry_usage_rollups_pk', [
      'detail',
      'bucket_minutes',
      'bucket_start',
      ...dimensions,
    ] as never);
    // SQLite: rows clustered by the primary key, so a time range is one contiguous read.
    await (dialect === 'sqlite' ? rollups.modifyEnd(sql`without rowid`) : rollups).execute();
    await db.schema
      .createIndex('telemetry_usage_rollups_key')
      .ifNotExists()
      .on('telemetry_usage_rollups')
      .columns(['detail', 'key_id', 'bucket_start'])
      .execute();
    await db.schema
      .createIndex('telemetry_usage_rollups_project')
      .ifNotExists()
      .on('telemetry_usage_rollups')
      .columns(['detail', 'project_id', 'bucket_start'])
      .execute();

    // Redacted request and response bodies (`telemetry.bodies.enabled`), pruned by age.
    await db.schema
      .createTable('telemetry_bodies')
      .ifNotExists()
      .addColumn('request_id', 'text', (column) => column.primaryKey())
      .addColumn('created_at', big, (column) => column.notNull())
      .addColumn('request', 'text')
      .addColumn('response', 'text')
      .execute();
    await db.schema
      .createIndex('telemetry_bodies_created_at')
      .ifNotExists()
      .on('telemetry_bodies')
      .column('created_at')
      .execute();

    // The usage page's newest-first list filtered by key reads this instead of scanning the range.
    await db.schema
      .createIndex('usage_events_key_created_at')
      .ifNotExists()
      .on('usage_events')
      .columns(['key_id', 'created_at'])
      .execute();
  },
};
