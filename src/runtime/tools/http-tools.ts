import type { Kysely } from 'kysely';
import type { Database } from '../../store/database.js';
import type { Int32, Int64, Schema } from '../../store/schema.js';
import type { SecretBox } from '../secrets.js';
import { guardedFetch, type OutboundPolicy } from './ssrf.js';

/**
 * Server-registered HTTP tools (`POST /admin/v1/tools`): a name, a JSON schema, a URL, an
 * optional auth header (a secret: stored encrypted, never returned or logged), a timeout and an
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
  /**
   * Set when the stored auth header could not be decrypted (another key): calls fail with it.
   * An auth header is then stored even though `authHeader` is null (`has_auth_header` is true).
   */
  secretsError?: string;
  /**
   * A built-in tool run in-process (the memory tool, tools/memory-tool.ts) instead of over
   * HTTP. Stored with a run (JSON) so a resumed run can re-attach {@link HttpTool.execute}.
   */
  builtin?: { kind: 'memory'; tenantId: string; user: string };
  /** The in-process executor of a built-in tool (not stored: functions do not survive JSON). */
  execute?: (args: string, signal?: AbortSignal) => Promise<string>;
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
    has_auth_header: tool.authHeader !== null || tool.secretsError !== undefined,
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

/**
 * The registry over an open (migrated) database; `secrets` seals the auth header
 * (`agent_http_tools.auth_header` holds `enc:v1:…`, bound to the tool's name). Auth headers
 * stored in clear by earlier releases still work and are sealed on the first use of the registry.
 */
export function createHttpToolRegistry(database: Database, secrets: SecretBox): HttpToolRegistry {
  const db = database.db.withTables<{ agent_http_tools: HttpToolsTable }>() as unknown as ToolsDb;
  const context = (name: string) => `agent_http_tools:${name}`;
  let upgraded: Promise<void> | undefined;
  /** Seals auth headers written in clear before encryption existed (once per process). */
  const upgrade = () =>
    (upgraded ??= (async () => {
      const rows = await db
        .selectFrom('agent_http_tools')
        .select(['name', 'auth_header'])
        .where('auth_header', 'is not', null)
        .execute();
      for (const row of rows) {
        if (row.auth_header === null || secrets.isSealed(row.auth_header)) continue;
        await db
          .updateTable('agent_http_tools')
          .set({ auth_header: secrets.seal(row.auth_header, context(row.name)) })
          .where('name', '=', row.name)
          .where('auth_header', '=', row.auth_header)
          .execute();
      }
    })().catch((error: unknown) => {
      upgraded = undefined;
      throw error;
    }));
  type Row = {
    name: string;
    description: string | null;
    parameters: string;
    url: string;
    auth_header: string | null;
    timeout_ms: number | bigint;
    idempotent: number | bigint;
    created_at: number | bigint;
  };
  const decode = (row: Row): HttpTool => {
    let authHeader: string | null = null;
    let secretsError: string | undefined;
    if (row.auth_header !== null) {
      try {
        authHeader = secrets.open(row.auth_header, context(row.name));
      } catch (error) {
        secretsError = (error as Error).message;
      }
    }
    return {
      name: row.name,
      description: row.description,
      parameters: JSON.parse(row.parameters) as Record<string, unknown>,
      url: row.url,
      authHeader,
      ...(secretsError === undefined ? {} : { secretsError }),
      timeoutMs: Number(row.timeout_ms),
      idempotent: Number(row.idempotent) === 1,
      createdAt: Number(row.created_at),
    };
  };
  return {
    async put(tool) {
      await upgrade();
      const auth =
        tool.authHeader === null ? null : secrets.seal(tool.authHeader, context(tool.name));
      await db.deleteFrom('agent_http_tools').where('name', '=', tool.name).execute();
      await db
        .insertInto('agent_http_tools')
        .values({
          name: tool.name,
          description: tool.description,
          parameters: JSON.stringify(tool.parameters),
          url: tool.url,
          auth_header: auth,
          timeout_ms: tool.timeoutMs,
          idempotent: tool.idempotent ? 1 : 0,
          created_at: tool.createdAt,
        })
        .execute();
    },
    async get(name) {
      await upgrade();
      const row = await db
        .selectFrom('agent_http_tools')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirst();
      return row ? decode(row) : undefined;
    },
    async list() {
      await upgrade();
      return (await db.selectFrom('agent_http_tools').selectAll().orderBy('name').execute()).map(
        (row) => decode(row),
      );
    },
    async remove(name) {
      const result = await db
        .deleteFrom('agent_http_tools')
        .where('name', '=', name)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async find(names) {
      const out = new Map<string, HttpTool>();
      if (names.length === 0) return out;
      await upgrade();
      const rows = await db
        .selectFrom('agent_http_tools')
        .selectAll()
        .where('name', 'in', names)
        .execute();
      for (const row of rows) out.set(row.name, decode(row));
      return out;
    },
  };
}

/** Calls an HTTP tool: POST the arguments as JSON; the answer's text is the output (non-2xx throws). */
export async function callHttpTool(
  tool: HttpTool,
  args: string,
  policy: OutboundPolicy,
  signal?: AbortSignal,
): Promise<string> {
  if (tool.builtin) {
    if (!tool.execute)
      throw new Error(`The built-in tool '${tool.name}' is not available in this process`);
    return tool.execute(args, signal);
  }
  if (tool.secretsError)
    throw new Error(
      `The auth header of the tool '${tool.name}' cannot be decrypted here: ${tool.secretsError}`,
    );
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (tool.authHeader) {
    const colon = tool.authHeader.indexOf(':');
    if (colon > 0)
      headers[tool.authHeader.slice(0, colon).trim()] = tool.authHeader.slice(colon + 1).trim();
  }
  const timeout = AbortSignal.timeout(tool.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    const answer = await guardedFetch(policy)(tool.url, {
      method: 'POST',
      headers,
      body: args,
      signal: combined,
    });
    const text = await answer.text();
    if (answer.status < 200 || answer.status >= 300)
      throw new Error(`HTTP tool '${tool.name}' answered ${answer.status}: ${text.slice(0, 500)}`);
    return text;
  } catch (error) {
    if (timeout.aborted && !(signal?.aborted ?? false))
      throw new Error(`HTTP tool '${tool.name}' timed out after ${tool.timeoutMs} ms`);
    throw error;
  }
}
