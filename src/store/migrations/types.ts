import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * One schema change. `up` runs inside the migration transaction on a single connection:
 * do not open another transaction, and do not use statements Postgres refuses inside one
 * (such as `create index concurrently`).
 */
export interface Migration {
  /** Unique and never renamed: it is what the migrations table records. */
  readonly name: string;
  // `any`: a migration sees the schema as it was when it was written, not today's `Schema`.
  // biome-ignore lint/suspicious/noExplicitAny: a migration sees the schema as it was then, not today's type
  up(db: Kysely<any>, dialect: Dialect): Promise<void>;
}

/**
 * SQL type for a 64-bit integer column (money, tokens, epoch ms): `bigint` on Postgres,
 * `integer` on SQLite (whose INTEGER is already 64-bit).
 */
export function int64(dialect: Dialect): 'bigint' | 'integer' {
  return dialect === 'postgres' ? 'bigint' : 'integer';
}
