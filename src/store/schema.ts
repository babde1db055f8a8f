import type { ColumnType } from 'kysely';

/**
 * Kysely table types for every table Switchyard owns. Column names are the SQL names
 * (snake_case); repositories map rows to camelCase domain objects.
 *
 * Integer read types follow the driver set-up in `database.ts`:
 * - 64-bit columns (`bigint` in Postgres, `INTEGER` in SQLite) are always read as `bigint`:
 *   pg parses int8 (OID 20) with `BigInt`, better-sqlite3 runs with `defaultSafeIntegers(true)`.
 * - 32-bit columns (`integer` in both) come back as `number` from Postgres but as `bigint` from
 *   SQLite, because safe-integer mode applies to every SQLite integer. Read them through
 *   `toNumber()` from `internal/convert.ts`.
 * Writes accept either `bigint` or a safe-integer `number` on both dialects.
 */

/** A 64-bit integer column (money, tokens, epoch ms): read as `bigint` on both dialects. */
export type Int64 = ColumnType<bigint, bigint | number, bigint | number>;
/** A nullable 64-bit integer column. */
export type Int64Nullable = ColumnType<
  bigint | null,
  bigint | number | null,
  bigint | number | null
>;
/** A 32-bit integer column (counts, HTTP statuses, 0/1 flags): `number` on Postgres, `bigint` on SQLite. */
export type Int32 = ColumnType<number | bigint, number, number>;
/** A nullable 32-bit integer column. */
/** An integer column with a default (added by a later migration): optional on insert. */
export type DefaultedInt = ColumnType<
  number | bigint,
  number | bigint | undefined,
  number | bigint
>;
export type Int32Nullable = ColumnType<number | bigint | null, number | null, number | null>;

/** `usage_events`: one row per gateway request, written once (primary key `request_id`). */
export interface UsageEventsTable {
  request_id: string;
  created_at: Int64;
  tenant_id: string;
  project_id: string;
  key_id: string | null;
  surface: string;
  model_requested: string;
  model: string | null;
  deployment: string | null;
  upstream_model: string | null;
  partner: string | null;
  attempts: Int32;
  /** JSON text: array of `{ provider, status, errorClass, ms }`. */
  attempt_log: string;
  input_tokens: Int64;
  cached_input_tokens: Int64;
  output_tokens: Int64;
  reasoning_tokens: Int64;
  latency_ms: Int32;
  ttfb_ms: Int32Nullable;
  status: string;
  http_status: Int32;
  error_code: string | null;
  /** 0/1 (integer on both dialects, so queries stay identical). */
  stream: Int32;
  /** 0/1. */
  sandbox: Int32;
  /** JSON text: object of string values, or null. */
  metadata: string | null;
  /** Prompt-cache writes (part of input_tokens); migration 0010. */
  cache_write_tokens: DefaultedInt;
  /** The one-hour part of cache_write_tokens. */
  cache_write_1h_tokens: DefaultedInt;
  /** 0/1: tokens counted by Switchyard's tokenizer, the upstream reported none. */
  estimated: DefaultedInt;
}

/** `switchyard_migrations`: names of applied migrations. Managed by `migrate()`. */
export interface MigrationsTable {
  name: string;
  applied_at: Int64;
}

/** The whole database, as Kysely sees it. Add a table here together with its migration. */
export interface Schema {
  usage_events: UsageEventsTable;
  switchyard_migrations: MigrationsTable;
}
