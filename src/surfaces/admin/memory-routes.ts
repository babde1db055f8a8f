import { GatewayError, invalidRequest } from '../../errors/index.js';
import type { Gateway } from '../../gateway/types.js';
import {
  type MemoryEntry,
  type MemoryKind,
  type MemoryStore,
  memoryCursor,
} from '../../runtime/tools/memory-store.js';
import type { HttpContext, Route } from '../../server/types.js';
import { type MasterRouteHandler, masterRoute, pageLimit } from './master-route.js';

/**
 * The memory store of the built-in memory tool, for operators (master key only), under
 * `/admin/v1/tenants/{tenant}/memory`:
 * - `GET …/memory`: the tenant's users that have memory (entries, notes, bytes), by user id;
 * - `GET …/memory/{user}?kind=kv|note&query=…`: one user's entries and notes (or a search);
 * - `DELETE …/memory`: all of the tenant's memory; `DELETE …/memory/{user}`: one user's;
 * - `DELETE …/memory/{user}/entries/{key}`, `DELETE …/memory/{user}/notes/{id}`: one row.
 * Lists take `limit` (1–100, default 100) and `after` (the previous page's `last_id`).
 */
export function createMemoryAdminRoutes(deps: {
  gateway: Pick<Gateway, 'authenticate'>;
  memory: MemoryStore;
}): Route[] {
  const route = (method: Route['method'], path: string, handler: MasterRouteHandler): Route =>
    masterRoute(deps.gateway, method, `/admin/v1/tenants/:tenant/memory${path}`, handler);
  const tenant = (context: HttpContext) => context.params['tenant'] ?? '';
  const user = (context: HttpContext) => context.params['user'] ?? '';
  const query = (context: HttpContext, name: string) =>
    context.url.searchParams.get(name) ?? undefined;
  const kind = (context: HttpContext): MemoryKind | undefined => {
    const text = query(context, 'kind');
    if (text === undefined) return undefined;
    if (text !== 'kv' && text !== 'note')
      throw invalidRequest("kind must be 'kv' or 'note'", 'kind');
    return text;
  };
  const entryJson = (entry: MemoryEntry) => ({
    object: 'memory.entry',
    id: memoryCursor(entry),
    kind: entry.kind,
    key: entry.key,
    value: entry.value,
    bytes: entry.bytes,
    created_at: Math.floor(entry.createdAt / 1000),
    updated_at: Math.floor(entry.updatedAt / 1000),
  });
  const deleted = (count: number) => ({ object: 'memory.deleted', deleted: count });
  const notFound = (what: string) =>
    new GatewayError(`No memory ${what}`, {
      code: 'not_found',
      status: 404,
      errorClass: 'invalid_request',
      retryable: false,
      failover: false,
    });

  return [
    route('GET', '', async (context) => {
      const size = pageLimit(context);
      const users = await deps.memory.users(tenant(context), {
        limit: size,
        after: query(context, 'after'),
      });
      return {
        body: {
          object: 'list',
          data: users.map((entry) => ({
            object: 'memory.user',
            user: entry.user,
            entries: entry.entries,
            notes: entry.notes,
            bytes: entry.bytes,
            updated_at: Math.floor(entry.updatedAt / 1000),
          })),
          last_id: users.at(-1)?.user ?? null,
          has_more: users.length === size,
        },
      };
    }),
    route('DELETE', '', async (context) => ({
      body: deleted(await deps.memory.clear(tenant(context))),
    })),
    route('GET', '/:user', async (context) => {
      const scope = { tenantId: tenant(context), user: user(context) };
      const size = pageLimit(context);
      const search = query(context, 'query');
      const entries =
        search !== undefined
          ? await deps.memory.search(scope, search, { kind: kind(context), limit: size })
          : await deps.memory.list(scope, {
              kind: kind(context),
              limit: size,
              after: query(context, 'after'),
            });
      const usage = await deps.memory.usage(scope);
      return {
        body: {
          object: 'list',
          data: entries.map(entryJson),
          last_id: entries.length > 0 ? memoryCursor(entries.at(-1)!) : null,
          has_more: search === undefined && entries.length === size,
          usage: {
            entries: usage.entries,
            bytes: usage.bytes,
            max_entries: deps.memory.limits.maxEntriesPerUser,
            max_bytes: deps.memory.limits.maxBytesPerUser,
          },
        },
      };
    }),
    route('DELETE', '/:user', async (context) => ({
      body: deleted(await deps.memory.clear(tenant(context), user(context))),
    })),
    route('DELETE', '/:user/entries/:key', async (context) => {
      if (
        !(await deps.memory.remove(
          { tenantId: tenant(context), user: user(context) },
          'kv',
          context.params['key'] ?? '',
        ))
      )
        throw notFound('entry with this key');
      return { body: deleted(1) };
    }),
    route('DELETE', '/:user/notes/:id', async (context) => {
      if (
        !(await deps.memory.remove(
          { tenantId: tenant(context), user: user(context) },
          'note',
          context.params['id'] ?? '',
        ))
      )
        throw notFound('note with this id');
      return { body: deleted(1) };
    }),
  ];
}
