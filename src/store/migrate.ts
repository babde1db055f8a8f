import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import { MIGRATIONS } from './migrations/index.js';
import { int64 } from './migrations/types.js';
import type { Migration } from './migrations/types.js';

/**
 * Key for the Postgres advisory lock that serialises migrations across processes.
 * ASCII "SWYMIG" — any fixed int8 works, it only has to be ours.
 */
const LOCK_KEY = 0x53_57_59_4d_49_47n;

/**
 * Applies every migration not yet recorded in `switchyard_migrations`, in list order, and
 * returns the names it applied (empty when the database is up to date).
 *
 * All pending migrations run in one transaction on one connection, so a failure leaves the
 * database as it was. Several processes may call this at once:
 * - Postgres: the transaction first takes `pg_advisory_xact_lock`, so the others wait, then
 *   find the work done. The lock is released by commit or rollback, even if the process dies.
 * - SQLite: `begin immediate` takes the write lock up front; other processes wait up to
 *   `busy_timeout` (5 s).
 * Migrations recorded in the database but missing from `migrations` (a newer release ran
 * first) are left alone, so an older replica can still start during a rolling deploy.
 *
 * @param migrations Defaults to the built-in {@link MIGRATIONS} list; tests may pass others.
 */
export async function migrate(
  database: Database,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<string[]> {
  assertUniqueNames(migrations);
  const { dialect } = database;
  return database.db.connection().execute(async (connection) => {
    // biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was then, not today's type
    const db = connection as unknown as Kysely<any>;
    await sql.raw(dialect === 'sqlite' ? 'begin immediate' : 'begin').execute(db);
    try {
      if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${LOCK_KEY})`.execute(db);
      await db.schema
        .createTable('switchyard_migrations')
        .ifNotExists()
        .addColumn('name', 'text', (column) => column.primaryKey())
        .addColumn('applied_at', int64(dialect), (column) => column.notNull())
        .execute();
      const rows: Array<{ name: string }> = await db
        .selectFrom('switchyard_migrations')
        .select('name')
        .execute();
      const done = new Set(rows.map((row) => row.name));
      const applied: string[] = [];
      for (const migration of migrations) {
        if (done.has(migration.name)) continue;
        try {
          await migration.up(db, dialect);
        } catch (error) {
          throw new Error(`migration ${migration.name} failed`, { cause: error });
        }
        await db
          .insertInto('switchyard_migrations')
          .values({ name: migration.name, applied_at: Date.now() })
          .execute();
        applied.push(migration.name);
      }
      await sql.raw('commit').execute(db);
      return applied;
    } catch (error) {
      await sql
        .raw('rollback')
        .execute(db)
        .catch(() => undefined);
      throw error;
    }
  });
}

function assertUniqueNames(migrations: readonly Migration[]): void {
  const seen = new Set<string>();
  for (const { name } of migrations) {
    if (seen.has(name)) throw new Error(`duplicate migration name "${name}"`);
    seen.add(name);
  }
}
