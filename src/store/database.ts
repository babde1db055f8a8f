import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type { KyselyConfig, SqliteDatabase as KyselySqliteDatabase } from 'kysely';
import type { StorePoolConfig } from '../config/store-schema.js';
import { createPgPool } from './internal/postgres-pool.js';
import type { Schema } from './schema.js';
import { merged } from '../core/objects.js';

/** SQL dialect behind a {@link Database}. */
export type Dialect = 'sqlite' | 'postgres';

/** An open database: the typed query builder plus what dialect-aware code needs. */
export interface Database {
  /** Typed query builder. Write queries once; they must run on both dialects. */
  readonly db: Kysely<Schema>;
  readonly dialect: Dialect;
  /**
   * SQLite only: the better-sqlite3 handle behind `db`, for hot paths that run pre-prepared
   * statements (billing's metering). Use it only while holding Kysely's connection
   * (`db.connection().execute(...)`), so no other query runs between its statements.
   */
  readonly sqlite?: SqliteDatabase.Database;
  /** Closes the pool or file handle. Safe to call more than once. */
  close(): Promise<void>;
}

/** Options for {@link createDatabase}. */
export interface DatabaseOptions {
  /** Kysely query logging (levels array or a function). Default: none. */
  log?: KyselyConfig['log'];
  /** Postgres only: maximum pooled connections (wins over `pool.size`). Default: 10. */
  poolSize?: number;
  /** Postgres only: pool size and time limits (`store.pool`); missing fields take the defaults. */
  pool?: Partial<StorePoolConfig>;
  /**
   * Postgres only: called when a pooled connection fails, idle or checked out (for example the
   * server restarted). pg drops that connection and the next query opens a new one.
   * Default: `process.emitWarning`.
   */
  onError?: (error: Error) => void;
  /**
   * SQLite files only: run the checkpoint thread (see `startCheckpointer`). Default true. A
   * `server.workers` worker passes false: the primary writes the usage and checkpoints the file;
   * one more thread per worker only repeated its checkpoints.
   */
  checkpoint?: boolean;
}

/**
 * Opens a database from a store URL.
 *
 * - `sqlite::memory:` — a private in-memory database (tests).
 * - `sqlite:./path/file.db` (also `sqlite://./path`, `sqlite:///abs/path`) — a file; its parent
 *   directory is created. Pragmas: `journal_mode = WAL`, `synchronous = NORMAL`,
 *   `busy_timeout = 5000`, `foreign_keys = ON`. Use one Database per file per process:
 *   better-sqlite3 is synchronous, so two handles in one process can wait on each other.
 * - `postgres://…` / `postgresql://…` — a pg Pool.
 *
 * 64-bit integers are read back as `bigint` on both dialects (see `schema.ts`). The pg type
 * parser is set on this pool only, never on pg's global `types`.
 *
 * @example
 * const database = await createDatabase('sqlite:./data/switchyard.db');
 * await migrate(database);
 */
export async function createDatabase(
  store: string | { url: string; pool?: Partial<StorePoolConfig> },
  options: DatabaseOptions = {},
): Promise<Database> {
  const url = typeof store === 'string' ? store : store.url;
  const base = options.log === undefined ? {} : { log: options.log };
  if (url.startsWith('sqlite:')) {
    const path = sqlitePath(url);
    const handle = openSqlite(path);
    const checkpointer =
      path === ':memory:' || options.checkpoint === false
        ? undefined
        : startCheckpointer(handle, path);
    // Another process checkpoints this file: commits here never copy the WAL back themselves
    // unless it falls far behind (the same backstop as with a thread of our own).
    if (options.checkpoint === false && path !== ':memory:')
      handle.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    const dialect = new SqliteDialect({ database: cachingStatements(handle, checkpointer) });
    const kysely = new Kysely<Schema>(merged(base, { dialect }));
    return wrap(kysely, 'sqlite', handle, checkpointer);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const limits = merged(
      typeof store === 'string' ? {} : store.pool,
      options.pool,
      options.poolSize !== undefined && { size: options.poolSize },
    );
    const onError = options.onError ?? ((error: Error) => process.emitWarning(error));
    const pool = createPgPool(url, limits, onError);
    const kysely = new Kysely<Schema>(merged(base, { dialect: new PostgresDialect({ pool }) }));
    try {
      await ping(kysely);
    } catch (error) {
      await kysely.destroy();
      throw error;
    }
    return wrap(kysely, 'postgres');
  }
  // Only the scheme: the URL may carry a password.
  const scheme = url.split(':')[0] ?? '';
  throw new TypeError(`unsupported store URL scheme "${scheme}:" (use sqlite: or postgres://)`);
}

function sqlitePath(url: string): string {
  const rest = url.slice('sqlite:'.length);
  if (rest === ':memory:') return rest;
  const path = rest.startsWith('//') ? rest.slice(2) : rest;
  if (path === '') {
    throw new TypeError('sqlite store URL has no file path (use sqlite:./data/switchyard.db)');
  }
  return path;
}

function openSqlite(path: string): SqliteDatabase.Database {
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const database = new SqliteDatabase(path);
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('busy_timeout = 5000');
    database.pragma('foreign_keys = ON');
    // Every INTEGER comes back as bigint, so 64-bit values never lose precision.
    database.defaultSafeIntegers(true);
  } catch (error) {
    database.close();
    throw error;
  }
  return database;
}

/** Prepared statements kept per SQLite database (least recently used dropped first). */
const STATEMENT_CACHE_SIZE = 128;
/**
 * Longest SQL text whose statement is kept. Multi-row bulk statements (roll-up upserts, batched
 * ledger inserts) are long, vary with the row count and compile to about 1 MB each for 400 rows
 * × 32 columns, so caching them would pin memory for little gain; they are prepared each time.
 */
const STATEMENT_CACHE_MAX_SQL = 4096;

/**
 * Kysely's SQLite driver calls `prepare(sql)` for every query; for the per-request usage insert,
 * compiling the statement cost about as much as running it (bench/run.ts profile). The same
 * short SQL text now reuses its prepared statement. Safe: the driver runs one query at a time on
 * its single connection, and each statement is run or read to the end before the next query.
 */
function cachingStatements(
  database: SqliteDatabase.Database,
  checkpointer?: Checkpointer,
): KyselySqliteDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => {
      checkpointer?.stop();
      database.close();
    },
    prepare(sql) {
      if (sql.length > STATEMENT_CACHE_MAX_SQL) return database.prepare(sql);
      let statement = cache.get(sql);
      if (statement) cache.delete(sql);
      else {
        statement = database.prepare(sql);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}

/** WAL pages after which the writer checkpoints itself, if the checkpoint thread falls behind. */
const FALLBACK_AUTOCHECKPOINT_PAGES = 16_000;
/** How often the checkpoint thread copies the WAL back into the database file, ms. */
const CHECKPOINT_INTERVAL_MS = 250;

interface Checkpointer {
  stop(): void;
  /**
   * Settles once the thread has made its last checkpoint and closed its connection (or after
   * {@link CHECKPOINTER_STOP_MS}): `close()` waits for it, so nothing touches the files after.
   */
  readonly stopped: Promise<void>;
}

/** Longest `close()` waits for the checkpoint thread's last checkpoint, ms. */
const CHECKPOINTER_STOP_MS = 2_000;

/**
 * Moves WAL checkpoints off the event loop. By default SQLite checkpoints inside the commit
 * that pushes the WAL past 1,000 pages: that commit copies the pages back into the database
 * file and fsyncs it, stalling every request on the event loop for milliseconds (the p99 of
 * bench/run.ts). Here a worker thread with its own connection runs a PASSIVE checkpoint every
 * 250 ms (it never blocks the writer), and the writer's own automatic checkpoint stays only as
 * a backstop at 16,000 pages (64 MB), should the thread stop or fall behind. Durability is
 * unchanged: commits are in the WAL either way; a checkpoint only moves them.
 */
function startCheckpointer(
  handle: SqliteDatabase.Database,
  path: string,
): Checkpointer | undefined {
  let worker: Worker;
  try {
    worker = new Worker(CHECKPOINT_WORKER, {
      eval: true,
      workerData: {
        module: createRequire(import.meta.url).resolve('better-sqlite3'),
        path: resolve(path),
        intervalMs: CHECKPOINT_INTERVAL_MS,
      },
    });
  } catch {
    return undefined; // No threads: the writer keeps checkpointing itself.
  }
  handle.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
  worker.unref();
  // A thread that fails (file gone, out of memory) must not take the process down; the backstop takes over.
  worker.on('error', () => {
    try {
      if (handle.open) handle.pragma('wal_autocheckpoint = 1000');
    } catch {
      // Closing meanwhile: nothing left to checkpoint for.
    }
  });
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      // Held referenced while it stops: an unreferenced thread (and timer) would let the process
      // exit under a pending `await close()` (exit code 13, unsettled top-level await).
      worker.ref();
      worker.postMessage('stop');
      stopped ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          worker.unref();
          resolve();
        }, CHECKPOINTER_STOP_MS);
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    get stopped() {
      return stopped ?? Promise.resolve();
    },
  };
}

const CHECKPOINT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const checkpoint = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/** Fails fast on a bad URL or credentials instead of on the first request. */
async function ping(kysely: Kysely<Schema>): Promise<void> {
  await kysely.connection().execute(async () => undefined);
}

function wrap(
  db: Kysely<Schema>,
  dialect: Dialect,
  sqlite?: SqliteDatabase.Database,
  checkpointer?: Checkpointer,
): Database {
  let closing: Promise<void> | undefined;
  return {
    db,
    dialect,
    ...(sqlite && { sqlite }),
    close() {
      // The checkpoint thread's last checkpoint is part of closing: after this resolves, no
      // thread of this database touches its files (a caller may delete them).
      closing ??= db.destroy().then(() => checkpointer?.stopped);
      return closing;
    },
  };
}
