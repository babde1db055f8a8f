import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database, migrate, MIGRATIONS } from '../../src/store/index.js';
import { telemetry } from '../../src/store/migrations/0007-telemetry.js';
import {
  ROLLUP_MEASURES,
  type RollupMeasure,
  telemetryDb,
} from '../../src/telemetry/rollup-schema.js';
import { type PgTestDatabase, pgTestUrl } from '../helpers/postgres.js';

// Telemetry's tables used to come from their own migration list (telemetry-0001 … 0003, applied
// by the telemetry module); they are now the store's 0007-telemetry. A database that applied the
// old list must migrate cleanly and keep its roll-ups.
const pg: PgTestDatabase | undefined = await pgTestUrl();
afterAll(async () => pg?.drop());
const stores: Array<[string, string]> = [
  ['sqlite', 'sqlite::memory:'],
  ...(pg ? [['postgres', pg.url] as [string, string]] : []),
];

describe.each(stores)('telemetry tables in the ordered migrations (%s)', (_dialect, url) => {
  it('a fresh store gets them from migrate()', async () => {
    const database = await createDatabase(url);
    try {
      if (database.dialect === 'postgres') await fresh(database);
      const applied = await migrate(database);
      expect(applied).toContain('0007-telemetry');
      expect(applied.some((name) => name.startsWith('telemetry-'))).toBe(false);
      await telemetryDb(database)
        .insertInto('telemetry_bodies')
        .values({ request_id: 'req_1', created_at: 1n, request: '{}', response: null })
        .execute();
      expect(await migrate(database)).toEqual([]);
    } finally {
      await database.close();
    }
  });

  it('a store that applied the old telemetry-000x migrations records 0007-telemetry and keeps its rows', async () => {
    const database = await createDatabase(url);
    try {
      if (database.dialect === 'postgres') await fresh(database);
      // The state an earlier release left: the store's migrations up to billing, then telemetry's own list.
      const before = MIGRATIONS.slice(
        0,
        MIGRATIONS.findIndex((migration) => migration.name === '0004-billing') + 1,
      );
      await migrate(database, [
        ...before,
        { name: 'telemetry-0001-usage-rollups', up: telemetry.up },
        { name: 'telemetry-0002-bodies', up: async () => {} },
        { name: 'telemetry-0003-usage-events-key-index', up: async () => {} },
      ]);
      // The old table has no TTFB histogram (a later migration adds it).
      const zeros = Object.fromEntries(
        ROLLUP_MEASURES.filter((measure) => !measure.startsWith('ttfb_')).map((measure) => [
          measure,
          0n,
        ]),
      ) as Record<RollupMeasure, bigint>;
      const row = {
        detail: 0n,
        bucket_minutes: 60n,
        bucket_start: 3_600_000n,
        tenant_id: 'acme',
        project_id: '*',
        key_id: '*',
        model: 'm',
        deployment: 'azure',
        partner: 'azure',
        surface: 'openai-chat',
        status: 'ok',
        ...zeros,
        requests: 7n,
      };
      await telemetryDb(database).insertInto('telemetry_usage_rollups').values(row).execute();

      const applied = await migrate(database);
      expect(applied).toContain('0007-telemetry');
      const kept = await telemetryDb(database)
        .selectFrom('telemetry_usage_rollups')
        .select(['tenant_id', 'requests', 'ttfb_0'])
        .execute();
      expect(
        kept.map((found) => [found.tenant_id, Number(found.requests), Number(found.ttfb_0)]),
      ).toEqual([['acme', 7, 0]]);
      const names = (
        await sql<{ name: string }>`select name from switchyard_migrations`.execute(database.db)
      ).rows.map((found) => found.name);
      expect(names).toEqual(
        expect.arrayContaining(['telemetry-0001-usage-rollups', '0007-telemetry']),
      );
      expect(await migrate(database)).toEqual([]);
    } finally {
      await database.close();
    }
  });
});

/** Empties a Postgres test database (both cases share it). */
async function fresh(database: Database): Promise<void> {
  await sql`drop schema public cascade`.execute(database.db);
  await sql`create schema public`.execute(database.db);
}
