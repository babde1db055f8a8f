import type { IdSource } from '../core/ids.js';
import type { RuntimeRepository } from '../store/index.js';
import {
  conversationNotFound,
  duplicateItem,
  itemNotFound,
  mutuallyExclusive,
  previousResponseNotFound,
} from './errors.js';
import { normalizeInput } from './items.js';
import type { Item } from './types.js';

/** What a request's context is made of, before compaction and truncation. */
export interface LoadedContext {
  /** Items of the previous-response chain or of the conversation, oldest first (from the store). */
  history: Item[];
  /** This request's input items: normalized, ids assigned, `item_reference`s resolved. */
  input: Item[];
  /** The input ended with a `compaction_trigger` item. */
  compactionTrigger: boolean;
}

/** Where the history comes from and what the request adds. */
export interface ContextSource {
  tenantId: string;
  previousResponseId: string | null;
  conversationId: string | null;
  input: unknown[];
}

/**
 * Loads a request's context from the store, never from process memory, so any replica can
 * continue any chain: the previous-response chain (one query) or the conversation's items,
 * then this request's input. Enforces the API's rules: `previous_response_id` and
 * `conversation` are exclusive; a missing (unstored, expired, other tenant's) previous
 * response is a 400 and a missing conversation a 404; an input item whose id is already in the
 * context (or twice in the input) is rejected with the API's duplicate-item error.
 */
export async function loadContext(
  repository: RuntimeRepository,
  source: ContextSource,
  now: number,
  ids: IdSource,
): Promise<LoadedContext> {
  if (source.previousResponseId !== null && source.conversationId !== null)
    throw mutuallyExclusive();
  const normalized = normalizeInput(source.input, ids);

  let history: Item[] = [];
  if (source.previousResponseId !== null) {
    const chain = await repository.loadChain(source.tenantId, source.previousResponseId, now);
    if (!chain) throw previousResponseNotFound(source.previousResponseId);
    history = chain as Item[];
  } else if (source.conversationId !== null) {
    const conversation = await repository.getConversation(
      source.tenantId,
      source.conversationId,
      now,
    );
    if (!conversation) throw conversationNotFound(source.conversationId, 'conversation');
    history = (await repository.loadConversationItems(
      source.tenantId,
      source.conversationId,
    )) as Item[];
  }

  const references = normalized.entries.flatMap((entry) =>
    entry.kind === 'reference' ? [entry.id] : [],
  );
  const found =
    references.length > 0
      ? await repository.findItems(source.tenantId, references, now)
      : new Map<string, Record<string, unknown>>();
  const input = normalized.entries.map((entry): Item => {
    if (entry.kind === 'item') return entry.item;
    const item = found.get(entry.id);
    if (!item) throw itemNotFound(entry.id);
    return item as Item;
  });

  const seen = new Set<string>();
  for (const item of history) if (typeof item.id === 'string') seen.add(item.id);
  for (const item of input) {
    if (typeof item.id !== 'string') continue;
    if (seen.has(item.id)) throw duplicateItem(item.id);
    seen.add(item.id);
  }
  return { history, input, compactionTrigger: normalized.compactionTrigger };
}
