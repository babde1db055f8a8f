import type { Kysely } from 'kysely';
import type { Database } from '../database.js';
import type { Int32, Int64, Int64Nullable, Schema } from '../schema.js';

/**
 * Tables of the stateful runtime (Responses and Conversations), created by migration
 * `0002-runtime-state`. Every row carries `tenant_id`; every query filters on it. JSON columns
 * are text. Times are epoch ms; `expires_at` null means "kept until deleted".
 */

/** `runtime_responses`: one row per stored response (`store: true`). */
export interface RuntimeResponsesTable {
  id: string;
  tenant_id: string;
  previous_response_id: string | null;
  conversation_id: string | null;
  status: string;
  model: string;
  created_at: Int64;
  expires_at: Int64Nullable;
  /** JSON text: the whole Response object as last returned to the client. */
  body: string;
}

/**
 * `runtime_items`: input and output items, in context order. An item is owned by a response
 * (`owner_id` = response id, `seq` = position in that response's context) or, when added
 * through the Conversations API or by a `store: false` response, by a conversation
 * (`owner_id` = conversation id, `seq` = `conversation_seq`).
 */
export interface RuntimeItemsTable {
  owner_id: string;
  seq: Int32;
  tenant_id: string;
  /** Item id (`msg_…`, `fc_…`, or the client's own). */
  id: string;
  type: string;
  /** `input` or `output` of the owning response (`input` for conversation-owned items). */
  kind: string;
  response_id: string | null;
  conversation_id: string | null;
  /** Position in the conversation; null when the item is in none. */
  conversation_seq: Int64Nullable;
  created_at: Int64;
  expires_at: Int64Nullable;
  /** JSON text: the item as the API shows it. */
  body: string;
}

/** `runtime_conversations`: one row per conversation. */
export interface RuntimeConversationsTable {
  id: string;
  tenant_id: string;
  created_at: Int64;
  expires_at: Int64Nullable;
  /** JSON text: string → string metadata. */
  metadata: string;
  /** Highest `conversation_seq` handed out (a counter, bumped atomically on append). */
  item_seq: Int64;
}

/** `runtime_response_events`: the SSE events of a streamed, stored response, for replay. */
export interface RuntimeResponseEventsTable {
  response_id: string;
  tenant_id: string;
  expires_at: Int64Nullable;
  /** JSON text: array of event objects, sequence_number from 0. */
  events: string;
}

/** The runtime's tables, as Kysely sees them. */
// A type alias, not an interface: Kysely's withTables wants an index-signature-compatible record.
export type RuntimeTables = {
  runtime_responses: RuntimeResponsesTable;
  runtime_items: RuntimeItemsTable;
  runtime_conversations: RuntimeConversationsTable;
  runtime_response_events: RuntimeResponseEventsTable;
};

/** The query builder over the shared schema plus the runtime tables. */
export type RuntimeDb = Kysely<Schema & RuntimeTables>;

/** The database's query builder with the runtime tables added to its type. */
export function runtimeDb(database: Database): RuntimeDb {
  return database.db.withTables<RuntimeTables>() as unknown as RuntimeDb;
}
