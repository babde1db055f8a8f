import { sql } from 'kysely';
import type { Database } from '../database.js';
import * as conversations from './conversations.js';
import type {
  ConversationRecord,
  ItemBody,
  ItemPage,
  NewItem,
  PageOptions,
  SaveResponseInput,
  StoredResponse,
  SweepResult,
} from './records.js';
import * as responses from './responses.js';
import { runtimeDb } from './schema.js';

/**
 * Storage of the stateful runtime: responses, items, conversations, stream event logs. Every
 * method is scoped to a tenant; another tenant's object is indistinguishable from a missing
 * one. `now` arguments are epoch ms (rows with `expires_at <= now` count as gone).
 */
export interface RuntimeRepository {
  saveResponse(input: SaveResponseInput): Promise<void>;
  getResponse(tenantId: string, id: string, now: number): Promise<StoredResponse | undefined>;
  deleteResponse(tenantId: string, id: string): Promise<boolean>;
  /** Context items of the chain ending at `id`, oldest first; undefined when `id` is not found. */
  loadChain(tenantId: string, id: string, now: number): Promise<ItemBody[] | undefined>;
  listInputItems(
    tenantId: string,
    responseId: string,
    page: PageOptions,
    now: number,
  ): Promise<ItemPage | undefined>;
  findItems(tenantId: string, ids: string[], now: number): Promise<Map<string, ItemBody>>;
  getEvents(
    tenantId: string,
    responseId: string,
  ): Promise<Array<Record<string, unknown>> | undefined>;

  createConversation(record: ConversationRecord, items: NewItem[]): Promise<void>;
  getConversation(
    tenantId: string,
    id: string,
    now: number,
  ): Promise<ConversationRecord | undefined>;
  updateConversationMetadata(
    tenantId: string,
    id: string,
    metadata: Record<string, string>,
    now: number,
  ): Promise<boolean>;
  /** Deletes the conversation, not its items; those then expire at `itemsExpireAt` (null: never). */
  deleteConversation(tenantId: string, id: string, itemsExpireAt: number | null): Promise<boolean>;
  appendConversationItems(
    tenantId: string,
    id: string,
    items: NewItem[],
    now: number,
  ): Promise<ItemBody[] | undefined>;
  loadConversationItems(tenantId: string, id: string): Promise<ItemBody[]>;
  listConversationItems(tenantId: string, id: string, page: PageOptions): Promise<ItemPage>;
  getConversationItem(tenantId: string, id: string, itemId: string): Promise<ItemBody | undefined>;
  deleteConversationItem(tenantId: string, id: string, itemId: string): Promise<boolean>;

  /**
   * Deletes rows expired at `now`, in batches of `batchSize` per statement, and background-run
   * rows (`agent_runs`, which have no `expires_at`) created at or before `runsCreatedBefore`
   * whose lease is not held (none when undefined).
   */
  sweep(now: number, batchSize?: number, runsCreatedBefore?: number): Promise<SweepResult>;
}

/** Most batches one sweep runs per table, so a huge backlog is worked off over several sweeps. */
const MAX_BATCHES = 100;

/**
 * Creates the runtime repository over an open, migrated database (SQLite or Postgres; the
 * queries are the same).
 * @example
 * const repository = createRuntimeRepository(database);
 * const items = await repository.loadChain('tenant-a', 'resp_123', Date.now());
 */
export function createRuntimeRepository(database: Database): RuntimeRepository {
  const db = runtimeDb(database);
  return {
    saveResponse: (input) => responses.saveResponse(db, input),
    getResponse: (tenantId, id, now) => responses.getResponse(db, tenantId, id, now),
    deleteResponse: (tenantId, id) => responses.deleteResponse(db, tenantId, id),
    loadChain: (tenantId, id, now) => responses.loadChain(db, tenantId, id, now),
    listInputItems: (tenantId, id, page, now) =>
      responses.listInputItems(db, tenantId, id, page, now),
    findItems: (tenantId, ids, now) => responses.findItems(db, tenantId, ids, now),
    getEvents: (tenantId, id) => responses.getEvents(db, tenantId, id),

    createConversation: (record, items) => conversations.createConversation(db, record, items),
    getConversation: (tenantId, id, now) => conversations.getConversation(db, tenantId, id, now),
    updateConversationMetadata: (tenantId, id, metadata, now) =>
      conversations.updateConversationMetadata(db, tenantId, id, metadata, now),
    deleteConversation: (tenantId, id, itemsExpireAt) =>
      conversations.deleteConversation(db, tenantId, id, itemsExpireAt),
    appendConversationItems: (tenantId, id, items, now) =>
      conversations.appendConversationItems(db, tenantId, id, items, now),
    loadConversationItems: (tenantId, id) => conversations.loadConversationItems(db, tenantId, id),
    listConversationItems: (tenantId, id, page) =>
      conversations.listConversationItems(db, tenantId, id, page),
    getConversationItem: (tenantId, id, itemId) =>
      conversations.getConversationItem(db, tenantId, id, itemId),
    deleteConversationItem: (tenantId, id, itemId) =>
      conversations.deleteConversationItem(db, tenantId, id, itemId),

    async sweep(now, batchSize = 1000, runsCreatedBefore) {
      // `delete … where key in (select … limit n)`: both dialects accept it (Postgres has no DELETE … LIMIT).
      const run = async (statement: () => Promise<bigint>): Promise<number> => {
        let total = 0;
        for (let batch = 0; batch < MAX_BATCHES; batch++) {
          const deleted = Number(await statement());
          total += deleted;
          if (deleted < batchSize) break;
        }
        return total;
      };
      const byKey = (table: string, key: string) => () =>
        sql`delete from ${sql.table(table)} where ${sql.ref(key)} in (select ${sql.ref(key)} from ${sql.table(table)} where expires_at <= ${now} limit ${batchSize})`
          .execute(db)
          .then((result) => result.numAffectedRows ?? 0n);
      return {
        responses: await run(byKey('runtime_responses', 'id')),
        events: await run(byKey('runtime_response_events', 'response_id')),
        conversations: await run(byKey('runtime_conversations', 'id')),
        items: await run(() =>
          sql`delete from runtime_items where (owner_id, seq) in (select owner_id, seq from runtime_items where expires_at <= ${now} limit ${batchSize})`
            .execute(db)
            .then((result) => result.numAffectedRows ?? 0n),
        ),
        // A run still leased is being worked on (a stuck one loses its lease and goes next time).
        runs:
          runsCreatedBefore === undefined
            ? 0
            : await run(() =>
                sql`delete from agent_runs where id in (select id from agent_runs where created_at <= ${runsCreatedBefore} and (lease_owner is null or lease_expires_at is null or lease_expires_at < ${now}) limit ${batchSize})`
                  .execute(db)
                  .then((result) => result.numAffectedRows ?? 0n),
              ),
      };
    },
  };
}

export type {
  ConversationRecord,
  ItemBody,
  ItemPage,
  NewItem,
  PageOptions,
  SaveResponseInput,
  StoredResponse,
  SweepResult,
} from './records.js';
