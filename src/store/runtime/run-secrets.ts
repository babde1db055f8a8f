import { merged, isRecord } from '../../core/objects.js';

/**
 * The tool secrets of an agent run's request, sealed before its `agent_runs` row is written and
 * opened when it is read (agent-runs.ts): the `headers` and `authorization` of MCP tools and the
 * `authHeader` of registered HTTP tools, each bound to its row (`agent_runs:<id>`).
 */

/** Seals and opens secrets (runtime/secrets.ts `SecretBox`); `context` binds a value to its row. */
export interface SecretCodec {
  seal(plaintext: string, context: string): string;
  open(value: string, context: string): string;
}

/** The fields of a run request that hold tool secrets: per MCP tool list, and per HTTP tool. */
const MCP_SECRET_FIELDS = ['headers', 'authorization'] as const;
const HTTP_SECRET_FIELDS = ['authHeader'] as const;

/** Applies `transform` to every secret field of a run request (a copy; other fields shared). */
function mapSecrets(request: unknown, transform: (value: unknown) => unknown): unknown {
  if (!isRecord(request)) return request;
  const tools = (list: unknown, fields: readonly string[]) =>
    Array.isArray(list)
      ? list.map((tool) => {
          if (!isRecord(tool)) return tool;
          const copy: Record<string, unknown> = { ...tool };
          for (const field of fields) if (!empty(copy[field])) copy[field] = transform(copy[field]);
          return copy;
        })
      : list;
  const out: Record<string, unknown> = { ...request };
  if ('mcpTools' in out) out['mcpTools'] = tools(out['mcpTools'], MCP_SECRET_FIELDS);
  if ('httpTools' in out) out['httpTools'] = tools(out['httpTools'], HTTP_SECRET_FIELDS);
  if (isRecord(out['params']) && 'mcpTools' in out['params'])
    out['params'] = merged(out['params'], {
      mcpTools: tools(out['params']['mcpTools'], MCP_SECRET_FIELDS),
    });
  return out;
}

/** The request with its tool secrets sealed as `{"$sealed": "enc:v1:…"}`. */
export function sealRunRequest(codec: SecretCodec, id: string, request: unknown): unknown {
  return mapSecrets(request, (value) =>
    isRecord(value) && typeof value['$sealed'] === 'string'
      ? value
      : { $sealed: codec.seal(JSON.stringify(value), `agent_runs:${id}`) },
  );
}

/**
 * The request with its tool secrets opened (legacy plaintext values pass through). A secret
 * that cannot be opened (another key) becomes null and `error` says why.
 */
export function openRunRequest(
  codec: SecretCodec,
  id: string,
  request: unknown,
): { request: unknown; error?: string } {
  let error: string | undefined;
  const opened = mapSecrets(request, (value) => {
    if (!isRecord(value) || typeof value['$sealed'] !== 'string') return value;
    try {
      return JSON.parse(codec.open(value['$sealed'], `agent_runs:${id}`)) as unknown;
    } catch (thrown) {
      error ??= thrown instanceof Error ? thrown.message : String(thrown);
      return null;
    }
  });
  return error === undefined ? { request: opened } : { request: opened, error };
}

/** Nothing to keep secret: null, '' or {}. */
function empty(value: unknown): boolean {
  return value == null || value === '' || (isRecord(value) && Object.keys(value).length === 0);
}
