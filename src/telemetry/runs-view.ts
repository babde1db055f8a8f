import { sql } from 'kysely';
import type { Database } from '../store/index.js';

/**
 * Read-only admin views of the runtime's stored state for the dashboard's "Conversations and
 * runs" page: recent responses across tenants, one response with its items, a conversation's
 * items. They read the runtime tables directly (the public Responses API is scoped to the
 * caller's tenant); nothing here writes.
 */

/** A stored response, as listed. */
export interface ResponseSummary {
  id: string;
  tenantId: string;
  status: string;
  model: string;
  createdAt: number;
  previousResponseId: string | null;
  conversationId: string | null;
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** Creates the runs view over the store (empty answers when the runtime tables are absent). */
export function createRunsView(database: Database) {
  const { db } = database;
  const rows = async <T>(query: ReturnType<typeof sql<T>>): Promise<T[]> => {
    try {
      return (await query.execute(db)).rows;
    } catch {
      return [];
    }
  };
  return {
    async recent(limit: number, status?: string): Promise<ResponseSummary[]> {
      const where = status ? sql`where status = ${status}` : sql``;
      const found = await rows(
        sql<{
          id: string;
          tenant_id: string;
          status: string;
          model: string;
          created_at: unknown;
          previous_response_id: string | null;
          conversation_id: string | null;
        }>`select id, tenant_id, status, model, created_at, previous_response_id, conversation_id from runtime_responses ${where} order by created_at desc limit ${limit}`,
      );
      return found.map((row) => ({
        id: row.id,
        tenantId: row.tenant_id,
        status: row.status,
        model: row.model,
        createdAt: Number(row.created_at),
        previousResponseId: row.previous_response_id,
        conversationId: row.conversation_id,
      }));
    },
    async response(
      id: string,
    ): Promise<{ response: unknown; tenantId: string; inputItems: unknown[] } | undefined> {
      const [row] = await rows(
        sql<{
          body: string;
          tenant_id: string;
        }>`select body, tenant_id from runtime_responses where id = ${id}`,
      );
      if (!row) return undefined;
      const items = await rows(
        sql<{
          body: string;
        }>`select body from runtime_items where owner_id = ${id} and kind = 'input' order by seq limit 500`,
      );
      return {
        response: parse(row.body),
        tenantId: row.tenant_id,
        inputItems: items.map((item) => parse(item.body)),
      };
    },
    async conversation(
      id: string,
    ): Promise<{ id: string; tenantId: string; createdAt: number; items: unknown[] } | undefined> {
      const [row] = await rows(
        sql<{
          id: string;
          tenant_id: string;
          created_at: unknown;
        }>`select id, tenant_id, created_at from runtime_conversations where id = ${id}`,
      );
      if (!row) return undefined;
      const items = await rows(
        sql<{
          body: string;
        }>`select body from runtime_items where conversation_id = ${id} and conversation_seq is not null order by conversation_seq limit 1000`,
      );
      return {
        id: row.id,
        tenantId: row.tenant_id,
        createdAt: Number(row.created_at),
        items: items.map((item) => parse(item.body)),
      };
    },
  };
}
