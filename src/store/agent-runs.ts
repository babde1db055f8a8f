import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import { toNumberOrNull } from './internal/convert.js';
import { int64 } from './migrations/index.js';
import type { Int32, Int64, Int64Nullable, Schema } from './schema.js';

/**
 * `agent_runs`: the checkpointed state of a server-run agent loop (a Responses request with
 * server-executed tools, or a `background: true` response). One row per response id; every
 * step writes the row before the next step begins, so another process can take the run over
 * from its last checkpoint. A run is held under a lease (`lease_owner`, `lease_expires_at`)
 * renewed while it runs; writes are fenced on the lease owner.
 *
 * The table is created idempotently by {@link ensureAgentTables} at start-up (both dialects).
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
}

/** Storage of agent runs and their leases. */
export interface AgentRunStore {
  insert(run: { id: string; tenantId: string; status: string; background: boolean; request: unknown; state: unknown; response: unknown; events: unknown[]; owner: string; leaseExpiresAt: number; now: number }): Promise<void>;
  get(tenantId: string | null, id: string): Promise<AgentRunRecord | undefined>;
  /** Writes a checkpoint if `owner` still holds the lease; returns false when it lost it. Also reports a pending cancel. */
  checkpoint(id: string, owner: string, update: { status: string; state: unknown; response: unknown; events: unknown[]; leaseExpiresAt: number; now: number }): Promise<{ held: boolean; cancelRequested: boolean }>;
  /** Extends the lease; returns whether it is still held and whether a cancel is pending. */
  renew(id: string, owner: string, leaseExpiresAt: number, now: number): Promise<{ held: boolean; cancelRequested: boolean }>;
  /** Releases the lease of a finished run. */
  release(id: string, owner: string): Promise<void>;
  requestCancel(tenantId: string, id: string, now: number): Promise<boolean>;
  /** Ids of unfinished runs whose lease has expired (or that have none). */
  expired(now: number, limit: number): Promise<string[]>;
  /** Takes the lease of an unfinished run whose lease expired; true when this owner got it. */
  claim(id: string, owner: string, leaseExpiresAt: number, now: number): Promise<boolean>;
}

const ensured = new WeakSet<Database>();

/** Creates `agent_runs` if it does not exist (idempotent, both dialects). */
export async function ensureAgentTables(database: Database): Promise<void> {
  if (ensured.has(database)) return;
  const big = int64(database.dialect);
  await database.db.schema
    .createTable('agent_runs')
    .ifNotExists()
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('tenant_id', 'text', (column) => column.notNull())
    .addColumn('status', 'text', (column) => column.notNull())
    .addColumn('background', 'integer', (column) => column.notNull())
    .addColumn('cancel_requested', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', big)
    .addColumn('created_at', big, (column) => column.notNull())
    .addColumn('updated_at', big, (column) => column.notNull())
    .addColumn('request', 'text', (column) => column.notNull())
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('response', 'text', (column) => column.notNull())
    .addColumn('events', 'text', (column) => column.notNull())
    .execute();
  await database.db.schema.createIndex('agent_runs_lease').ifNotExists().on('agent_runs').columns(['status', 'lease_expires_at']).execute();
  ensured.add(database);
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
  if (typeof state !== 'object' || state === null || (state as Record<string, unknown>)['events'] !== events) return state;
  const { events: _events, ...rest } = state as Record<string, unknown>;
  return { ...rest, [EVENTS_IN_COLUMN]: true };
}

/** `state` and `events` of a row, with the events put back into a state stored lean. */
function withEvents(state: Record<string, unknown>, events: Array<Record<string, unknown>>): { state: Record<string, unknown>; events: Array<Record<string, unknown>> } {
  if (state[EVENTS_IN_COLUMN] !== true) return { state, events };
  const { [EVENTS_IN_COLUMN]: _marker, ...rest } = state;
  return { state: { ...rest, events }, events };
}

/** The agent-run store over an open database (call {@link ensureAgentTables} first). */
export function createAgentRunStore(database: Database): AgentRunStore {
  const db = database.db.withTables<AgentTables>() as unknown as AgentDb;
  const flags = async (id: string, owner: string) => {
    const row = await db.selectFrom('agent_runs').select(['lease_owner', 'cancel_requested']).where('id', '=', id).executeTakeFirst();
    return { held: row?.lease_owner === owner, cancelRequested: Number(row?.cancel_requested ?? 0) === 1 };
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
          request: JSON.stringify(run.request),
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
    async get(tenantId, id) {
      let query = db.selectFrom('agent_runs').selectAll().where('id', '=', id);
      if (tenantId !== null) query = query.where('tenant_id', '=', tenantId);
      const row = await query.executeTakeFirst();
      if (!row) return undefined;
      return {
        id: row.id,
        tenantId: row.tenant_id,
        status: row.status,
        background: Number(row.background) === 1,
        request: JSON.parse(row.request) as Record<string, unknown>,
        ...withEvents(JSON.parse(row.state) as Record<string, unknown>, JSON.parse(row.events) as Array<Record<string, unknown>>),
        response: JSON.parse(row.response) as Record<string, unknown>,
        cancelRequested: Number(row.cancel_requested) === 1,
        leaseOwner: row.lease_owner,
        leaseExpiresAt: toNumberOrNull(row.lease_expires_at),
      };
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
      return row ? { held: true, cancelRequested: Number(row.cancel_requested) === 1 } : { held: false, cancelRequested: false };
    },
    async renew(id, owner, leaseExpiresAt, now) {
      await db.updateTable('agent_runs').set({ lease_expires_at: leaseExpiresAt, updated_at: now }).where('id', '=', id).where('lease_owner', '=', owner).execute();
      return flags(id, owner);
    },
    async release(id, owner) {
      await db.updateTable('agent_runs').set({ lease_owner: null, lease_expires_at: null }).where('id', '=', id).where('lease_owner', '=', owner).execute();
    },
    async requestCancel(tenantId, id, now) {
      const result = await db.updateTable('agent_runs').set({ cancel_requested: 1, updated_at: now }).where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async expired(now, limit) {
      const rows = await db
        .selectFrom('agent_runs')
        .select('id')
        .where('status', 'in', UNFINISHED)
        .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now as never)]))
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
        .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now as never)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

