import type { Principal } from '../gateway/types.js';
import { compact } from './compaction.js';
import { loadContext } from './context.js';
import { type RuntimeDeps, seconds } from './deps.js';
import { EventLog, frame } from './event-log.js';
import { isUserMessage } from './items.js';
import { OutputBuilder } from './output-builder.js';
import { applyCompaction } from './to-chat.js';
import { responseNotFound } from './errors.js';
import type {
  CallContext,
  Item,
  ItemList,
  ListOptions,
  ResponseObject,
  ResponseUsage,
} from './types.js';
import { merged } from '../core/objects.js';

/** A stored response of the principal's tenant, or 404. */
export async function retrieveResponse(
  deps: RuntimeDeps,
  principal: Principal,
  id: string,
): Promise<ResponseObject> {
  const stored = await deps.repository.getResponse(principal.tenantId, id, deps.clock());
  if (!stored) throw responseNotFound(id);
  return stored.body as ResponseObject;
}

/**
 * The events of a stored response with `sequence_number > startingAfter` (all when undefined),
 * as SSE text. A streamed response replays its recorded events exactly; one created without
 * `stream` replays events rebuilt from its final state (one delta per part).
 */
export async function replayResponse(
  deps: RuntimeDeps,
  principal: Principal,
  id: string,
  startingAfter: number | undefined,
): Promise<string[]> {
  const stored = await deps.repository.getResponse(principal.tenantId, id, deps.clock());
  if (!stored) throw responseNotFound(id);
  const events =
    (await deps.repository.getEvents(principal.tenantId, id)) ??
    rebuildEvents(stored.body as ResponseObject);
  return events
    .filter(
      (event) => startingAfter === undefined || Number(event['sequence_number']) > startingAfter,
    )
    .map(frame);
}

function rebuildEvents(response: ResponseObject): Array<Record<string, unknown>> {
  const log = new EventLog();
  const shell: ResponseObject = merged(response, {
    status: 'in_progress',
    completed_at: null,
    incomplete_details: null,
    error: null,
    output: [],
    usage: null,
  });
  log.emit({ type: 'response.created', response: shell });
  log.emit({ type: 'response.in_progress', response: shell });
  const builder = new OutputBuilder({ ids: () => 'unused', sink: (event) => log.emit(event) });
  for (const item of response.output) builder.replay(item);
  const terminal =
    response.status === 'failed'
      ? 'response.failed'
      : response.status === 'incomplete'
        ? 'response.incomplete'
        : 'response.completed';
  log.emit({ type: terminal, response });
  return JSON.parse(log.json()) as Array<Record<string, unknown>>;
}

/** Deletes a stored response (`{id, object: "response", deleted: true}`), or 404. */
export async function deleteStoredResponse(
  deps: RuntimeDeps,
  principal: Principal,
  id: string,
): Promise<{ id: string; object: 'response'; deleted: true }> {
  if (!(await deps.repository.deleteResponse(principal.tenantId, id))) throw responseNotFound(id);
  return { id, object: 'response', deleted: true };
}

/** One page of a stored response's input items, or 404. */
export async function listInputItems(
  deps: RuntimeDeps,
  principal: Principal,
  id: string,
  options: ListOptions,
): Promise<ItemList> {
  const page = await deps.repository.listInputItems(principal.tenantId, id, options, deps.clock());
  if (!page) throw responseNotFound(id);
  return itemList(page.items as Item[], page.hasMore);
}

/** `{object: "list", data, first_id, last_id, has_more}`. */
export function itemList(data: Item[], hasMore: boolean): ItemList {
  const first = data[0]?.id;
  const last = data[data.length - 1]?.id;
  return {
    object: 'list',
    data,
    first_id: typeof first === 'string' ? first : null,
    last_id: typeof last === 'string' ? last : null,
    has_more: hasMore,
  };
}

/** What `POST /responses/compact` takes. */
export interface CompactParams {
  model: string;
  input: unknown[];
  previousResponseId: string | null;
  instructions: string | null;
}

/** `CompactResource`. */
export interface CompactResource {
  id: string;
  object: 'response.compaction';
  created_at: number;
  output: Item[];
  usage: ResponseUsage;
}

/**
 * `POST /responses/compact`: summarises the whole context (previous chain + input) into a
 * compaction item. The output is what the API documents: the user's messages verbatim, then
 * the compaction item; a client passes it as the next `input`. Nothing is stored.
 */
export async function compactContext(
  deps: RuntimeDeps,
  params: CompactParams,
  call: CallContext,
): Promise<CompactResource> {
  const now = deps.clock();
  const loaded = await loadContext(
    deps.repository,
    {
      tenantId: call.principal.tenantId,
      previousResponseId: params.previousResponseId,
      conversationId: null,
      input: params.input,
    },
    now,
    deps.ids,
  );
  const items = applyCompaction([...loaded.history, ...loaded.input]);
  const withInstructions: Item[] = params.instructions
    ? [
        {
          type: 'message',
          role: 'system',
          content: [{ type: 'input_text', text: params.instructions }],
        },
        ...items,
      ]
    : items;
  const result = await compact(
    deps.gateway,
    withInstructions,
    params.model,
    call,
    deps.ids,
    call.requestId,
  );
  const users = items
    .filter(isUserMessage)
    .map((item): Item => ({ type: 'message', role: 'user', content: item['content'] }));
  return {
    id: deps.ids('resp_'),
    object: 'response.compaction',
    created_at: seconds(now),
    output: [...users, result.item],
    usage: result.usage,
  };
}
