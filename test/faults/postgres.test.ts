import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStoreUnavailable } from '../../src/errors/index.js';
import { createDatabase, type Database, migrate } from '../../src/store/index.js';
import { pgTestUrl, type PgTestDatabase } from '../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * Postgres behind a breakable proxy: connections cut while idle, inside a query and inside a
 * transaction (between two statements, where only a handler on the checked-out client keeps the
 * process alive), a stall, a refusal, and a pool that recovers by itself each time. An
 * unhandled 'error' event would fail this file (vitest reports unhandled errors).
 */

const pgDatabase = await pgTestUrl();
const suite = pgDatabase ? describe : describe.skip;
if (!pgDatabase) console.warn('Postgres not reachable: store fault tests skipped');

const QUERY_TIMEOUT_MS = 400;
const ACQUIRE_TIMEOUT_MS = 600;

suite('Postgres faults', () => {
  let pg: PgTestDatabase;
  let proxy: TcpProxy;
  let database: Database;
  const errors: Error[] = [];

  beforeAll(async () => {
    pg = pgDatabase!;
    proxy = await startTcpProxy(pg.url);
    database = await createDatabase(
      {
        url: proxy.url(pg.url),
        pool: {
          size: 2,
          connectTimeoutMs: 500,
          acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
          queryTimeoutMs: QUERY_TIMEOUT_MS,
          statementTimeoutMs: 5_000,
        },
      },
      { onError: (error) => errors.push(error) },
    );
    await migrate(database);
  });
  afterAll(async () => {
    await database?.close();
    await proxy?.close();
    await pg?.drop();
  });

  const ping = async () => (await sql<{ one: number }>`select 1 as one`.execute(database.db)).rows;
  /** The pool serves again (a few tries: the first query may meet a connection cut a moment ago). */
  const recovers = async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        expect(await ping()).toEqual([{ one: 1 }]);
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
      }
    }
  };

  it('survives idle pooled connections being cut, and opens new ones', async () => {
    await Promise.all([ping(), ping()]);
    const before = proxy.accepted;
    proxy.cutAll();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await recovers();
    expect(proxy.accepted).toBeGreaterThan(before);
  });

  it('fails a query cut in flight with a store-unavailable error, then recovers', async () => {
    const cut = proxy.cutWhen('pg_sleep');
    const query = sql`select pg_sleep(0.05)`.execute(database.db);
    await cut;
    const error = await query.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isStoreUnavailable(error)).toBe(true);
    await recovers();
  });

  it('survives a connection cut inside a transaction, between statements (checked out, no query running)', async () => {
    const before = errors.length;
    const outcome = await database.db
      .transaction()
      .execute(async (trx) => {
        await sql`select 1`.execute(trx);
        proxy.cutAll(); // the client is checked out and idle: pg emits 'error' on it
        await new Promise((resolve) => setTimeout(resolve, 100));
        await sql`select 2`.execute(trx);
      })
      .then(
        () => 'committed',
        (error: unknown) => error,
      );
    expect(outcome).not.toBe('committed');
    expect(isStoreUnavailable(outcome)).toBe(true);
    expect(errors.length).toBeGreaterThan(before); // heard, not an unhandled 'error' event
    await recovers();
  });

  it('rolls back a transaction cut at COMMIT: nothing half written', async () => {
    await sql`create table if not exists fault_probe (id text primary key)`.execute(database.db);
    const cut = proxy.cutWhen(/^Q[\s\S]*commit/i);
    const outcome = database.db.transaction().execute(async (trx) => {
      await sql`insert into fault_probe (id) values ('half')`.execute(trx);
    });
    await cut;
    await expect(outcome).rejects.toSatisfy(isStoreUnavailable);
    await recovers();
    const rows = await sql`select id from fault_probe`.execute(database.db);
    expect(rows.rows).toEqual([]);
  });

  it('bounds a stalled server: every query fails (query, connect or acquire timeout), then the pool recovers', async () => {
    await Promise.all([ping(), ping()]); // both pooled connections open
    proxy.stall();
    // Two connections (the pool size) stall on their queries; a third waits for a connection.
    const results = await Promise.allSettled([ping(), ping(), ping()]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const reason = (result as PromiseRejectedResult).reason;
      expect(isStoreUnavailable(reason), String(reason)).toBe(true);
    }
    const messages = results.map((result) => String((result as PromiseRejectedResult).reason));
    expect(messages.some((message) => message.includes('Query read timeout'))).toBe(true);
    await proxy.restore();
    await recovers();
  });

  it('fails fast while the server refuses connections, and recovers when it comes back', async () => {
    await proxy.refuse();
    // Pooled connections were cut with the refusal: every query now needs a new connection.
    const error = await ping().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isStoreUnavailable(error)).toBe(true);
    await proxy.restore();
    await recovers();
  });
});
