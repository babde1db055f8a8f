import { z } from 'zod';

/** The default store: a SQLite file under ./data. */
export const DEFAULT_STORE_URL = 'sqlite:./data/switchyard.db';

const ms = (fallback: number) => z.number().int().nonnegative().default(fallback);

/** Postgres pool and time limits (`store.pool`). SQLite uses only what it can (none today). */
const poolSchema = z.strictObject({
  /** Most connections open at once. Default 10. */
  size: z.number().int().positive().default(10),
  /** Opening one connection (TCP and startup), ms. Default 5000. */
  connectTimeoutMs: ms(5_000),
  /** Waiting for a pooled connection, opening one included, ms. Default 5000. */
  acquireTimeoutMs: ms(5_000),
  /** Server-side `statement_timeout`, ms (0 = none). Default 30000. */
  statementTimeoutMs: ms(30_000),
  /**
   * Client-side limit on one query's answer, ms (0 = none): catches a server or proxy that
   * stalls without closing the socket; the connection is then dropped. Default 35000.
   */
  queryTimeoutMs: ms(35_000),
  /** Server-side `idle_in_transaction_session_timeout`, ms (0 = none). Default 60000. */
  idleInTransactionTimeoutMs: ms(60_000),
  /** An idle pooled connection is closed after this long, ms. Default 30000. */
  idleTimeoutMs: ms(30_000),
  /** TCP keep-alive on store connections, so a silently dead peer is noticed. Default true. */
  keepAlive: z.boolean().default(true),
  /** Idle time before the first keep-alive probe, ms. Default 10000. */
  keepAliveInitialDelayMs: ms(10_000),
});

/** The local usage spool (`store.spool`): where usage goes while the store cannot take it. */
const spoolSchema = z.strictObject({
  /** Spool usage events the store cannot commit. Default true (false loses them: tests only). */
  enabled: z.boolean().default(true),
  /** Directory of the spool files. Default: `spool/` next to the SQLite file, else `./data/spool`. */
  dir: z.string().min(1).optional(),
  /** How long a usage commit may take before the event is spooled instead, ms. Default 2000. */
  commitTimeoutMs: z.number().int().positive().default(2_000),
  /** How often spooled events are tried against the store again, ms. Default 1000. */
  replayIntervalMs: z.number().int().positive().default(1_000),
});

const storeObject = z.strictObject({
  url: z.string().min(1).default(DEFAULT_STORE_URL),
  pool: poolSchema.prefault({}),
  spool: spoolSchema.prefault({}),
  /** Time limit of /readyz's store check (and the scrape's store ping), ms. Default 2000. */
  readyTimeoutMs: z.number().int().positive().default(2_000),
});

/**
 * `store:` is either the URL alone (`store: postgres://…`) or an object with `url`, `pool`,
 * `spool` and `readyTimeoutMs`; both read as the object, with every default filled in.
 */
export const storeSchema = z
  .union([z.string().min(1), storeObject])
  .transform((value) => (typeof value === 'string' ? storeObject.parse({ url: value }) : value))
  .prefault(DEFAULT_STORE_URL);

/** The store settings, after defaults. */
export type StoreConfig = z.output<typeof storeObject>;
/** Pool and time limits of a Postgres store. */
export type StorePoolConfig = StoreConfig['pool'];
/** Spool settings. */
export type StoreSpoolConfig = StoreConfig['spool'];
