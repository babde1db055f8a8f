import { invalidRequest } from '../../errors/index.js';
import {
  type ConversationRecord,
  type ItemBody,
  type ItemPage,
  itemBody,
  itemRow,
  type NewItem,
  type PageOptions,
  parseJson,
  toNumber,
  toNumberOrNull,
} from './records.js';
import type { RuntimeDb } from './schema.js';

/**
 * Queries over conversations and their items. A conversation's items are the rows with its
 * `conversation_id`, ordered by `conversation_seq`; each is owned either by the conversation
 * (added through the Conversations API) or by the response that produced it.
 */

/** Creates a conversation with its first items. */
export async function createConversation(
  db: RuntimeDb,
  record: ConversationRecord,
  items: NewItem[],
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('runtime_conversations')
      .values({
        id: record.id,
        tenant_id: record.tenantId,
        created_at: record.createdAt,
        expires_at: record.expiresAt,
        metadata: JSON.stringify(record.metadata),
        item_seq: items.length,
      })
      .execute();
    if (items.length === 0) return;
    await trx
      .insertInto('runtime_items')
      .values(
        items.map((item, index) =>
          conversationItemRow(
            record.tenantId,
            record.id,
            index + 1,
            item,
            record.createdAt,
            record.expiresAt,
          ),
        ),
      )
      .execute();
  });
}

/** A live conversation of the tenant. */
export async function getConversation(
  db: RuntimeDb,
  tenantId: string,
  id: string,
  now: number,
): Promise<ConversationRecord | undefined> {
  const row = await db
    .selectFrom('runtime_conversations')
    .select(['id', 'tenant_id', 'created_at', 'expires_at', 'metadata'])
    .where('id', '=', id)
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', BigInt(now))]))
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    createdAt: toNumber(row.created_at),
    expiresAt: toNumberOrNull(row.expires_at),
    metadata:
      parseJson<Record<string, string>>(row.metadata, 'runtime_conversations.metadata') ?? {},
  };
}

/** Replaces a conversation's metadata. False when it does not exist. */
export async function updateConversationMetadata(
  db: RuntimeDb,
  tenantId: string,
  id: string,
  metadata: Record<string, string>,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('runtime_conversations')
    .set({ metadata: JSON.stringify(metadata) })
    .where('id', '=', id)
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', BigInt(now))]))
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Deletes a conversation and the items it owns (added through the Conversations API or by
 * `store: false` responses): their content leaves the database now. Items a stored response
 * added stay with that response (its input items, its chain), unlinked from the conversation,
 * and from now on expire like response items (`itemsExpireAt`) instead of living as long as
 * the conversation; deleting the response deletes them.
 */
export async function deleteConversation(
  db: RuntimeDb,
  tenantId: string,
  id: string,
  itemsExpireAt: number | null,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const deleted = await trx
      .deleteFrom('runtime_conversations')
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (deleted.numDeletedRows === 0n) return false;
    await trx
      .deleteFrom('runtime_items')
      .where('owner_id', '=', id)
      .where('tenant_id', '=', tenantId)
      .execute();
    if (itemsExpireAt !== null) {
      await trx
        .updateTable('runtime_items')
        .set({ expires_at: itemsExpireAt })
        .where('conversation_id', '=', id)
        .where('tenant_id', '=', tenantId)
        .where((eb) =>
          eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', BigInt(itemsExpireAt))]),
        )
        .execute();
    }
    await trx
      .updateTable('runtime_items')
      .set({ conversation_id: null, conversation_seq: null })
      .where('conversation_id', '=', id)
      .where('tenant_id', '=', tenantId)
      .execute();
    return true;
  });
}

/** Appends items owned by the conversation. Undefined when it does not exist. */
export async function appendConversationItems(
  db: RuntimeDb,
  tenantId: string,
  id: string,
  items: NewItem[],
  now: number,
): Promise<ItemBody[] | undefined> {
  return db.transaction().execute(async (trx) => {
    const bumped = await trx
      .updateTable('runtime_conversations')
      .set((eb) => ({ item_seq: eb('item_seq', '+', BigInt(items.length)) }))
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', BigInt(now))]))
      .returning(['item_seq', 'expires_at'])
      .executeTakeFirst();
    if (!bumped) return undefined;
    if (items.length === 0) return [];
    const base = toNumber(bumped.item_seq) - items.length;
    const expiresAt = toNumberOrNull(bumped.expires_at);
    await trx
      .insertInto('runtime_items')
      .values(
        items.map((item, index) =>
          conversationItemRow(tenantId, id, base + index + 1, item, now, expiresAt),
        ),
      )
      .execute();
    return items.map((item) => item.body);
  });
}

/** Every item of a conversation, oldest first (the context a response prepends). */
export async function loadConversationItems(
  db: RuntimeDb,
  tenantId: string,
  id: string,
): Promise<ItemBody[]> {
  const rows = await db
    .selectFrom('runtime_items')
    .select('body')
    .where('conversation_id', '=', id)
    .where('tenant_id', '=', tenantId)
    .orderBy('conversation_seq', 'asc')
    .execute();
  return rows.map(itemBody);
}

/** One keyset page of a conversation's items. */
export async function listConversationItems(
  db: RuntimeDb,
  tenantId: string,
  id: string,
  page: PageOptions,
): Promise<ItemPage> {
  let query = db
    .selectFrom('runtime_items')
    .select(['conversation_seq', 'body'])
    .where('conversation_id', '=', id)
    .where('tenant_id', '=', tenantId);
  if (page.after !== undefined) {
    const cursor = await db
      .selectFrom('runtime_items')
      .select('conversation_seq')
      .where('conversation_id', '=', id)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', page.after)
      .executeTakeFirst();
    if (!cursor || cursor.conversation_seq === null)
      throw invalidRequest(`No item with id '${page.after}' in this conversation`, 'after');
    query = query.where(
      'conversation_seq',
      page.order === 'asc' ? '>' : '<',
      cursor.conversation_seq,
    );
  }
  const rows = await query
    .orderBy('conversation_seq', page.order)
    .limit(page.limit + 1)
    .execute();
  return { items: rows.slice(0, page.limit).map(itemBody), hasMore: rows.length > page.limit };
}

/** One item of a conversation. */
export async function getConversationItem(
  db: RuntimeDb,
  tenantId: string,
  id: string,
  itemId: string,
): Promise<ItemBody | undefined> {
  const row = await db
    .selectFrom('runtime_items')
    .select('body')
    .where('conversation_id', '=', id)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', itemId)
    .executeTakeFirst();
  return row && itemBody(row);
}

/**
 * Removes an item from a conversation: deleted when the conversation owns it, unlinked when a
 * response owns it (the response keeps it). False when the conversation has no such item.
 */
export async function deleteConversationItem(
  db: RuntimeDb,
  tenantId: string,
  id: string,
  itemId: string,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const deleted = await trx
      .deleteFrom('runtime_items')
      .where('owner_id', '=', id)
      .where('conversation_id', '=', id)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', itemId)
      .executeTakeFirst();
    const unlinked = await trx
      .updateTable('runtime_items')
      .set({ conversation_id: null, conversation_seq: null })
      .where('conversation_id', '=', id)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', itemId)
      .executeTakeFirst();
    return deleted.numDeletedRows + unlinked.numUpdatedRows > 0n;
  });
}

function conversationItemRow(
  tenantId: string,
  conversationId: string,
  seq: number,
  item: NewItem,
  createdAt: number,
  expiresAt: number | null,
) {
  return itemRow({
    ownerId: conversationId,
    seq,
    tenantId,
    item,
    responseId: null,
    conversationId,
    conversationSeq: seq,
    createdAt,
    expiresAt,
  });
}
