import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import {
  type ScriptedModel,
  type ServeProcess,
  startMcpServer,
  startScriptedModel,
  type TestMcpServer,
  waitFor,
} from './helpers.js';
import {
  callsOf,
  finished,
  INTERRUPTED,
  killAll,
  mcpCallsByTag,
  type Replica,
  replay,
  replicaConfig,
  restart,
  startReplica,
  startRun,
  stop,
} from './process-rig.js';

/**
 * Shutdown and restart with background runs in flight, as real processes:
 * - SIGTERM while a tool call runs: the call finishes, its result is recorded (not
 *   "interrupted"), the lease is released and another replica (told over Postgres
 *   LISTEN/NOTIFY; its worker polls once a minute) or the same one restarted resumes at once;
 * - kill -9, then the same `server.replicaId` started again: it takes its runs back at once,
 *   long before their 30 s leases would let anyone else in.
 * The MCP server counts every call, so a repeated tool call would show. The resume times are
 * printed (they are measurements, not assertions).
 */

const LEASE_MS = 30_000;
const pgDatabase = await pgTestUrl();
if (!pgDatabase) console.warn(PG_SKIP_MESSAGE);

let workdir: string;
let mcp: TestMcpServer;
let model: ScriptedModel;
let pool: pg.Pool | undefined;
const children: ServeProcess[] = [];

interface Lease {
  owner: string | null;
  expiresAt: number | null;
  status: string;
}

const tools = { leaseMs: LEASE_MS, workerIntervalMs: 60_000 };
const server = (replicaId: string) => ({ replicaId, shutdownDelayMs: 300, drainTimeoutMs: 20_000 });

beforeAll(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'switchyard-handover-'));
  mcp = await startMcpServer();
  model = await startScriptedModel();
  if (pgDatabase) pool = new pg.Pool({ connectionString: pgDatabase.url, max: 2 });
}, 60_000);

afterAll(async () => {
  await killAll(children);
  await pool?.end();
  await model?.close();
  await mcp?.close();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
  await pgDatabase?.drop();
}, 60_000);

/** Waits until the MCP server has received the call tagged `tag` (and, optionally, answered it). */
const called = (tag: string, answered = false) =>
  waitFor(
    () =>
      mcp.calls.some((call) => call.args['tag'] === tag && (!answered || call.finished))
        ? true
        : undefined,
    60_000,
    20,
  );

/** Checks the finished run: completed, each tool called once, none recorded interrupted. */
function expectEachToolOnce(response: Record<string, unknown>, tags: string[]): void {
  expect(response['status']).toBe('completed');
  const byTag = mcpCallsByTag(response);
  for (const tag of tags) {
    expect(callsOf(mcp, tag), `calls of ${tag}`).toBe(1);
    expect(byTag.get(tag)?.['status'], `status of ${tag}`).toBe('completed');
    expect(byTag.get(tag)?.['output']).toBe(`slow done ${tag}`);
    expect(byTag.get(tag)?.['error']).not.toBe(INTERRUPTED);
  }
}

describe.skipIf(!pgDatabase)('handover on Postgres, two replicas', () => {
  let a: Replica;
  let b: Replica;
  const leaseOf = async (id: string): Promise<Lease> => {
    const { rows } = await pool!.query<{
      lease_owner: string | null;
      lease_expires_at: string | null;
      status: string;
    }>('select lease_owner, lease_expires_at, status from agent_runs where id = $1', [id]);
    const row = rows[0]!;
    return {
      owner: row.lease_owner,
      expiresAt: row.lease_expires_at === null ? null : Number(row.lease_expires_at),
      status: row.status,
    };
  };

  beforeAll(async () => {
    const config = (name: string) =>
      replicaConfig({ store: pgDatabase!.url, modelUrl: model.url, server: server(name), tools });
    // A first: it creates the schema; B then starts on a database that has it.
    a = await startReplica(workdir, 'pg-a', config('a'), children);
    b = await startReplica(workdir, 'pg-b', config('b'), children);
  }, 400_000);

  it('SIGTERM during a tool call: the call finishes and is recorded, B resumes at once', {
    timeout: 400_000,
  }, async () => {
    const id = await startRun(
      a,
      mcp,
      [
        { tag: 'pg-term-1', ms: 2_000 },
        { tag: 'pg-term-2', ms: 50 },
      ],
      50,
    );
    await called('pg-term-1');
    expect(mcp.calls.find((call) => call.args['tag'] === 'pg-term-1')?.finished).toBe(false);
    const signalled = Date.now();
    const exited = stop(a, 'SIGTERM');
    // B's worker polls once a minute and the lease is 30 s: only A's release message moves it.
    const takenAt = await waitFor(
      async () => ((await leaseOf(id)).owner?.startsWith('b/') ? Date.now() : undefined),
      20_000,
      10,
    );
    expect(await exited, a.child.output()).toBe(0);
    const exitedAt = Date.now();
    const response = await finished(b, id);
    expectEachToolOnce(response, ['pg-term-1', 'pg-term-2']);
    const events = await replay(b, id);
    expect(events.sequence).toEqual(events.sequence.map((_, index) => index));
    expect(events.terminals).toEqual(['response.completed']);
    console.info(
      `[handover] SIGTERM → B owns the run: ${takenAt - signalled} ms (the tool call in flight took 2000 ms); A exited after ${exitedAt - signalled} ms`,
    );
    await restart(a, children);
  });

  it('kill -9, then the same replicaId restarted: it takes its run back without waiting for the lease', {
    timeout: 400_000,
  }, async () => {
    const id = await startRun(
      a,
      mcp,
      [
        { tag: 'pg-kill-1', ms: 50 },
        { tag: 'pg-kill-2', ms: 50 },
      ],
      1_500,
    );
    await called('pg-kill-1', true);
    // kill -9 cannot record a result the process has not written yet: wait until the first
    // call's result is in the run's checkpoint, so the kill lands in the model's delay (a model
    // call is simply made again), not between the tool's answer and its checkpoint.
    await waitFor(
      async () => {
        const { rows } = await pool!.query<{ state: string }>(
          'select state from agent_runs where id = $1',
          [id],
        );
        return rows[0]?.state.includes('slow done pg-kill-1') ? true : undefined;
      },
      20_000,
      10,
    );
    const before = await leaseOf(id);
    expect(before.owner?.startsWith('a/')).toBe(true);
    expect(await stop(a, 'SIGKILL')).toBe(null);
    const killedAt = Date.now();
    await restart(a, children);
    const listeningAt = Date.now();
    const takenAt = await waitFor(
      async () => {
        const lease = await leaseOf(id);
        return lease.owner?.startsWith('a/') && lease.owner !== before.owner
          ? Date.now()
          : undefined;
      },
      20_000,
      10,
    );
    // Taken back while the dead life's lease still held: B could not have had it yet.
    expect(takenAt).toBeLessThan(before.expiresAt!);
    const response = await finished(a, id);
    expectEachToolOnce(response, ['pg-kill-1', 'pg-kill-2']);
    console.info(
      `[handover] kill -9 → restarted replica owns the run ${takenAt - listeningAt} ms after listening (${takenAt - killedAt} ms after the kill, start-up included; the lease had ${before.expiresAt! - killedAt} ms left)`,
    );
  });
});

describe('handover on SQLite, one replica restarted', () => {
  let solo: Replica;
  let file: string;
  const leaseOf = (id: string): Lease => {
    const db = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
    try {
      const row = db
        .prepare('select lease_owner, lease_expires_at, status from agent_runs where id = ?')
        .get(id) as { lease_owner: string | null; lease_expires_at: number | null; status: string };
      return { owner: row.lease_owner, expiresAt: row.lease_expires_at, status: row.status };
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    file = join(workdir, 'solo.db');
    solo = await startReplica(
      workdir,
      'solo',
      replicaConfig({
        store: `sqlite:${file}`,
        modelUrl: model.url,
        server: server('solo'),
        tools,
      }),
      children,
    );
  }, 400_000);

  it('SIGTERM during a tool call: recorded and released; the restarted process resumes at start', {
    timeout: 400_000,
  }, async () => {
    const id = await startRun(
      solo,
      mcp,
      [
        { tag: 'lite-term-1', ms: 1_500 },
        { tag: 'lite-term-2', ms: 50 },
      ],
      50,
    );
    await called('lite-term-1');
    expect(await stop(solo, 'SIGTERM'), solo.child.output()).toBe(0);
    // Stopped at the checkpoint after the call: its result is stored and the lease is free.
    const left = leaseOf(id);
    expect(left).toMatchObject({ owner: null, expiresAt: null, status: 'in_progress' });
    await restart(solo, children);
    const listeningAt = Date.now();
    const takenAt = await waitFor(
      () => (leaseOf(id).owner !== null ? Date.now() : undefined),
      20_000,
      10,
    );
    const response = await finished(solo, id);
    expectEachToolOnce(response, ['lite-term-1', 'lite-term-2']);
    console.info(
      `[handover] SQLite restart → run resumed ${takenAt - listeningAt} ms after listening`,
    );
  });

  it('kill -9 with a replicaId: taken back at start, not after the lease', {
    timeout: 400_000,
  }, async () => {
    const id = await startRun(
      solo,
      mcp,
      [
        { tag: 'lite-kill-1', ms: 50 },
        { tag: 'lite-kill-2', ms: 50 },
      ],
      1_500,
    );
    await called('lite-kill-1', true);
    // As on Postgres: kill only once the first result is in the checkpoint.
    await waitFor(
      () => {
        const db = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
        try {
          const row = db.prepare('select state from agent_runs where id = ?').get(id) as
            | { state: string }
            | undefined;
          return row?.state.includes('slow done lite-kill-1') ? true : undefined;
        } finally {
          db.close();
        }
      },
      20_000,
      10,
    );
    const before = leaseOf(id);
    expect(await stop(solo, 'SIGKILL')).toBe(null);
    await restart(solo, children);
    const listeningAt = Date.now();
    const takenAt = await waitFor(
      () => {
        const owner = leaseOf(id).owner;
        return owner !== null && owner !== before.owner ? Date.now() : undefined;
      },
      20_000,
      10,
    );
    expect(takenAt).toBeLessThan(before.expiresAt!);
    const response = await finished(solo, id);
    expectEachToolOnce(response, ['lite-kill-1', 'lite-kill-2']);
    console.info(
      `[handover] SQLite kill -9 → run taken back ${takenAt - listeningAt} ms after listening (lease had ${before.expiresAt! - listeningAt} ms left)`,
    );
  });
});
