import type { ChatMessage, ChatTool } from '../core/chat.js';
import { type Compaction, compact } from './compaction.js';
import { type LoadedContext, loadContext } from './context.js';
import { contextTokens, fits, fitToWindow } from './context-window.js';
import { contextWindowOf, type RuntimeDeps } from './deps.js';
import { isUserMessage } from './items.js';
import { applyCompaction, itemsToMessages } from './to-chat.js';
import type { CallContext, CreateResponseParams, Item } from './types.js';

/** Share of the context window at which `context_management` compaction starts by default. */
const DEFAULT_COMPACT_SHARE = 0.8;

/** A request made ready for the model call. */
export interface Prepared {
  loaded: LoadedContext;
  /** The compaction made for this request, if one was needed. */
  compaction: Compaction | undefined;
  /** The messages sent: instructions, then the (compacted, truncated) context. */
  messages: ChatMessage[];
}

/**
 * Turns a request into the chat messages of its model call:
 * 1. load the history and input (context.ts);
 * 2. apply stored compaction (to-chat.ts `applyCompaction`) and map items to messages, with
 *    this request's `instructions` first (never those of earlier responses);
 * 3. compact now when the input ends with `compaction_trigger`, or when `context_management`
 *    asks for it and the context passes the threshold (default 80% of the window): the
 *    history is summarised into a compaction item placed before this request's input;
 * 4. fit the model's window (`truncation`), keeping room for `max_output_tokens`.
 */
export async function prepare(
  deps: RuntimeDeps,
  params: CreateResponseParams,
  call: CallContext,
  tools: ChatTool[],
  now: number,
): Promise<Prepared> {
  const { loaded, instructions, messages: whole } = await contextOf(deps, params, call, now);
  let messages = whole;
  const window = contextWindowOf(deps.catalog, params.model);

  let compaction: Compaction | undefined;
  const threshold =
    params.compactThreshold ??
    (params.contextManagement != null && window !== undefined
      ? Math.floor(window * DEFAULT_COMPACT_SHARE)
      : null);
  const history = applyCompaction(loaded.history);
  if (
    history.length > 0 &&
    (loaded.compactionTrigger || (threshold !== null && !fits(messages, tools, threshold)))
  ) {
    compaction = await compact(deps.gateway, history, params.model, call, deps.ids);
    const items: Item[] = [...history.filter(isUserMessage), compaction.item, ...loaded.input];
    messages = [...instructions, ...itemsToMessages(items, params.model)];
  }
  if (window !== undefined)
    messages = fitToWindow(
      messages,
      tools,
      window - (params.maxOutputTokens ?? 0),
      params.truncation,
    );
  return { loaded, compaction, messages };
}

/** Tokens the request's context would take (`POST /responses/input_tokens`); no model call. */
export async function countInputTokens(
  deps: RuntimeDeps,
  params: CreateResponseParams,
  call: CallContext,
  tools: ChatTool[],
  now: number,
): Promise<number> {
  return contextTokens((await contextOf(deps, params, call, now)).messages, tools);
}

/**
 * The request's history and input loaded, and as messages: this request's `instructions` first
 * (never those of earlier responses), then the context with stored compaction applied.
 */
async function contextOf(
  deps: RuntimeDeps,
  params: CreateResponseParams,
  call: CallContext,
  now: number,
): Promise<{ loaded: LoadedContext; instructions: ChatMessage[]; messages: ChatMessage[] }> {
  const loaded = await loadContext(
    deps.repository,
    {
      tenantId: call.principal.tenantId,
      previousResponseId: params.previousResponseId,
      conversationId: params.conversationId,
      input: params.input,
    },
    now,
    deps.ids,
  );
  const instructions: ChatMessage[] = params.instructions
    ? [{ role: 'system', content: params.instructions }]
    : [];
  const messages = [
    ...instructions,
    ...itemsToMessages(applyCompaction([...loaded.history, ...loaded.input]), params.model),
  ];
  return { loaded, instructions, messages };
}
