import { type Kysely, sql } from 'kysely';
import type { Database } from '../database.js';
import { toNumber, toNumberOrNull } from '../internal/convert.js';
import type { Int32, Int64, Int64Nullable, Schema } from '../schema.js';

/**
 * `webhook_deliveries` (migration 0006): the outbox of webhooks for background responses. One
 * row per response and endpoint (unique), enqueued before the run's terminal checkpoint and
 * delivered by a dispatcher in any process under a short lease, so a crash delays a webhook but
 * never loses it, and two processes never send the same one at the same time. The row id is the
 * event id (`webhook-id`), the same on every retry, so receivers can drop duplicates.
 *
 * No URL and no secret is stored: `endpoint` is a key derived from the configured URL.
 */
export type WebhookDeliveriesTable = {
  /** The event id (`evt_…`): body `id` and `webhook-id` header. */
  id: string;
  response_id: string;
  tenant_id: string;
  /** Key of the configured endpoint (a hash of its URL). */
  endpoint: string;
  /** `response.completed` | `response.failed` | `response.cancelled` | `response.incomplete`. */
  type: string;
  /** `pending` | `delivered` | `failed` | `skipped`. */
  status: string;
  /** Attempts made (counted when an attempt starts). */
  attempts: Int32;
  next_attempt_at: Int64;
  lease_owner: string | null;
  lease_expires_at: Int64Nullable;
  /** HTTP status of the last attempt (null when it got no answer). */
  last_status: Int32 | null;
  /** Why the last attempt failed (no secrets, no response bodies). */
  last_error: string | null;
  /** Epoch ms the response reached its terminal status (body `created_at`, in seconds). */
  event_created_at: Int64;
  created_at: Int64;
  updated_at: Int64;
  delivered_at: Int64Nullable;
  /** JSON of an alert's `{type, text, data}` (migration 0011); NULL for response webhooks. */
  payload: string | null;
};

type WebhookTables = { webhook_deliveries: WebhookDeliveriesTable };
type WebhookDb = Kysely<Schema & WebhookTables>;

/** A delivery row, decoded. */
export interface WebhookDelivery {
  id: string;
  responseId: string;
  tenantId: string;
  endpoint: string;
  type: string;
  status: 'pending' | 'delivered' | 'failed' | 'skipped';
  attempts: number;
  nextAttemptAt: number;
  leaseOwner: string | null;
  lastStatus: number | null;
  lastError: string | null;
  eventCreatedAt: number;
  /** Epoch ms it was queued. */
  createdAt: number;
  deliveredAt: number | null;
  /** An alert's event (JSON text), or null for a response webhook. */
  payload: string | null;
}

/** The statuses a delivery can have. */
export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'skipped'] as const;

/** Filters and page of {@link WebhookDeliveryStore.list}. */
export interface WebhookDeliveryListOptions {
  status?: WebhookDelivery['status'] | undefined;
  responseId?: string | undefined;
  tenantId?: string | undefined;
  /** Rows after this one in the order (newest first): the previous page's last row. */
  after?: Pick<WebhookDelivery, 'id' | 'createdAt'> | undefined;
  limit: number;
}

/** What the scrape-time gauges read (telemetry/collect.ts). */
export interface WebhookDeliveryStats {
  /** Deliveries queued since the given instant, by status (statuses without rows are absent). */
  counts: Partial<Record<WebhookDelivery['status'], number>>;
  /** When the oldest pending delivery (of any age) was queued, epoch ms; null when none is pending. */
  oldestPendingAt: number | null;
}

/** What {@link WebhookDeliveryStore.requeue} did: the row as it is now, or undefined when the id is unknown. */
export type RequeueResult = { requeued: boolean; delivery: WebhookDelivery } | undefined;

/** What the dispatcher records after an attempt (all writes are fenced on the lease owner). */
export interface AttemptOutcome {
  now: number;
  lastStatus: number | null;
  lastError: string | null;
}

export interface WebhookDeliveryStore {
  /** Inserts deliveries; a (response, endpoint) pair already queued is left as it is. */
  enqueue(
    rows: Array<{
      id: string;
      responseId: string;
      tenantId: string;
      endpoint: string;
      type: string;
      eventCreatedAt: number;
      now: number;
      payload?: string | null;
    }>,
  ): Promise<void>;
  /** Pending deliveries due at `now` whose lease is free or expired, oldest first. */
  due(now: number, limit: number): Promise<WebhookDelivery[]>;
  /** Takes the lease of a due delivery and counts an attempt; true when this owner got it. */
  claim(id: string, owner: string, leaseExpiresAt: number, now: number): Promise<boolean>;
  /** Gives the lease back without counting the attempt (the run has not ended yet). */
  postpone(
    id: string,
    owner: string,
    nextAttemptAt: number,
    now: number,
    type?: string,
  ): Promise<void>;
  delivered(id: string, owner: string, outcome: AttemptOutcome): Promise<void>;
  /** A failed attempt: retry at `nextAttemptAt`. */
  retry(id: string, owner: string, nextAttemptAt: number, outcome: AttemptOutcome): Promise<void>;
  /** Gives up (`failed`, attempts exhausted or permanent error) or drops it (`skipped`). */
  finish(
    id: string,
    owner: string,
    status: 'failed' | 'skipped',
    outcome: AttemptOutcome,
  ): Promise<void>;
  /** When the next pending delivery falls due (its lease expiry when it is leased), or null. */
  nextDue(): Promise<number | null>;
  /** Deliveries of one response (inspection, tests). */
  forResponse(responseId: string): Promise<WebhookDelivery[]>;
  /** Deletes finished deliveries (delivered, failed, skipped) last touched before `before`; returns how many. */
  prune(before: number): Promise<number>;
  /** One delivery, or undefined. */
  get(id: string): Promise<WebhookDelivery | undefined>;
  /** Deliveries newest first (created_at, then id), filtered (admin API). */
  list(options: WebhookDeliveryListOptions): Promise<WebhookDelivery[]>;
  /**
   * Puts a `failed` delivery back to `pending`, due at `now`, with its attempts kept (so the
   * dispatcher makes one more attempt and gives up again if it fails). Any other status is left
   * as it is (`requeued: false`). Atomic: two operators retrying at once requeue it once.
   */
  requeue(id: string, now: number): Promise<RequeueResult>;
  /** Counts by status of deliveries queued since `since`, and the oldest pending one. */
  stats(since: number): Promise<WebhookDeliveryStats>;
}

export function createWebhookDeliveryStore(database: Database): WebhookDeliveryStore {
  const db = database.db.withTables<WebhookTables>() as unknown as WebhookDb;
  const decode = (row: Record<string, unknown>): WebhookDelivery => ({
    id: String(row['id']),
    responseId: String(row['response_id']),
    tenantId: String(row['tenant_id']),
    endpoint: String(row['endpoint']),
    type: String(row['type']),
    status: String(row['status']) as WebhookDelivery['status'],
    attempts: toNumber(row['attempts']),
    nextAttemptAt: toNumber(row['next_attempt_at']),
    leaseOwner: (row['lease_owner'] as string | null) ?? null,
    lastStatus: toNumberOrNull(row['last_status']),
    lastError: (row['last_error'] as string | null) ?? null,
    eventCreatedAt: toNumber(row['event_created_at']),
    createdAt: toNumber(row['created_at']),
    deliveredAt: toNumberOrNull(row['delivered_at']),
    payload: (row['payload'] as string | null | undefined) ?? null,
  });
  const get = async (id: string): Promise<WebhookDelivery | undefined> => {
    const row = await db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? decode(row as unknown as Record<string, unknown>) : undefined;
  };
  const held = (id: string, owner: string) =>
    db
      .updateTable('webhook_deliveries')
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'pending');
  return {
    async enqueue(rows) {
      if (rows.length === 0) return;
      await db
        .insertInto('webhook_deliveries')
        .values(
          rows.map((row) => ({
            id: row.id,
            response_id: row.responseId,
            tenant_id: row.tenantId,
            endpoint: row.endpoint,
            type: row.type,
            status: 'pending',
            attempts: 0,
            next_attempt_at: row.now,
            lease_owner: null,
            lease_expires_at: null,
            last_status: null,
            last_error: null,
            event_created_at: row.eventCreatedAt,
            created_at: row.now,
            updated_at: row.now,
            delivered_at: null,
            payload: row.payload ?? null,
          })),
        )
        .onConflict((conflict) => conflict.columns(['response_id', 'endpoint']).doNothing())
        .execute();
    },
    async due(now, limit) {
      const rows = await db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now as never)
        .where((eb) =>
          eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now as never)]),
        )
        .orderBy('next_attempt_at')
        .limit(limit)
        .execute();
      return rows.map((row) => decode(row as unknown as Record<string, unknown>));
    },
    async claim(id, owner, leaseExpiresAt, now) {
      const result = await db
        .updateTable('webhook_deliveries')
        .set({
          lease_owner: owner,
          lease_expires_at: leaseExpiresAt,
          attempts: sql<number>`attempts + 1`,
          updated_at: now,
        })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now as never)
        .where((eb) =>
          eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now as never)]),
        )
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async postpone(id, owner, nextAttemptAt, now, type) {
      await held(id, owner)
        .set({
          lease_owner: null,
          lease_expires_at: null,
          attempts: sql<number>`attempts - 1`,
          next_attempt_at: nextAttemptAt,
          updated_at: now,
          ...(type ? { type } : {}),
        })
        .execute();
    },
    async delivered(id, owner, outcome) {
      await held(id, owner)
        .set({
          status: 'delivered',
          lease_owner: null,
          lease_expires_at: null,
          last_status: outcome.lastStatus,
          last_error: null,
          delivered_at: outcome.now,
          updated_at: outcome.now,
        })
        .execute();
    },
    async retry(id, owner, nextAttemptAt, outcome) {
      await held(id, owner)
        .set({
          lease_owner: null,
          lease_expires_at: null,
          next_attempt_at: nextAttemptAt,
          last_status: outcome.lastStatus,
          last_error: outcome.lastError,
          updated_at: outcome.now,
        })
        .execute();
    },
    async finish(id, owner, status, outcome) {
      await held(id, owner)
        .set({
          status,
          lease_owner: null,
          lease_expires_at: null,
          last_status: outcome.lastStatus,
          last_error: outcome.lastError,
          updated_at: outcome.now,
        })
        .execute();
    },
    async nextDue() {
      // A row leased by another dispatcher is due again only when its lease expires.
      const rows = await db
        .selectFrom('webhook_deliveries')
        .select(['next_attempt_at', 'lease_expires_at'])
        .where('status', '=', 'pending')
        .orderBy('next_attempt_at')
        .limit(20)
        .execute();
      let earliest: number | null = null;
      for (const row of rows) {
        const at = Math.max(
          toNumber(row.next_attempt_at),
          toNumberOrNull(row.lease_expires_at) ?? 0,
        );
        if (earliest === null || at < earliest) earliest = at;
      }
      return earliest;
    },
    async prune(before) {
      const result = await db
        .deleteFrom('webhook_deliveries')
        .where('status', 'in', ['delivered', 'failed', 'skipped'])
        .where('updated_at', '<', before as never)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async forResponse(responseId) {
      const rows = await db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('response_id', '=', responseId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map((row) => decode(row as unknown as Record<string, unknown>));
    },
    get,
    async list(options) {
      let query = db.selectFrom('webhook_deliveries').selectAll();
      if (options.status !== undefined) query = query.where('status', '=', options.status);
      if (options.responseId !== undefined)
        query = query.where('response_id', '=', options.responseId);
      if (options.tenantId !== undefined) query = query.where('tenant_id', '=', options.tenantId);
      const after = options.after;
      if (after !== undefined) {
        // Keyset pagination on (created_at, id) descending: stable while rows are added.
        query = query.where((eb) =>
          eb.or([
            eb('created_at', '<', after.createdAt as never),
            eb.and([eb('created_at', '=', after.createdAt as never), eb('id', '<', after.id)]),
          ]),
        );
      }
      const rows = await query
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(options.limit)
        .execute();
      return rows.map((row) => decode(row as unknown as Record<string, unknown>));
    },
    async requeue(id, now) {
      const result = await db
        .updateTable('webhook_deliveries')
        .set({
          status: 'pending',
          next_attempt_at: now,
          lease_owner: null,
          lease_expires_at: null,
          updated_at: now,
        })
        .where('id', '=', id)
        .where('status', '=', 'failed')
        .executeTakeFirst();
      const delivery = await get(id);
      return delivery ? { requeued: Number(result.numUpdatedRows) === 1, delivery } : undefined;
    },
    async stats(since) {
      // The 24 h count reads the range of the (created_at, id) index (migration 0009): the range is
      // a subquery with a LIMIT, which SQLite never flattens; a plain `group by status` makes it
      // scan the whole (status, next_attempt_at) index instead, for its order.
      const recent = db
        .selectFrom('webhook_deliveries')
        .select('status')
        .where('created_at', '>=', since as never)
        .limit(1_000_000_000)
        .as('recent');
      const counts = await db
        .selectFrom(recent)
        .select(['recent.status', (eb) => eb.fn.countAll().as('count')])
        .groupBy('recent.status')
        .execute();
      const oldest = await db
        .selectFrom('webhook_deliveries')
        .select((eb) => eb.fn.min('created_at').as('oldest'))
        .where('status', '=', 'pending')
        .executeTakeFirst();
      const stats: WebhookDeliveryStats = {
        counts: {},
        oldestPendingAt: toNumberOrNull(oldest?.oldest),
      };
      for (const row of counts)
        stats.counts[row.status as WebhookDelivery['status']] = toNumber(row.count);
      return stats;
    },
  };
}
