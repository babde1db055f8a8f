import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Server the Postgres suites use. Override with SWITCHYARD_TEST_PG (trust auth is fine). */
export const PG_TEST_SERVER =
  process.env['SWITCHYARD_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Why Postgres suites are skipped, and how to turn them on. */
export const PG_SKIP_MESSAGE =
  `Postgres not reachable at ${redact(PG_TEST_SERVER)}: Postgres contract tests skipped. ` +
  'Start Postgres or set SWITCHYARD_TEST_PG=postgres://user@host:port/db to enable them.';

/** A throwaway database: connect with `url`, then call `drop()` once every pool on it is closed. */
export interface PgTestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * Creates a fresh, uniquely named database on the test server.
 *
 * Returns undefined when the server cannot be reached, so the caller can skip. Throws instead
 * when `CI` is set, or when SWITCHYARD_TEST_PG was set explicitly: there a missing server is
 * a broken set-up, not a reason to skip quietly.
 */
export async function pgTestUrl(): Promise<PgTestDatabase | undefined> {
  let admin: pg.Client;
  try {
    admin = await connectAdmin();
  } catch (error) {
    if (process.env['CI'] || process.env['SWITCHYARD_TEST_PG']) {
      throw new Error(`Postgres is required here but unreachable at ${redact(PG_TEST_SERVER)}`, {
        cause: error,
      });
    }
    return undefined;
  }
  const name = `switchyard_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_TEST_SERVER);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = await connectAdmin();
      try {
        // Pools a failed test forgot to close would otherwise block the drop.
        await client.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1',
          [name],
        );
        await client.query(`drop database if exists "${name}"`);
      } finally {
        await client.end();
      }
    },
  };
}

async function connectAdmin(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: PG_TEST_SERVER, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}
