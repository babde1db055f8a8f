import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../store/database.js';
import type { Int32, Int64, Schema } from '../../store/schema.js';

/**
 * The memory store behind the built-in `memory` tool (memory-tool.ts): per tenant and per user,
 * key/value entries (`kind = 'kv'`) and free-text notes (`kind = 'note'`), in `agent_memory`
 * (migration 0005-agent). Every read and write is scoped by tenant id first, so one tenant never
 * reaches another's rows; the admin API (`/admin/v1/tenants/{tenant}/memory`) lists and deletes.
 *
 * Limits (config `runtime.memory`): bytes of one value or note, and per user the number of
 * entries plus notes and their total bytes (key + value, UTF-8). A write that would pass a limit
 * is refused with {@link MemoryError} (`memory_limit_exceeded`) and changes nothing. The check
 * and the write run in one transaction, serialized per user (SQLite `begin immediate`, a
 * Postgres advisory lock on the tenant and user), so concurrent writers cannot overshoot.
 *
 * Search: every word of the query (case-insensitive substring, SQL LIKE) is scored; rows that
 * match more words rank first, then the most recently written.
 */

/** Limits of one user's memory (config `runtime.memory`). */
export interface MemoryLimits {
  /** Bytes of one value or note (UTF-8). */
  maxValueBytes: number;
  /** Entries plus notes per user. */
  maxEntriesPerUser: number;
  /** Bytes (keys + values) per user. */
  maxBytesPerUser: number;
}

export const DEFAULT_MEMORY_LIMITS: MemoryLimits = {
  maxValueBytes: 16_384,
  maxEntriesPerUser: 1_000,
  maxBytesPerUser: 1_048_576,
};

/** Longest key or user id, bytes (UTF-8). */
export const MAX_KEY_BYTES = 256;
/** Most results of one search or list. */
export const MAX_RESULTS = 100;

/** Whose memory: a tenant and a user within it. */
export interface MemoryScope {
  tenantId: string;
  user: string;
}

export type MemoryKind = 'kv' | 'note';

/** One stored entry or note. */
export interface MemoryEntry {
  kind: MemoryKind;
  /** The entry's key, or the note's id. */
  key: string;
  value: string;
  bytes: number;
  createdAt: number;
  updatedAt: number;
}

/** One user's memory at a glance (admin listing). */
export interface MemoryUserSummary {
  user: string;
  entries: number;
  notes: number;
  bytes: number;
  updatedAt: number;
}

/** A refused memory operation: `memory_limit_exceeded` or `invalid_memory_request`. */
export class MemoryError extends Error {
  override readonly name = 'MemoryError';
  constructor(
    message: string,
    readonly code: 'memory_limit_exceeded' | 'invalid_memory_request',
  ) {
    super(message);
  }
}

export interface MemoryStore {
  readonly limits: MemoryLimits;
  get(scope: MemoryScope, kind: MemoryKind, key: string): Promise<MemoryEntry | undefined>;
  /** Creates or replaces an entry. */
  set(scope: MemoryScope, key: string, value: string, now: number): Promise<MemoryEntry>;
  /** Adds a note; the same text twice is one note (its id is derived from the text). */
  addNote(scope: MemoryScope, text: string, now: number): Promise<MemoryEntry>;
  remove(scope: MemoryScope, kind: MemoryKind, key: string): Promise<boolean>;
  /** Entries and notes by kind then key; `after` is a cursor from {@link memoryCursor}. */
  list(
    scope: MemoryScope,
    options: { kind?: MemoryKind | undefined; limit: number; after?: string | undefined },
  ): Promise<MemoryEntry[]>;
  search(
    scope: MemoryScope,
    query: string,
    options: { kind?: MemoryKind | undefined; limit: number },
  ): Promise<MemoryEntry[]>;
  usage(scope: MemoryScope): Promise<{ entries: number; bytes: number }>;
  /** The users of a tenant that have memory, by user id. */
  users(
    tenantId: string,
    options: { limit: number; after?: string | undefined },
  ): Promise<MemoryUserSummary[]>;
  /** Deletes a tenant's memory, or one user's; returns the rows deleted. */
  clear(tenantId: string, user?: string): Promise<number>;
}

interface MemoryTable {
  tenant_id: string;
  user_id: string;
  kind: string;
  key: string;
  bytes: Int32;
  created_at: Int64;
  updated_at: Int64;
  value: string;
}

type MemoryDb = Kysely<Schema & { agent_memory: MemoryTable }>;

/** The cursor of an entry in a listing: `<kind>:<key>`. */
export function memoryCursor(entry: Pick<MemoryEntry, 'kind' | 'key'>): string {
  return `${entry.kind}:${entry.key}`;
}

/** The id of a note: derived from its text, so adding it again (a retried call) is harmless. */
export function noteId(text: string): string {
  return `note_${createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 20)}`;
}

const bytesOf = (text: string) => Buffer.byteLength(text, 'utf8');

/** Checks a key, user id or note id: 1–256 bytes, no NUL or other control characters. */
export function checkKey(key: unknown, what: string): string {
  if (typeof key !== 'string' || key === '')
    throw new MemoryError(`'${what}' must be a non-empty string`, 'invalid_memory_request');
  if (bytesOf(key) > MAX_KEY_BYTES)
    throw new MemoryError(
      `'${what}' is longer than ${MAX_KEY_BYTES} bytes`,
      'invalid_memory_request',
    );
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[\u0000-\u001f\u007f]/.test(key))
    throw new MemoryError(`'${what}' may not contain control characters`, 'invalid_memory_request');
  return key;
}

export function createMemoryStore(
  database: Database,
  limits: MemoryLimits = DEFAULT_MEMORY_LIMITS,
): MemoryStore {
  const db = database.db.withTables<{ agent_memory: MemoryTable }>() as unknown as MemoryDb;
  const decode = (row: {
    kind: string;
    key: string;
    value: string;
    bytes: number | bigint;
    created_at: number | bigint;
    updated_at: number | bigint;
  }): MemoryEntry => ({
    kind: row.kind as MemoryKind,
    key: row.key,
    value: row.value,
    bytes: Number(row.bytes),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  });
  const scoped = (query: MemoryDb, scope: MemoryScope) =>
    query
      .selectFrom('agent_memory')
      .where('tenant_id', '=', scope.tenantId)
      .where('user_id', '=', scope.user);
  /** Entries plus notes and their bytes, for one user (on `query`: the database or a transaction). */
  const usageOf = async (query: MemoryDb, scope: MemoryScope) => {
    const row = await scoped(query, scope)
      .select([
        sql<number | bigint>`count(*)`.as('entries'),
        sql<number | bigint | null>`sum(bytes)`.as('bytes'),
      ])
      .executeTakeFirst();
    return { entries: Number(row?.entries ?? 0), bytes: Number(row?.bytes ?? 0) };
  };

  /** Runs `work` in a write transaction serialized per user (see the module comment). */
  async function writing<T>(scope: MemoryScope, work: (trx: MemoryDb) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (database.dialect === 'postgres') {
          return await db.transaction().execute(async (trx) => {
            await sql`select pg_advisory_xact_lock(hashtextextended(${JSON.stringify(['agent_memory', scope.tenantId, scope.user])}, 0))`.execute(
              trx,
            );
            return work(trx as unknown as MemoryDb);
          });
        }
        return await db.connection().execute(async (connection) => {
          const trx = connection as unknown as MemoryDb;
          await sql.raw('begin immediate').execute(trx);
          try {
            const result = await work(trx);
            await sql.raw('commit').execute(trx);
            return result;
          } catch (error) {
            await sql
              .raw('rollback')
              .execute(trx)
              .catch(() => undefined);
            throw error;
          }
        });
      } catch (error) {
        const code = (error as { code?: unknown } | null)?.code;
        if (attempt >= 5 || (code !== 'SQLITE_BUSY' && code !== '40P01' && code !== '40001'))
          throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }

  /** Writes one row after checking the limits against the user's usage without the row it replaces. */
  async function put(
    scope: MemoryScope,
    kind: MemoryKind,
    key: string,
    value: string,
    now: number,
  ): Promise<MemoryEntry> {
    checkKey(scope.user, 'user');
    checkKey(key, kind === 'kv' ? 'key' : 'id');
    if (value.includes('\u0000'))
      throw new MemoryError(
        'A memory value may not contain NUL characters',
        'invalid_memory_request',
      );
    const valueBytes = bytesOf(value);
    if (valueBytes > limits.maxValueBytes) {
      throw new MemoryError(
        `The ${kind === 'kv' ? 'value' : 'note'} is ${valueBytes} bytes; the limit is ${limits.maxValueBytes} bytes (runtime.memory.maxValueBytes)`,
        'memory_limit_exceeded',
      );
    }
    const bytes = bytesOf(key) + valueBytes;
    return writing(scope, async (trx) => {
      const existing = await scoped(trx, scope)
        .select(['bytes', 'created_at'])
        .where('kind', '=', kind)
        .where('key', '=', key)
        .executeTakeFirst();
      const usage = await usageOf(trx, scope);
      const entries = usage.entries + (existing ? 0 : 1);
      const total = usage.bytes - Number(existing?.bytes ?? 0) + bytes;
      if (entries > limits.maxEntriesPerUser) {
        throw new MemoryError(
          `This user's memory holds ${entries - 1} entries and notes; the limit is ${limits.maxEntriesPerUser} (runtime.memory.maxEntriesPerUser). Delete some first.`,
          'memory_limit_exceeded',
        );
      }
      if (total > limits.maxBytesPerUser) {
        throw new MemoryError(
          `This write would bring the user's memory to ${total} bytes; the limit is ${limits.maxBytesPerUser} bytes (runtime.memory.maxBytesPerUser). Delete some first.`,
          'memory_limit_exceeded',
        );
      }
      const createdAt = existing ? Number(existing.created_at) : now;
      if (existing) {
        await trx
          .updateTable('agent_memory')
          .set({ value, bytes, updated_at: now })
          .where('tenant_id', '=', scope.tenantId)
          .where('user_id', '=', scope.user)
          .where('kind', '=', kind)
          .where('key', '=', key)
          .execute();
      } else {
        await trx
          .insertInto('agent_memory')
          .values({
            tenant_id: scope.tenantId,
            user_id: scope.user,
            kind,
            key,
            value,
            bytes,
            created_at: now,
            updated_at: now,
          })
          .execute();
      }
      return { kind, key, value, bytes, createdAt, updatedAt: now };
    });
  }

  return {
    limits,
    async get(scope, kind, key) {
      const row = await scoped(db, scope)
        .selectAll()
        .where('kind', '=', kind)
        .where('key', '=', key)
        .executeTakeFirst();
      return row ? decode(row) : undefined;
    },
    set: (scope, key, value, now) => put(scope, 'kv', key, value, now),
    addNote: (scope, text, now) => put(scope, 'note', noteId(text), text, now),
    async remove(scope, kind, key) {
      const result = await db
        .deleteFrom('agent_memory')
        .where('tenant_id', '=', scope.tenantId)
        .where('user_id', '=', scope.user)
        .where('kind', '=', kind)
        .where('key', '=', key)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async list(scope, options) {
      let query = scoped(db, scope).selectAll();
      if (options.kind) query = query.where('kind', '=', options.kind);
      if (options.after) {
        const colon = options.after.indexOf(':');
        const kind = options.after.slice(0, colon);
        const key = options.after.slice(colon + 1);
        query = query.where((eb) =>
          eb.or([eb('kind', '>', kind), eb.and([eb('kind', '=', kind), eb('key', '>', key)])]),
        );
      }
      const rows = await query
        .orderBy('kind')
        .orderBy('key')
        .limit(Math.min(options.limit, MAX_RESULTS))
        .execute();
      return rows.map(decode);
    },
    async search(scope, text, options) {
      const words = [
        ...new Set(
          text
            .toLowerCase()
            .split(/[\s,.;:!?"'()[\]{}]+/)
            .filter((word) => word.length >= 2),
        ),
      ].slice(0, 16);
      const limit = Math.min(Math.max(1, options.limit), MAX_RESULTS);
      let query = scoped(db, scope).selectAll();
      if (options.kind) query = query.where('kind', '=', options.kind);
      if (words.length === 0)
        return (await query.orderBy('updated_at', 'desc').limit(limit).execute()).map(decode);
      const like = (word: string) => `%${word.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
      const haystack = sql`lower(${sql.ref('key')} || ' ' || ${sql.ref('value')})`;
      const score = sql.join(
        words.map(
          (word) => sql`(case when ${haystack} like ${like(word)} escape '\\' then 1 else 0 end)`,
        ),
        sql` + `,
      );
      const rows = await query
        .select(sql<number | bigint>`${score}`.as('score'))
        .where(sql<boolean>`(${score}) > 0`)
        .orderBy('score', 'desc')
        .orderBy('updated_at', 'desc')
        .limit(limit)
        .execute();
      return rows.map((row) => decode(row));
    },
    usage: (scope) => usageOf(db, scope),
    async users(tenantId, options) {
      let query = db
        .selectFrom('agent_memory')
        .select([
          'user_id',
          sql<number | bigint>`sum(case when kind = 'kv' then 1 else 0 end)`.as('entries'),
          sql<number | bigint>`sum(case when kind = 'note' then 1 else 0 end)`.as('notes'),
          sql<number | bigint>`sum(bytes)`.as('bytes'),
          sql<number | bigint>`max(updated_at)`.as('updated_at'),
        ])
        .where('tenant_id', '=', tenantId);
      if (options.after !== undefined) query = query.where('user_id', '>', options.after);
      const rows = await query
        .groupBy('user_id')
        .orderBy('user_id')
        .limit(Math.min(options.limit, MAX_RESULTS))
        .execute();
      return rows.map((row) => ({
        user: row.user_id,
        entries: Number(row.entries),
        notes: Number(row.notes),
        bytes: Number(row.bytes),
        updatedAt: Number(row.updated_at),
      }));
    },
    async clear(tenantId, user) {
      let query = db.deleteFrom('agent_memory').where('tenant_id', '=', tenantId);
      if (user !== undefined) query = query.where('user_id', '=', user);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
