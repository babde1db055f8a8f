import { type Kysely, sql } from 'kysely';
import type { Database } from '../database.js';
import { toNumberOrNull } from '../internal/convert.js';
import type { Int32, Int64, Int64Nullable, Schema } from '../schema.js';
import { merged } from '../../core/objects.js';
import { openRunRequest, type SecretCodec, sealRunRequest } from './run-secrets.js';

/**
 * `agent_runs`: the checkpointed state of a server-run agent loop (a Responses request with
 * server-executed tools, or a `background: true` response). One row per response id; every
 * step writes the row before the next step begins, so another process can take the run over
 * from its last checkpoint. A run is held under a lease (`lease_owner`, `lease_expires_at`)
 * renewed while it runs; writes are fenced on the lease owner.
 *
 * The table is created by migration `0005-agent`.
 *
 * Tool secrets in `request` (the `headers` and `authorization` of MCP tools, the `authHeader`
 * of registered HTTP tools) are sealed with the {@link SecretCodec} given to the store
 * (AES-256-GCM, runtime/secrets.ts) before the row is written and opened when it is read, so
 * the database never holds them in clear. Rows written before encryption read as they are.
 */
export interface AgentRunsTable {
  id: string;
  tenant_id: string;
  /** `queued` | `in_progress` | `completed` | `failed` | `cancelled` | `incomplete`. */
  status: string;
  /** 0/1: the run was created with `background: true`. */
  background: Int32;
  /** JSON: what the runner needs to (re)start the run (request params, principal, tool secrets). */
  request: string;
  /** JSON: the checkpoint (output items so far, usage, step count). */
  state: string;
  /** JSON: the Response object as last checkpointed. */
  response: string;
  /** JSON: every stream event so far (array, sequence_number from 0). */
  events: string;
  /** 0/1: `POST /responses/{id}/cancel` was called. */
  cancel_requested: Int32;
  lease_owner: string | null;
  lease_expires_at: Int64Nullable;
  created_at: Int64;
  updated_at: Int64;
}

export type AgentTables = { agent_runs: AgentRunsTable };
type AgentDb = Kysely<Schema & AgentTables>;

/** A run row, decoded. */
export interface AgentRunRecord {
  id: string;
  tenantId: string;
  status: string;
  background: boolean;
  request: Record<string, unknown>;
  state: Record<string, unknown>;
  response: Record<string, unknown>;
  events: Array<Record<string, unknown>>;
  cancelRequested: boolean;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  /** Set when a tool secret of `request` could not be opened (sealed under a key this process lacks); those secrets are null. */
  secretsError?: string;
}

/** Storage of agent runs and their leases. */
export interface AgentRunStore {
  insert(run: {
    id: string;
    tenantId: string;
    status: string;
    background: boolean;
    request: unknown;
    state: unknown;
    response: unknown;
    events: unknown[];
    owner: string;
    leaseExpiresAt: number;
    now: number;
  }): Promise<void>;
  /**
   * A run row; undefined when missing, of another tenant, or created at or before
   * `createdAfter` (a run past its retention reads as gone before the sweep deletes it).
   */
  get(
    tenantId: string | null,
    id: string,
    createdAfter?: number,
  ): Promise<AgentRunRecord | undefined>;
  /** Deletes the run row (request, state, events, sealed tool secrets); false when the tenant has none. */
  delete(tenantId: string, id: string): Promise<boolean>;
  /** The run's status alone (no request, state or events read, no secrets opened), or null when it does not exist. */
  status(id: string): Promise<string | null>;
  /** Writes a checkpoint if `owner` still holds the lease; returns false when it lost it. Also reports a pending cancel. */
  checkpoint(
    id: string,
    owner: string,
    update: {
      status: string;
      state: unknown;
      response: unknown;
      events: unknown[];
      leaseExpiresAt: number;
      now: number;
    },
  ): Promise<{ held: boolean; cancelRequested: boolean }>;
  /** Extends the lease; returns whether it is still held and whether a cancel is pending. */
  renew(
    id: string,
    owner: string,
    leaseExpiresAt: number,
    now: number,
  ): Promise<{ held: boolean; cancelRequested: boolean }>;
  /**
   * Ends a run this owner holds as `failed` without running it (its tool secrets cannot be
   * opened here): the Response gets `error`, the event log a `response.failed` event.
   */
  fail(
    id: string,
    owner: string,
    error: { code: string; message: string },
    now: number,
  ): Promise<void>;
  /** Releases the lease of a finished run. */
  release(id: string, owner: string): Promise<void>;
  requestCancel(tenantId: string, id: string, now: number): Promise<boolean>;
  /** Ids of unfinished runs whose lease has expired (or that have none). */
  expired(now: number, limit: number): Promise<string[]>;
  /** Takes the lease of an unfinished run whose lease expired; true when this owner got it. */
  claim(id: string, owner: string, leaseExpiresAt: number, now: number): Promise<boolean>;
  /**
   * Takes the lease of an unfinished run whatever its lease says (a cancel whose owner did not
   * answer); the old owner's next write is fenced off. True when this owner got it.
   */
  seize(id: string, owner: string, leaseExpiresAt: number, now: number): Promise<boolean>;
  /**
   * Takes back the unfinished runs leased to earlier lives of this replica (owners that start
   * with `prefix`, other than `owner`), whatever their leases say; returns their ids.
   */
  reclaim(prefix: string, owner: string, leaseExpiresAt: number, now: number): Promise<string[]>;
}

const UNFINISHED = ['queued', 'in_progress'];

/** Marks a stored state whose `events` live in the `events` column only. */
const EVENTS_IN_COLUMN = '$eventsInColumn';

/**
 * The state as stored: when its `events` are the very array written to the `events` column (as
 * the runner checkpoints them), they are left out of `state` and marked, so a checkpoint
 * serializes and writes the event log once rather than twice (it is most of the row).
 */
function leanState(state: unknown, events: unknown[]): unknown {
  if (
    typeof state !== 'object' ||
    state === null ||
    (state as Record<string, unknown>)['events'] !== events
  )
    return state;
  const { events: _events, ...rest } = state as Record<string, unknown>;
  return merged(rest, { [EVENTS_IN_COLUMN]: true });
}

/** `state` and `events` of a row, with the events put back into a state stored lean. */
function withEvents(
  state: Record<string, unknown>,
  events: Array<Record<string, unknown>>,
): { state: Record<string, unknown>; events: Array<Record<string, unknown>> } {
  if (state[EVENTS_IN_COLUMN] !== true) return { state, events };
  const { [EVENTS_IN_COLUMN]: _marker, ...rest } = state;
  return { state: merged(rest, { events }), events };
}

/** The agent-run store over an open (migrated) database; `secrets` seals the tool secrets of run requests. */
export function createAgentRunStore(database: Database, secrets: SecretCodec): AgentRunStore {
  const db = database.db.withTables<AgentTables>() as unknown as AgentDb;
  const flags = async (id: string, owner: string) => {
    const row = await db
      .selectFrom('agent_runs')
      .select(['lease_owner', 'cancel_requested'])
      .where('id', '=', id)
      .executeTakeFirst();
    return {
      held: row?.lease_owner === owner,
      cancelRequested: Number(row?.cancel_requested ?? 0) === 1,
    };
  };
  return {
    async insert(run) {
      await db
        .insertInto('agent_runs')
        .values({
          id: run.id,
          tenant_id: run.tenantId,
          status: run.status,
          background: run.background ? 1 : 0,
          request: JSON.stringify(sealRunRequest(secrets, run.id, run.request)),
          state: JSON.stringify(leanState(run.state, run.events)),
          response: JSON.stringify(run.response),
          events: JSON.stringify(run.events),
          cancel_requested: 0,
          lease_owner: run.owner,
          lease_expires_at: run.leaseExpiresAt,
          created_at: run.now,
          updated_at: run.now,
        })
        .execute();
    },
    async status(id) {
      const row = await db
        .selectFrom('agent_runs')
        .select('status')
        .where('id', '=', id)
        .executeTakeFirst();
      return row?.status ?? null;
    },
    async get(tenantId, id, createdAfter) {
      let query = db.selectFrom('agent_runs').selectAll().where('id', '=', id);
      if (tenantId !== null) query = query.where('tenant_id', '=', tenantId);
      if (createdAfter !== undefined) query = query.where('created_at', '>', createdAfter as never);
      const row = await query.executeTakeFirst();
      if (!row) return undefined;
      const opened = openRunRequest(secrets, row.id, JSON.parse(row.request));
      return {
        id: row.id,
        tenantId: row.tenant_id,
        status: row.status,
        background: Number(row.background) === 1,
        request: opened.request as Record<string, unknown>,
        ...(opened.error === undefined ? {} : { secretsError: opened.error }),
        ...withEvents(
          JSON.parse(row.state) as Record<string, unknown>,
          JSON.parse(row.events) as Array<Record<string, unknown>>,
        ),
        response: JSON.parse(row.response) as Record<string, unknown>,
        cancelRequested: Number(row.cancel_requested) === 1,
        leaseOwner: row.lease_owner,
        leaseExpiresAt: toNumberOrNull(row.lease_expires_at),
      };
    },
    async delete(tenantId, id) {
      const result = await db
        .deleteFrom('agent_runs')
        .where('id', '=', id)
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
    async checkpoint(id, owner, update) {
      // One statement (RETURNING: SQLite ≥ 3.35 and Postgres) rather than an update and a read.
      const row = await db
        .updateTable('agent_runs')
        .set({
          status: update.status,
          state: JSON.stringify(leanState(update.state, update.events)),
          response: JSON.stringify(update.response),
          events: JSON.stringify(update.events),
          lease_expires_at: update.leaseExpiresAt,
          updated_at: update.now,
        })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .returning('cancel_requested')
        .executeTakeFirst();
      return row
        ? { held: true, cancelRequested: Number(row.cancel_requested) === 1 }
        : { held: false, cancelRequested: false };
    },
    async renew(id, owner, leaseExpiresAt, now) {
      await db
        .updateTable('agent_runs')
        .set({ lease_expires_at: leaseExpiresAt, updated_at: now })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .execute();
      return flags(id, owner);
    },
    async fail(id, owner, error, now) {
      const row = await db
        .selectFrom('agent_runs')
        .select(['state', 'response', 'events'])
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      if (!row) return;
      const events = JSON.parse(row.events) as Array<Record<string, unknown>>;
      const response = merged(JSON.parse(row.response) as Record<string, unknown>, {
        status: 'failed',
        error,
      });
      const event = { type: 'response.failed', response, sequence_number: events.length };
      const state = merged(JSON.parse(row.state) as Record<string, unknown>, {
        done: true,
        events: [...events, event],
      });
      await db
        .updateTable('agent_runs')
        .set({
          status: 'failed',
          state: JSON.stringify(state),
          response: JSON.stringify(response),
          events: JSON.stringify([...events, event]),
          updated_at: now,
        })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .execute();
    },
    async release(id, owner) {
      await db
        .updateTable('agent_runs')
        .set({ lease_owner: null, lease_expires_at: null })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .execute();
    },
    async requestCancel(tenantId, id, now) {
      const result = await db
        .updateTable('agent_runs')
        .set({ cancel_requested: 1, updated_at: now })
        .where('id', '=', id)
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async expired(now, limit) {
      const rows = await db
        .selectFrom('agent_runs')
        .select('id')
        .where('status', 'in', UNFINISHED)
        .where((eb) =>
          eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now as never)]),
        )
        .orderBy('created_at')
        .limit(limit)
        .execute();
      return rows.map((row) => row.id);
    },
    async claim(id, owner, leaseExpiresAt, now) {
      const result = await db
        .updateTable('agent_runs')
        .set({ lease_owner: owner, lease_expires_at: leaseExpiresAt, updated_at: now })
        .where('id', '=', id)
        .where('status', 'in', UNFINISHED)
        .where((eb) =>
          eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now as never)]),
        )
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async seize(id, owner, leaseExpiresAt, now) {
      const result = await db
        .updateTable('agent_runs')
        .set({ lease_owner: owner, lease_expires_at: leaseExpiresAt, updated_at: now })
        .where('id', '=', id)
        .where('status', 'in', UNFINISHED)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async reclaim(prefix, owner, leaseExpiresAt, now) {
      // substr rather than LIKE: a replica id may hold LIKE's wildcards; both dialects have it.
      const rows = await db
        .updateTable('agent_runs')
        .set({ lease_owner: owner, lease_expires_at: leaseExpiresAt, updated_at: now })
        .where('status', 'in', UNFINISHED)
        .where(sql<string>`substr(lease_owner, 1, ${prefix.length})`, '=', prefix)
        .where('lease_owner', '!=', owner)
        .returning('id')
        .execute();
      return rows.map((row) => row.id);
    },
  };
}
