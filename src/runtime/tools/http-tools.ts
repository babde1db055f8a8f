import type { Kysely } from 'kysely';
import type { Database } from '../../store/database.js';
import { int64 } from '../../store/migrations/index.js';
import type { Int32, Int64, Schema } from '../../store/schema.js';
import { guardedFetch, type OutboundPolicy } from './ssrf.js';

/**
 * Server-registered HTTP tools (`POST /admin/v1/tools`): a name, a JSON schema, a URL, an
 * optional auth header (a secret: stored, never returned or logged), a timeout and an
 * idempotent flag. A Responses request that lists `{type: "function", name}` with a registered
 * name has Switchyard execute the call: POST the arguments (JSON) to the URL, the answer's
 * text is the output. A non-idempotent call interrupted by a crash is not retried.
 */

export interface HttpTool {
  name: string;
  description: string | null;
  parameters: Record<string, unknown>;
  url: string;
  /** `Header-Name: value`, or null. */
  authHeader: string | null;
  timeoutMs: number;
  idempotent: boolean;
  createdAt: number;
}

interface HttpToolsTable {
  name: string;
  description: string | null;
  parameters: string;
  url: string;
  auth_header: string | null;
  timeout_ms: Int32;
  idempotent: Int32;
  created_at: Int64;
}

type ToolsDb = Kysely<Schema & { agent_http_tools: HttpToolsTable }>;

/** The tool as the admin API shows it (no secret). */
export function httpToolJson(tool: HttpTool): Record<string, unknown> {
  return {
    object: 'tool',
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters,
    url: tool.url,
    has_auth_header: tool.authHeader !== null,
    timeout_ms: tool.timeoutMs,
    idempotent: tool.idempotent,
    created_at: Math.floor(tool.createdAt / 1000),
  };
}

export interface HttpToolRegistry {
  put(tool: HttpTool): Promise<void>;
  get(name: string): Promise<HttpTool | undefined>;
  list(): Promise<HttpTool[]>;
  remove(name: string): Promise<boolean>;
  /** The registered tools among `names`. */
  find(names: string[]): Promise<Map<string, HttpTool>>;
}

export function createHttpToolRegistry(database: Database): HttpToolRegistry {
  const db = database.db.withTables<{ agent_http_tools: HttpToolsTable }>() as unknown as ToolsDb;
  let ready: Promise<void> | undefined;
  const ensure = () =>
    (ready ??= (async () => {
      await database.db.schema
        .createTable('agent_http_tools')
        .ifNotExists()
        .addColumn('name', 'text', (column) => column.primaryKey())
        .addColumn('description', 'text')
        .addColumn('parameters', 'text', (column) => column.notNull())
        .addColumn('url', 'text', (column) => column.notNull())
        .addColumn('auth_header', 'text')
        .addColumn('timeout_ms', 'integer', (column) => column.notNull())
        .addColumn('idempotent', 'integer', (column) => column.notNull())
        .addColumn('created_at', int64(database.dialect), (column) => column.notNull())
        .execute();
    })());
  type Row = { name: string; description: string | null; parameters: string; url: string; auth_header: string | null; timeout_ms: number | bigint; idempotent: number | bigint; created_at: number | bigint };
  const decode = (row: Row): HttpTool => ({
    name: row.name,
    description: row.description,
    parameters: JSON.parse(row.parameters) as Record<string, unknown>,
    url: row.url,
    authHeader: row.auth_header,
    timeoutMs: Number(row.timeout_ms),
    idempotent: Number(row.idempotent) === 1,
    createdAt: Number(row.created_at),
  });
  return {
    async put(tool) {
      await ensure();
      await db.deleteFrom('agent_http_tools').where('name', '=', tool.name).execute();
      await db
        .insertInto('agent_http_tools')
        .values({ name: tool.name, description: tool.description, parameters: JSON.stringify(tool.parameters), url: tool.url, auth_header: tool.authHeader, timeout_ms: tool.timeoutMs, idempotent: tool.idempotent ? 1 : 0, created_at: tool.createdAt })
        .execute();
    },
    async get(name) {
      await ensure();
      const row = await db.selectFrom('agent_http_tools').selectAll().where('name', '=', name).executeTakeFirst();
      return row ? decode(row) : undefined;
    },
    async list() {
      await ensure();
      return (await db.selectFrom('agent_http_tools').selectAll().orderBy('name').execute()).map((row) => decode(row));
    },
    async remove(name) {
      await ensure();
      const result = await db.deleteFrom('agent_http_tools').where('name', '=', name).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async find(names) {
      const out = new Map<string, HttpTool>();
      if (names.length === 0) return out;
      await ensure();
      const rows = await db.selectFrom('agent_http_tools').selectAll().where('name', 'in', names).execute();
      for (const row of rows) out.set(row.name, decode(row));
      return out;
    },
  };
}

/** Calls an HTTP tool: POST the arguments as JSON; the answer's text is the output (non-2xx throws). */
export async function callHttpTool(tool: HttpTool, args: string, policy: OutboundPolicy, signal?: AbortSignal): Promise<string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (tool.authHeader) {
    const colon = tool.authHeader.indexOf(':');
    if (colon > 0) headers[tool.authHeader.slice(0, colon).trim()] = tool.authHeader.slice(colon + 1).trim();
  }
  const timeout = AbortSignal.timeout(tool.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    const answer = await guardedFetch(policy)(tool.url, { method: 'POST', headers, body: args, signal: combined });
    const text = await answer.text();
    if (answer.status < 200 || answer.status >= 300) throw new Error(`HTTP tool '${tool.name}' answered ${answer.status}: ${text.slice(0, 500)}`);
    return text;
  } catch (error) {
    if (timeout.aborted && !(signal?.aborted ?? false)) throw new Error(`HTTP tool '${tool.name}' timed out after ${tool.timeoutMs} ms`);
    throw error;
  }
}
