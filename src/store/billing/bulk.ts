import { CompiledQuery, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Multi-row INSERT for the metering hot path. The query builder spends more time parsing and
 * compiling a few hundred rows of values than the database spends storing them, so the SQL text
 * is built here once per shape and cached:
 *
 * - SQLite: `insert … values (?, …), (?, …)`, one placeholder per value (binding is cheap in
 *   better-sqlite3).
 * - Postgres: `insert … select * from unnest($1::text[], $2::int8[], …)`, one array parameter per
 *   column: the statement text and plan stay small whatever the row count, which parses and
 *   plans several times faster than thousands of `$n` placeholders.
 */

/** SQL type of a column, for the Postgres array casts. */
export type BulkType = 'text' | 'int8' | 'int4';

const cache = new Map<string, string>();
const CACHE_LIMIT = 2000;

/**
 * Inserts `rows` (arrays of values in `columns` order) into `table` with one statement and
 * returns the rows of its `returning` clause. `tail` is appended verbatim (an `on conflict`
 * clause, `returning ...`); it must not contain placeholders.
 */
export async function bulkInsert<Row = unknown>(
  // biome-ignore lint/suspicious/noExplicitAny: the table is named by a string, so no schema type applies
  db: Kysely<any>,
  dialect: Dialect,
  table: string,
  columns: ReadonlyArray<readonly [name: string, type: BulkType]>,
  rows: ReadonlyArray<readonly unknown[]>,
  tail = '',
): Promise<Row[]> {
  if (rows.length === 0) return [];
  const postgres = dialect === 'postgres';
  const key = `${dialect}|${table}|${columns.map(([name]) => name).join(',')}|${postgres ? 0 : rows.length}|${tail}`;
  let text = cache.get(key);
  if (text === undefined) {
    text = insertSql(dialect, table, columns, rows.length, tail);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, text);
  }
  let parameters: unknown[];
  if (postgres) {
    parameters = columns.map(([, type], index) => pgArray(rows, index, type !== 'text'));
  } else {
    parameters = [];
    for (const row of rows) for (const value of row) parameters.push(value);
  }
  const result = await db.executeQuery<Row>(CompiledQuery.raw(text, parameters));
  return result.rows;
}

function insertSql(
  dialect: Dialect,
  table: string,
  columns: ReadonlyArray<readonly [string, BulkType]>,
  count: number,
  tail: string,
): string {
  const quoted = columns.map(([name]) => `"${name}"`).join(', ');
  const end = tail ? ` ${tail}` : '';
  if (dialect === 'postgres') {
    const arrays = columns.map(([, type], index) => `$${index + 1}::${type}[]`).join(', ');
    return `insert into "${table}" (${quoted}) select * from unnest(${arrays})${end}`;
  }
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  return `insert into "${table}" (${quoted}) values ${Array.from({ length: count }, () => tuple).join(', ')}${end}`;
}

/**
 * Column `index` of `rows` as a Postgres array literal (`{1,2,NULL}`, `{"a","b\\"c"}`). pg
 * would build the same text, but quotes and regex-escapes every element, numbers included; this
 * is the hot path's largest client-side cost, so numbers go bare and text is escaped only when
 * it holds a quote or a backslash.
 */
function pgArray(rows: ReadonlyArray<readonly unknown[]>, index: number, numeric: boolean): string {
  let text = '{';
  for (let row = 0; row < rows.length; row++) {
    if (row > 0) text += ',';
    const value = rows[row]![index];
    if (value === null || value === undefined) text += 'NULL';
    else if (numeric) text += String(value);
    else {
      const string = String(value);
      text += /["\\]/.test(string) ? `"${string.replace(/[\\"]/g, '\\$&')}"` : `"${string}"`;
    }
  }
  return `${text}}`;
}
