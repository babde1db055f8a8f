import pg from 'pg';
import type { StorePoolConfig } from '../../config/store-schema.js';
import { merged } from '../../core/objects.js';

/** int8 — the type of `bigint` columns, `count(*)` and `sum(int4)` in Postgres. */
const PG_INT8_OID = 20;

/** Defaults of `store.pool` (the config schema fills them; programmatic callers may not). */
export const POOL_DEFAULTS: StorePoolConfig = {
  size: 10,
  connectTimeoutMs: 5_000,
  acquireTimeoutMs: 5_000,
  statementTimeoutMs: 30_000,
  queryTimeoutMs: 35_000,
  idleInTransactionTimeoutMs: 60_000,
  idleTimeoutMs: 30_000,
  keepAlive: true,
  keepAliveInitialDelayMs: 10_000,
};

/** pg's message for a client-side query timeout (`query_timeout`). */
const READ_TIMEOUT = 'Query read timeout';

/**
 * A pg Pool that survives its database going away:
 *
 * - Every client has an `'error'` listener for its whole life, not only while idle (pg-pool's
 *   own listener is removed while a client is checked out, so a connection that dies between
 *   two statements of a transaction used to be an unhandled `'error'` event that killed the
 *   process). The pool's `'error'` (idle clients) goes to the same handler.
 * - Connect, acquire, statement (server side), query (client side) and idle-in-transaction time
 *   limits, and TCP keep-alive, so a stalled server or proxy never holds a request forever.
 * - A query that timed out client-side leaves its connection waiting for an answer that may
 *   never come (pg keeps the protocol in order); that connection is destroyed, so the pool opens
 *   a fresh one instead of handing the stuck one out again.
 *
 * pg-pool drops a client that errored or ended when it is released, and opens new ones on
 * demand, so the pool recovers by itself once the database is back.
 */
export function createPgPool(
  url: string,
  limits: Partial<StorePoolConfig>,
  onError: (error: Error) => void,
): pg.Pool {
  const settings = merged(POOL_DEFAULTS, limits);
  const positive = (value: number) => (value > 0 ? value : undefined);
  class GuardedClient extends pg.Client {
    constructor(config: pg.ClientConfig) {
      super(
        merged(config, {
          connectionTimeoutMillis: settings.connectTimeoutMs,
          keepAlive: settings.keepAlive,
          keepAliveInitialDelayMillis: settings.keepAliveInitialDelayMs,
          ...(positive(settings.statementTimeoutMs) && {
            statement_timeout: settings.statementTimeoutMs,
          }),
          ...(positive(settings.queryTimeoutMs) && { query_timeout: settings.queryTimeoutMs }),
          ...(positive(settings.idleInTransactionTimeoutMs) && {
            idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs,
          }),
        }),
      );
      this.on('error', onError);
    }
  }
  // Overridden on the prototype: pg's query() has many overloads, and only the promise form
  // (the one Kysely uses) needs the stuck-connection guard.
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (GuardedClient.prototype as unknown as { query: typeof query }).query = function guarded(
    this: pg.Client & { connection?: { stream?: { destroy(): void } } },
    ...args: unknown[]
  ) {
    const result = query.apply(this, args);
    if (!(result instanceof Promise)) return result;
    return result.catch((error: unknown) => {
      if ((error as Error | undefined)?.message === READ_TIMEOUT)
        this.connection?.stream?.destroy();
      throw error;
    });
  };

  const pool = new pg.Pool({
    connectionString: url,
    max: settings.size,
    Client: GuardedClient as unknown as typeof pg.Client,
    // pg-pool applies this to waiting for a free client and to opening a new one.
    ...(positive(settings.acquireTimeoutMs) && {
      connectionTimeoutMillis: settings.acquireTimeoutMs,
    }),
    idleTimeoutMillis: settings.idleTimeoutMs,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8_OID && format !== 'binary'
          ? (value: string) => BigInt(value)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // Without a listener, an idle connection error is an unhandled 'error' event and kills the process.
  pool.on('error', onError);
  return pool;
}
