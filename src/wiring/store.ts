import type { Config } from '../config/index.js';
import type { Logger } from '../telemetry/logger.js';
import {
  createDatabase,
  createUsageRepository,
  type Database,
  migrate,
  type UsageRepository,
} from '../store/index.js';

/** The store plane as the app uses it. */
export interface StorePlane {
  database: Database;
  usage: UsageRepository;
  /** Whether the app opened the database (and so closes it). */
  ownsDatabase: boolean;
}

/**
 * Opens (and migrates) the configured database, unless the caller passes one already open.
 * Replicas starting together are safe: migrate() serialises them (see store/migrate.ts), and the
 * one that applied migrations says so in its log.
 * Pooled connections that fail are logged (`store connection error`); pg opens new ones.
 * `checkpoint: false` (a `server.workers` worker on SQLite) leaves WAL checkpoints to the primary.
 */
export async function wireStore(
  config: Config,
  database?: Database,
  logger?: Logger,
  options: { checkpoint?: boolean } = {},
): Promise<StorePlane> {
  const ownsDatabase = database === undefined;
  // `store.pool` limits apply; a connection lost at any time is logged, never crashes.
  const onError = (error: Error) => logger?.warn({ err: error }, 'store connection error');
  const db =
    database ??
    (await createDatabase(config.store, {
      onError,
      ...(options.checkpoint === false && { checkpoint: false }),
    }));
  if (ownsDatabase) {
    const applied = await migrate(db);
    if (applied.length > 0) logger?.info({ migrations: applied }, 'migrations applied');
  }
  return { database: db, usage: createUsageRepository(db), ownsDatabase };
}
