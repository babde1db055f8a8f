import { invalidParam } from '../errors.js';
import type { FunctionTool } from '../types.js';
import type { HttpTool } from './http-tools.js';
import {
  checkKey,
  MemoryError,
  type MemoryEntry,
  type MemoryScope,
  type MemoryStore,
} from './memory-store.js';

/**
 * The built-in `memory` tool (a Switchyard extension of the Responses API). A request opts in
 * with `tools: [{"type": "memory"}]`; the model then sees a function tool named `memory` and
 * Switchyard runs its calls in-process, like a registered HTTP tool (tools/http-tools.ts: the
 * tool carries an `execute` function instead of a URL), recording `function_call` and
 * `function_call_output` items. Whose memory: the request's tenant and its
 * `safety_identifier` (or, when absent, `user`); a request naming neither is refused.
 *
 * Operations (argument `operation`): `get`, `set`, `delete` (an entry by `key`), `add_note`
 * (`text`), `delete_note` (`id`), `search` (`query`: entries and notes containing its words,
 * best first), `list` (keys of entries, ids and beginnings of notes). Answers are JSON text; a
 * refused call (a limit, a bad argument) answers `Error: …`, which the model reads.
 */

export const MEMORY_TOOL_NAME = 'memory';

const OPERATIONS = ['get', 'set', 'delete', 'list', 'add_note', 'delete_note', 'search'] as const;
type Operation = (typeof OPERATIONS)[number];

/** The function tool the model is offered for `{type: "memory"}`. */
export const MEMORY_FUNCTION: FunctionTool = {
  type: 'function',
  name: MEMORY_TOOL_NAME,
  description:
    'Long-term memory about the current user, kept across conversations. Remember facts and preferences as key/value entries ' +
    '(operation set/get/delete with key and value) or as free-text notes (add_note with text, delete_note with id), and look ' +
    'them up later (search with query: entries and notes containing its words; list: every key and note id). ' +
    'Search or get before answering questions about the user.',
  parameters: {
    type: 'object',
    properties: {
      operation: { type: 'string', enum: [...OPERATIONS] },
      key: {
        type: 'string',
        description: 'Entry key (get, set, delete), e.g. "preferred_language"',
      },
      value: { type: 'string', description: 'Entry value (set)' },
      text: { type: 'string', description: 'Note text (add_note)' },
      id: { type: 'string', description: 'Note id (delete_note)' },
      query: { type: 'string', description: 'Words to look for (search); empty: the most recent' },
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: 100,
        description: 'Most results (search, list); default 20',
      },
    },
    required: ['operation'],
    additionalProperties: false,
  },
  strict: false,
};

/** The memory tool of one tenant and user, with its in-process executor. */
export function memoryTool(store: MemoryStore, scope: MemoryScope, clock: () => number): HttpTool {
  return {
    name: MEMORY_TOOL_NAME,
    description: MEMORY_FUNCTION.description ?? null,
    parameters: MEMORY_FUNCTION.parameters ?? {},
    url: 'builtin:memory',
    authHeader: null,
    timeoutMs: 30_000,
    // Every operation may be repeated safely (a note's id is derived from its text).
    idempotent: true,
    createdAt: 0,
    builtin: { kind: 'memory', tenantId: scope.tenantId, user: scope.user },
    execute: (args) => runMemoryCall(store, scope, args, clock()),
  };
}

/**
 * Re-attaches the executors of built-in tools to the tools of a run read back from the store
 * (functions do not survive JSON). Tools of other kinds are returned unchanged.
 */
export function attachBuiltins(
  tools: HttpTool[] | undefined,
  store: MemoryStore | undefined,
  clock: () => number,
): HttpTool[] | undefined {
  return tools?.map((tool) =>
    tool.builtin?.kind === 'memory' && store
      ? memoryTool(store, { tenantId: tool.builtin.tenantId, user: tool.builtin.user }, clock)
      : tool,
  );
}

const seconds = (ms: number) => Math.floor(ms / 1000);
const preview = (text: string, max = 200) => (text.length <= max ? text : `${text.slice(0, max)}…`);
const render = (entry: MemoryEntry) =>
  entry.kind === 'kv'
    ? { kind: 'entry', key: entry.key, value: entry.value, updated_at: seconds(entry.updatedAt) }
    : { kind: 'note', id: entry.key, text: entry.value, updated_at: seconds(entry.updatedAt) };

/** Runs one call (`args`: the model's JSON arguments); resolves with the JSON answer, rejects with a message for the model. */
export async function runMemoryCall(
  store: MemoryStore,
  scope: MemoryScope,
  args: string,
  now: number,
): Promise<string> {
  let input: Record<string, unknown>;
  try {
    const parsed = JSON.parse(args || '{}') as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    input = parsed as Record<string, unknown>;
  } catch {
    throw new MemoryError(
      'The arguments must be a JSON object such as {"operation":"get","key":"name"}',
      'invalid_memory_request',
    );
  }
  const operation = input['operation'] as Operation;
  if (!OPERATIONS.includes(operation))
    throw new MemoryError(
      `'operation' must be one of ${OPERATIONS.join(', ')}`,
      'invalid_memory_request',
    );
  const text = (field: string): string => {
    const value = input[field];
    if (typeof value === 'string') return value;
    if (value === undefined || value === null)
      throw new MemoryError(`'${field}' is required for ${operation}`, 'invalid_memory_request');
    return JSON.stringify(value);
  };
  const limit =
    typeof input['limit'] === 'number' && Number.isInteger(input['limit']) && input['limit'] > 0
      ? Math.min(input['limit'], 100)
      : 20;
  switch (operation) {
    case 'get': {
      const key = checkKey(input['key'], 'key');
      const entry = await store.get(scope, 'kv', key);
      return JSON.stringify(
        entry
          ? { key, value: entry.value, updated_at: seconds(entry.updatedAt) }
          : { key, found: false },
      );
    }
    case 'set': {
      const entry = await store.set(scope, checkKey(input['key'], 'key'), text('value'), now);
      return JSON.stringify({ ok: true, key: entry.key });
    }
    case 'delete': {
      const key = checkKey(input['key'], 'key');
      return JSON.stringify({ key, deleted: await store.remove(scope, 'kv', key) });
    }
    case 'add_note': {
      const note = await store.addNote(scope, text('text'), now);
      return JSON.stringify({ ok: true, id: note.key });
    }
    case 'delete_note': {
      const id = checkKey(input['id'], 'id');
      return JSON.stringify({ id, deleted: await store.remove(scope, 'note', id) });
    }
    case 'search': {
      const query = typeof input['query'] === 'string' ? input['query'] : '';
      return JSON.stringify({ results: (await store.search(scope, query, { limit })).map(render) });
    }
    case 'list': {
      const entries = await store.list(scope, { kind: 'kv', limit });
      const notes = await store.list(scope, { kind: 'note', limit });
      return JSON.stringify({
        entries: entries.map((entry) => ({ key: entry.key, bytes: entry.bytes })),
        notes: notes.map((note) => ({ id: note.key, text: preview(note.value) })),
      });
    }
  }
}

/** `runtime.memory` as the agent layer takes it. */
export interface MemoryOptions {
  /** Default true: `{type: "memory"}` is refused (400) when false. */
  enabled?: boolean;
  maxValueBytes?: number;
  maxEntriesPerUser?: number;
  maxBytesPerUser?: number;
}

/**
 * The server-run tools of a request: the registered HTTP tools it names, plus the memory tool
 * when it lists `{type: "memory"}` (which then takes the name `memory` over a registered tool).
 */
export function withBuiltinTools(
  registered: HttpTool[],
  params: { memory?: { user: string } | undefined },
  tenantId: string,
  memory: { store: MemoryStore; enabled: boolean; clock: () => number },
): HttpTool[] {
  if (!params.memory) return registered;
  if (!memory.enabled)
    throw invalidParam(
      'The memory tool is turned off on this gateway (runtime.memory.enabled).',
      'tools',
    );
  return [
    ...registered.filter((tool) => tool.name !== MEMORY_TOOL_NAME),
    memoryTool(memory.store, { tenantId, user: params.memory.user }, memory.clock),
  ];
}
