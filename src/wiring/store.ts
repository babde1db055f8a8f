import type { Config } from '../config/index.js';
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

/** Opens (and migrates) the configured database, unless the caller passes one already open. */
export async function wireStore(config: Config, database?: Database): Promise<StorePlane> {
  const ownsDatabase = database === undefined;
  const db = database ?? (await createDatabase(config.store));
  if (ownsDatabase) await migrate(db);
  return { database: db, usage: createUsageRepository(db), ownsDatabase };
}
