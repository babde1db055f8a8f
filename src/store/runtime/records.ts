import { parseJson, toNumber, toNumberOrNull } from '../internal/convert.js';
import type { RuntimeItemsTable } from './schema.js';

/** A Responses/Conversations item as the API shows it (`type`, usually `id`, and its fields). */
export type ItemBody = Record<string, unknown>;

/** An item to store. `kind` is its side of the owning response (`input` for conversation items). */
export interface NewItem {
  id: string;
  type: string;
  kind: 'input' | 'output';
  body: ItemBody;
}

/** A stored response, as {@link RuntimeRepository.getResponse} returns it. */
export interface StoredResponse {
  id: string;
  tenantId: string;
  previousResponseId: string | null;
  conversationId: string | null;
  status: string;
  model: string;
  /** Epoch ms. */
  createdAt: number;
  expiresAt: number | null;
  /** The Response object. */
  body: Record<string, unknown>;
}

/** What {@link RuntimeRepository.saveResponse} writes, in one transaction. */
export interface SaveResponseInput {
  tenantId: string;
  /** Epoch ms; stamps item rows. */
  now: number;
  /** The response row; absent for `store: false` (then items are only appended to the conversation). */
  response?: Omit<StoredResponse, 'tenantId'> | undefined;
  /** Items in context order: the response's input and output (compaction first, see runtime/context.ts). */
  items: NewItem[];
  /** The streamed events (JSON text of an array), kept for `GET …?stream=true`. */
  events?: string | undefined;
  /** Append the items to this conversation (skipped if it no longer exists). */
  conversationId?: string | undefined;
}

/** Keyset page request. `after` is an item id. */
export interface PageOptions {
  /** 1–100. */
  limit: number;
  order: 'asc' | 'desc';
  after?: string | undefined;
}

/** One page of items. */
export interface ItemPage {
  items: ItemBody[];
  hasMore: boolean;
}

/** A conversation row. */
export interface ConversationRecord {
  id: string;
  tenantId: string;
  /** Epoch ms. */
  createdAt: number;
  expiresAt: number | null;
  metadata: Record<string, string>;
}

/** What the retention sweep removed. */
export interface SweepResult {
  responses: number;
  items: number;
  conversations: number;
  events: number;
  /** Background-run rows (`agent_runs`) past their retention. */
  runs: number;
}

/** Row values for an item insert. */
export function itemRow(input: {
  ownerId: string;
  seq: number;
  tenantId: string;
  item: NewItem;
  responseId: string | null;
  conversationId: string | null;
  conversationSeq: number | null;
  createdAt: number;
  expiresAt: number | null;
}) {
  return {
    owner_id: input.ownerId,
    seq: input.seq,
    tenant_id: input.tenantId,
    id: input.item.id,
    type: input.item.type,
    kind: input.item.kind,
    response_id: input.responseId,
    conversation_id: input.conversationId,
    conversation_seq: input.conversationSeq,
    created_at: input.createdAt,
    expires_at: input.expiresAt,
    body: JSON.stringify(input.item.body),
  };
}

/** Parses an item's JSON body. */
export function itemBody(row: Pick<RuntimeItemsTable, 'body'>): ItemBody {
  return parseJson<ItemBody>(row.body, 'runtime_items.body') ?? {};
}

export { parseJson, toNumber, toNumberOrNull };
