import type { Principal } from '../gateway/types.js';
import type { NewItem } from '../store/index.js';
import { expiry, type RuntimeDeps, seconds } from './deps.js';
import { conversationNotFound, duplicateItem, invalidParam, itemNotFound } from './errors.js';
import { normalizeInput } from './items.js';
import { itemList } from './responses-read.js';
import type { Item, ItemList, ListOptions } from './types.js';
import { merged } from '../core/objects.js';

/** `ConversationResource`. */
export interface ConversationObject {
  id: string;
  object: 'conversation';
  created_at: number;
  metadata: Record<string, string>;
}

/** Most items one create call may add (the API's `maxItems`). */
export const MAX_ITEMS_PER_CALL = 20;

/**
 * The Conversations API over the runtime store: conversations with metadata and an ordered
 * item list that responses append to. Deleting a conversation deletes the items it owns; items
 * a stored response added stay with that response.
 * Every operation is scoped to the caller's tenant; another tenant's conversation is a 404.
 */
export function createConversationsService(deps: RuntimeDeps) {
  const { repository, clock } = deps;
  const render = (record: {
    id: string;
    createdAt: number;
    metadata: Record<string, string>;
  }): ConversationObject => ({
    id: record.id,
    object: 'conversation',
    created_at: seconds(record.createdAt),
    metadata: record.metadata,
  });
  const require = async (principal: Principal, id: string) => {
    const record = await repository.getConversation(principal.tenantId, id, clock());
    if (!record) throw conversationNotFound(id);
    return record;
  };
  const prepareItems = async (
    principal: Principal,
    raw: unknown[],
    existing: Set<string>,
  ): Promise<NewItem[]> => {
    if (raw.length > MAX_ITEMS_PER_CALL)
      throw invalidParam(
        `Invalid 'items': array too long. Expected an array with maximum length ${MAX_ITEMS_PER_CALL}, but got an array with length ${raw.length} instead.`,
        'items',
        'array_above_max_length',
      );
    const normalized = normalizeInput(raw, deps.ids, 'items');
    if (normalized.compactionTrigger)
      throw invalidParam('compaction_trigger items cannot be stored in a conversation', 'items');
    const references = normalized.entries.flatMap((entry) =>
      entry.kind === 'reference' ? [entry.id] : [],
    );
    const found = await repository.findItems(principal.tenantId, references, clock());
    return normalized.entries.map((entry) => {
      const item = (entry.kind === 'item' ? entry.item : found.get(entry.id)) as Item | undefined;
      if (!item) throw itemNotFound(entry.kind === 'reference' ? entry.id : '');
      const id = String(item.id);
      if (existing.has(id)) throw duplicateItem(id);
      existing.add(id);
      return { id, type: item.type, kind: 'input', body: item };
    });
  };

  return {
    async create(
      principal: Principal,
      input: { metadata: Record<string, string>; items: unknown[] },
    ): Promise<ConversationObject> {
      const now = clock();
      const items = await prepareItems(principal, input.items, new Set());
      const record = {
        id: deps.ids('conv_'),
        tenantId: principal.tenantId,
        createdAt: now,
        expiresAt: expiry(now, deps.retention.conversationRetentionDays),
        metadata: input.metadata,
      };
      await repository.createConversation(record, items);
      return render(record);
    },

    async retrieve(principal: Principal, id: string): Promise<ConversationObject> {
      return render(await require(principal, id));
    },

    async update(
      principal: Principal,
      id: string,
      metadata: Record<string, string>,
    ): Promise<ConversationObject> {
      const record = await require(principal, id);
      if (!(await repository.updateConversationMetadata(principal.tenantId, id, metadata, clock())))
        throw conversationNotFound(id);
      return render(merged(record, { metadata }));
    },

    async delete(
      principal: Principal,
      id: string,
    ): Promise<{ id: string; object: 'conversation.deleted'; deleted: true }> {
      const deleted = await repository.deleteConversation(
        principal.tenantId,
        id,
        expiry(clock(), deps.retention.retentionDays),
      );
      if (!deleted) throw conversationNotFound(id);
      return { id, object: 'conversation.deleted', deleted: true };
    },

    async createItems(principal: Principal, id: string, raw: unknown[]): Promise<ItemList> {
      await require(principal, id);
      const existing = new Set(
        (await repository.loadConversationItems(principal.tenantId, id)).map((item) =>
          String(item['id']),
        ),
      );
      const items = await prepareItems(principal, raw, existing);
      const stored = await repository.appendConversationItems(
        principal.tenantId,
        id,
        items,
        clock(),
      );
      if (!stored) throw conversationNotFound(id);
      return itemList(stored as Item[], false);
    },

    async listItems(principal: Principal, id: string, options: ListOptions): Promise<ItemList> {
      await require(principal, id);
      const page = await repository.listConversationItems(principal.tenantId, id, options);
      return itemList(page.items as Item[], page.hasMore);
    },

    async getItem(principal: Principal, id: string, itemId: string): Promise<Item> {
      await require(principal, id);
      const item = await repository.getConversationItem(principal.tenantId, id, itemId);
      if (!item) throw itemNotFound(itemId);
      return item as Item;
    },

    /** Removes an item; answers with the conversation (the API's shape). */
    async deleteItem(
      principal: Principal,
      id: string,
      itemId: string,
    ): Promise<ConversationObject> {
      const record = await require(principal, id);
      if (!(await repository.deleteConversationItem(principal.tenantId, id, itemId)))
        throw itemNotFound(itemId);
      return render(record);
    },
  };
}

/** The Conversations service. */
export type ConversationsService = ReturnType<typeof createConversationsService>;
