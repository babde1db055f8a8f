import { sql } from 'kysely';
import { invalidRequest } from '../../errors/index.js';
import {
  type ItemBody,
  type ItemPage,
  itemBody,
  itemRow,
  type PageOptions,
  parseJson,
  type SaveResponseInput,
  type StoredResponse,
  toNumber,
  toNumberOrNull,
} from './records.js';
import type { RuntimeDb } from './schema.js';

/** Rows per multi-row insert: well under SQLite's bound-parameter limit. */
const INSERT_BATCH = 500;

/**
 * Queries over responses and their items. Every function filters on the tenant; expired rows
 * (`expires_at <= now`) are treated as gone even before the sweep deletes them.
 */

/** Writes a finished response, its items, its events and the conversation append atomically. */
export async function saveResponse(db: RuntimeDb, input: SaveResponseInput): Promise<void> {
  const { tenantId, response, items, now } = input;
  if (!response && !input.conversationId) return;
  await db.transaction().execute(async (trx) => {
    let conversation: { id: string; base: number; expiresAt: number | null } | undefined;
    if (input.conversationId !== undefined && items.length > 0) {
      const bumped = await trx
        .updateTable('runtime_conversations')
        .set((eb) => ({ item_seq: eb('item_seq', '+', BigInt(items.length)) }))
        .where('id', '=', input.conversationId)
        .where('tenant_id', '=', tenantId)
        .returning(['item_seq', 'expires_at'])
        .executeTakeFirst();
      if (bumped) {
        conversation = {
          id: input.conversationId,
          base: toNumber(bumped.item_seq) - items.length,
          expiresAt: toNumberOrNull(bumped.expires_at),
        };
      }
    }
    if (!response && !conversation) return;
    if (response) {
      await trx
        .insertInto('runtime_responses')
        .values({
          id: response.id,
          tenant_id: tenantId,
          previous_response_id: response.previousResponseId,
          conversation_id: response.conversationId,
          status: response.status,
          model: response.model,
          created_at: response.createdAt,
          expires_at: response.expiresAt,
          body: JSON.stringify(response.body),
        })
        .execute();
    }
    const rows = items.map((item, index) => {
      const conversationSeq = conversation ? conversation.base + index + 1 : null;
      // Conversation items live as long as the conversation; the rest as long as the response.
      const expiresAt = conversation ? conversation.expiresAt : (response?.expiresAt ?? null);
      return itemRow({
        ownerId: response ? response.id : conversation!.id,
        seq: response ? index : conversationSeq!,
        tenantId,
        item,
        responseId: response?.id ?? null,
        conversationId: conversation?.id ?? null,
        conversationSeq,
        createdAt: now,
        expiresAt,
      });
    });
    for (let start = 0; start < rows.length; start += INSERT_BATCH) {
      await trx
        .insertInto('runtime_items')
        .values(rows.slice(start, start + INSERT_BATCH))
        .execute();
    }
    if (response && input.events !== undefined) {
      await trx
        .insertInto('runtime_response_events')
        .values({
          response_id: response.id,
          tenant_id: tenantId,
          expires_at: response.expiresAt,
          events: input.events,
        })
        .execute();
    }
  });
}

/** A stored, unexpired response of the tenant. */
export async function getResponse(
  db: RuntimeDb,
  tenantId: string,
  id: string,
  now: number,
): Promise<StoredResponse | undefined> {
  const row = await db
    .selectFrom('runtime_responses')
    .selectAll()
    .where('id', '=', id)
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', BigInt(now))]))
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    previousResponseId: row.previous_response_id,
    conversationId: row.conversation_id,
    status: row.status,
    model: row.model,
    createdAt: toNumber(row.created_at),
    expiresAt: toNumberOrNull(row.expires_at),
    body: parseJson<Record<string, unknown>>(row.body, 'runtime_responses.body') ?? {},
  };
}

/**
 * Deletes a response, its event log and the items only it holds. Items it added to a
 * conversation stay there. Returns false when the tenant has no such response.
 */
export async function deleteResponse(
  db: RuntimeDb,
  tenantId: string,
  id: string,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const deleted = await trx
      .deleteFrom('runtime_responses')
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (deleted.numDeletedRows === 0n) return false;
    await trx
      .deleteFrom('runtime_items')
      .where('owner_id', '=', id)
      .where('conversation_id', 'is', null)
      .execute();
    await trx.deleteFrom('runtime_response_events').where('response_id', '=', id).execute();
    return true;
  });
}

/**
 * The context items of a chain ending at `id`, oldest first: for each response from the root,
 * its items in stored order. One statement (a recursive CTE over `previous_response_id`), so
 * cost does not grow with round trips. Undefined when the response does not exist (for this
 * tenant, or expired). A deleted or expired ancestor ends the chain there.
 */
export async function loadChain(
  db: RuntimeDb,
  tenantId: string,
  id: string,
  now: number,
  maxDepth = 10_000,
): Promise<ItemBody[] | undefined> {
  const result = await sql<{
    depth: number | bigint;
    seq: number | bigint | null;
    body: string | null;
  }>`
    with recursive chain(id, prev, depth) as (
      select id, previous_response_id, 0 from runtime_responses
      where id = ${id} and tenant_id = ${tenantId} and (expires_at is null or expires_at > ${now})
      union all
      select r.id, r.previous_response_id, c.depth + 1 from runtime_responses r
      join chain c on r.id = c.prev
      where r.tenant_id = ${tenantId} and (r.expires_at is null or r.expires_at > ${now}) and c.depth < ${maxDepth}
    )
    select c.depth as depth, i.seq as seq, i.body as body
    from chain c left join runtime_items i on i.owner_id = c.id
    order by c.depth desc, i.seq asc`.execute(db);
  if (result.rows.length === 0) return undefined;
  const items: ItemBody[] = [];
  for (const row of result.rows) if (row.body !== null) items.push(itemBody({ body: row.body }));
  return items;
}

/** The input items of a stored response, one keyset page. Undefined when the response is gone. */
export async function listInputItems(
  db: RuntimeDb,
  tenantId: string,
  responseId: string,
  page: PageOptions,
  now: number,
): Promise<ItemPage | undefined> {
  const exists = await db
    .selectFrom('runtime_responses')
    .select('id')
    .where('id', '=', responseId)
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', BigInt(now))]))
    .executeTakeFirst();
  if (!exists) return undefined;
  let query = db
    .selectFrom('runtime_items')
    .select(['seq', 'body'])
    .where('owner_id', '=', responseId)
    .where('tenant_id', '=', tenantId)
    .where('kind', '=', 'input');
  if (page.after !== undefined) {
    const cursor = await db
      .selectFrom('runtime_items')
      .select('seq')
      .where('owner_id', '=', responseId)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', page.after)
      .executeTakeFirst();
    if (!cursor) throw invalidRequest(`No item with id '${page.after}' in this response`, 'after');
    query = query.where('seq', page.order === 'asc' ? '>' : '<', toNumber(cursor.seq));
  }
  const rows = await query
    .orderBy('seq', page.order)
    .limit(page.limit + 1)
    .execute();
  return { items: rows.slice(0, page.limit).map(itemBody), hasMore: rows.length > page.limit };
}

/**
 * Items of the tenant by id (for `item_reference` inputs), most recent copy of each id.
 * Items of expired owners are excluded.
 */
export async function findItems(
  db: RuntimeDb,
  tenantId: string,
  ids: string[],
  now: number,
): Promise<Map<string, ItemBody>> {
  const found = new Map<string, ItemBody>();
  if (ids.length === 0) return found;
  const rows = await db
    .selectFrom('runtime_items')
    .select(['id', 'body'])
    .where('tenant_id', '=', tenantId)
    .where('id', 'in', ids)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', BigInt(now))]))
    .orderBy('created_at', 'asc')
    .execute();
  for (const row of rows) found.set(row.id, itemBody(row));
  return found;
}

/** The stored event log of a streamed response, or undefined. */
export async function getEvents(
  db: RuntimeDb,
  tenantId: string,
  responseId: string,
): Promise<Array<Record<string, unknown>> | undefined> {
  const row = await db
    .selectFrom('runtime_response_events')
    .select('events')
    .where('response_id', '=', responseId)
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return row
    ? (parseJson<Array<Record<string, unknown>>>(row.events, 'runtime_response_events.events') ??
        [])
    : undefined;
}
