import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from '../fakes/upstream.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import { http } from '../runtime/helpers.js';
import {
  type ServeProcess,
  spawnServe,
  startMcpServer,
  startScriptedModel,
  type TestMcpServer,
  waitFor,
} from './helpers.js';

/**
 * Crash safety on Postgres with two processes: Switchyard A and B serve the same fresh
 * database; background MCP runs start on A (and on B); A is killed with SIGKILL in the middle
 * of a model call or of a tool call; B's worker takes the expired leases over and finishes
 * every run from its last checkpoint. The MCP server records every call it receives, so a
 * repeated tool call would show.
 */

const KEY = 'sk-crash-pg-tenant-0123456789';
const TERMINAL = ['completed', 'failed', 'cancelled', 'incomplete'];
const INTERRUPTED =
  'The tool call was interrupted (the gateway restarted during the call); it was not retried.';

const pgDatabase = await pgTestUrl();
if (!pgDatabase) console.warn(PG_SKIP_MESSAGE);

let workdir: string;
let configPath: string;
let mcp: TestMcpServer;
let model: Awaited<ReturnType<typeof startScriptedModel>>;
let pool: pg.Pool;
const children: ServeProcess[] = [];

type Item = Record<string, unknown>;
interface Server {
  child: ServeProcess;
  url: string;
}

async function serve(): Promise<Server> {
  const port = await closedPort();
  const child = await spawnServe(configPath, port, workdir);
  children.push(child);
  return { child, url: `http://127.0.0.1:${port}` };
}

async function kill(server: Server): Promise<void> {
  server.child.kill('SIGKILL');
  if (server.child.exitCode === null && server.child.signalCode === null)
    await once(server.child, 'exit');
}

/** Starts a background run of `steps` MCP tool calls (`slow` with the given tags and times). */
async function startRun(
  server: Server,
  steps: Array<{ tag: string; ms: number }>,
  modelDelayMs: number,
): Promise<string> {
  const script = steps.map((step) => `CALL slow {"ms":${step.ms},"tag":"${step.tag}"}`).join('; ');
  const created = await http(`${server.url}/v1/responses`, {
    key: KEY,
    body: {
      model: 'fake',
      input: `${script}; DELAY ${modelDelayMs}`,
      background: true,
      tools: [
        { type: 'mcp', server_label: 'slow', server_url: mcp.url, require_approval: 'never' },
      ],
    },
  });
  expect(created.status, created.text).toBe(200);
  expect(created.json().status).toBe('queued');
  return created.json().id as string;
}

async function finished(server: Server, id: string): Promise<Record<string, unknown>> {
  return waitFor(
    async () => {
      const body = (await http(`${server.url}/v1/responses/${id}`, { key: KEY })).json();
      return TERMINAL.includes(body.status) ? (body as Record<string, unknown>) : undefined;
    },
    90_000,
    100,
  );
}

/** How many times the MCP server received a call with `tag`. */
const callsOf = (tag: string) => mcp.calls.filter((call) => call.args['tag'] === tag).length;
const mcpCalls = (response: Record<string, unknown>) =>
  (response['output'] as Item[]).filter((item) => item['type'] === 'mcp_call');
const tagOf = (item: Item) =>
  String((JSON.parse(String(item['arguments'])) as { tag: string }).tag);

/** The replay has exactly one terminal event, and sequence numbers 0, 1, 2, … without a gap or a repeat. */
async function expectCleanReplay(server: Server, id: string, terminal: string): Promise<void> {
  const replay = await http(`${server.url}/v1/responses/${id}?stream=true`, { key: KEY });
  expect(replay.status).toBe(200);
  const sequence = [...replay.text.matchAll(/"sequence_number":(\d+)/g)].map((match) =>
    Number(match[1]),
  );
  expect(sequence.length).toBeGreaterThan(10);
  expect(sequence).toEqual(sequence.map((_, index) => index));
  const terminals = [
    ...replay.text.matchAll(/^event: (response\.(?:completed|failed|incomplete|cancelled))$/gm),
  ].map((match) => match[1]);
  expect(terminals).toEqual([terminal]);
}

/** The run row is finished and released, and its response was stored exactly once. */
async function expectStoredOnce(id: string): Promise<void> {
  // The owner releases the lease just after storing the response (which is what GET shows first).
  const run = await waitFor(async () => {
    const rows = (
      await pool.query<{ status: string; lease_owner: string | null }>(
        'select status, lease_owner from agent_runs where id = $1',
        [id],
      )
    ).rows;
    return rows[0]?.lease_owner === null ? rows : undefined;
  }, 10_000);
  expect(run).toEqual([{ status: 'completed', lease_owner: null }]);
  const stored = await pool.query<{ n: string }>(
    'select count(*) as n from runtime_responses where id = $1',
    [id],
  );
  expect(Number(stored.rows[0]!.n)).toBe(1);
}

async function leaseOwner(id: string): Promise<string | null> {
  const row = await pool.query<{ lease_owner: string | null }>(
    'select lease_owner from agent_runs where id = $1',
    [id],
  );
  return row.rows[0]?.lease_owner ?? null;
}

beforeAll(async () => {
  if (!pgDatabase) return;
  workdir = mkdtempSync(join(tmpdir(), 'switchyard-agent-crash-pg-'));
  configPath = join(workdir, 'config.json');
  mcp = await startMcpServer();
  model = await startScriptedModel();
  pool = new pg.Pool({ connectionString: pgDatabase.url, max: 2 });
  writeFileSync(
    configPath,
    JSON.stringify({
      store: pgDatabase.url,
      logging: { level: 'warn' },
      auth: { masterKey: 'sk-master-crash-pg-test' },
      partners: { openai: { primary: true } },
      keys: [
        { key: KEY, name: 'crash-pg', tenant: 'tenant-crash-pg', project: 'project-crash-pg' },
      ],
      providers: {
        fake: { type: 'openai', partner: 'openai', baseUrl: `${model.url}/v1`, apiKey: 'sk-fake' },
      },
      models: {
        fake: { capabilities: ['tools'], deployments: [{ provider: 'fake', model: 'fake-model' }] },
      },
      runtime: { tools: { allowPrivateNetworks: true, leaseMs: 1500, workerIntervalMs: 250 } },
    }),
  );
}, 60_000);

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(
    children
      .filter((child) => child.exitCode === null && child.signalCode === null)
      .map((child) => once(child, 'exit')),
  );
  await pool?.end();
  await model?.close();
  await mcp?.close();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
  await pgDatabase?.drop();
}, 60_000);

describe.skipIf(!pgDatabase)('crash-safe background runs on Postgres, two processes', () => {
  it('B finishes a run whose process was killed during a model call, repeating no tool call', {
    timeout: 180_000,
  }, async () => {
    // A first: it creates the schema; B then starts on a database that has it.
    const a = await serve();
    const b = await serve();
    const steps = ['m0', 'm1', 'm2', 'm3'].map((tag) => ({ tag, ms: 300 }));
    const id = await startRun(a, steps, 800);

    // Two tool calls done and checkpointed, the third model call (800 ms) in flight: kill -9.
    await waitFor(
      () => (mcp.calls.find((call) => call.args['tag'] === 'm1')?.finished ? true : undefined),
      60_000,
      5,
    );
    await new Promise((resolve) => setTimeout(resolve, 250));
    // B's worker must not have taken a live lease.
    expect(await leaseOwner(id)).toMatch(new RegExp(`^${a.child.pid}-`));
    await kill(a);
    expect(['m0', 'm1', 'm2', 'm3'].map(callsOf)).toEqual([1, 1, 0, 0]);

    const done = await finished(b, id);
    expect(done['status']).toBe('completed');
    expect(['m0', 'm1', 'm2', 'm3'].map(callsOf)).toEqual([1, 1, 1, 1]);
    expect(mcpCalls(done).map((call) => [tagOf(call), call['output'], call['status']])).toEqual([
      ['m0', 'slow done m0', 'completed'],
      ['m1', 'slow done m1', 'completed'],
      ['m2', 'slow done m2', 'completed'],
      ['m3', 'slow done m3', 'completed'],
    ]);
    expect(
      (done['output'] as Item[]).filter((item) => item['type'] === 'mcp_list_tools'),
    ).toHaveLength(1);
    expect(JSON.stringify((done['output'] as Item[]).at(-1))).toContain('final: slow done m3');
    await expectCleanReplay(b, id, 'response.completed');
    await expectStoredOnce(id);
    await kill(b);
  });

  it('B does not repeat a tool call that was in flight when A died; it records it as interrupted and goes on', {
    timeout: 180_000,
  }, async () => {
    const a = await serve();
    const b = await serve();
    const steps = [
      { tag: 't0', ms: 100 },
      { tag: 't1', ms: 100 },
      { tag: 't2', ms: 3000 },
      { tag: 't3', ms: 100 },
    ];
    const id = await startRun(a, steps, 50);

    // The slow third call has reached the MCP server and is running: kill -9.
    await waitFor(
      () => (mcp.calls.some((call) => call.args['tag'] === 't2') ? true : undefined),
      60_000,
      5,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(mcp.calls.find((call) => call.args['tag'] === 't2')!.finished).toBe(false);
    await kill(a);

    const done = await finished(b, id);
    expect(done['status']).toBe('completed');
    // t2 reached the server once (from A) and was never sent again.
    expect(['t0', 't1', 't2', 't3'].map(callsOf)).toEqual([1, 1, 1, 1]);
    expect(
      mcpCalls(done).map((call) => [tagOf(call), call['status'], call['output'] ?? call['error']]),
    ).toEqual([
      ['t0', 'completed', 'slow done t0'],
      ['t1', 'completed', 'slow done t1'],
      ['t2', 'failed', INTERRUPTED],
      ['t3', 'completed', 'slow done t3'],
    ]);
    expect(JSON.stringify((done['output'] as Item[]).at(-1))).toContain('final: slow done t3');
    await expectCleanReplay(b, id, 'response.completed');
    await expectStoredOnce(id);
    await kill(b);
  });

  it('an owner stalled past its lease (SIGSTOP) loses the run to B and, resumed, writes and calls nothing more', {
    timeout: 180_000,
  }, async () => {
    const a = await serve();
    const b = await serve();
    const steps = ['p0', 'p1', 'p2', 'p3'].map((tag) => ({ tag, ms: 200 }));
    const id = await startRun(a, steps, 600);

    // Two tool calls done, the third model call in flight: A freezes (a long GC pause, a stalled VM).
    await waitFor(
      () => (mcp.calls.find((call) => call.args['tag'] === 'p1')?.finished ? true : undefined),
      60_000,
      5,
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    a.child.kill('SIGSTOP');
    try {
      const done = await finished(b, id);
      expect(done['status']).toBe('completed');
      await waitFor(async () => ((await leaseOwner(id)) === null ? true : undefined), 10_000);
    } finally {
      a.child.kill('SIGCONT');
    }
    // A wakes up with the model's answer in its socket and a stale lease: its checkpoint is
    // fenced, so it stops there, without a tool call and without touching the finished run.
    const before = JSON.stringify(
      (await pool.query('select state, events, response from agent_runs where id = $1', [id])).rows,
    );
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(['p0', 'p1', 'p2', 'p3'].map(callsOf)).toEqual([1, 1, 1, 1]);
    expect(
      JSON.stringify(
        (await pool.query('select state, events, response from agent_runs where id = $1', [id]))
          .rows,
      ),
    ).toBe(before);
    const done = (await http(`${a.url}/v1/responses/${id}`, { key: KEY })).json();
    expect(mcpCalls(done).map((call) => [tagOf(call), call['status']])).toEqual(
      ['p0', 'p1', 'p2', 'p3'].map((tag) => [tag, 'completed']),
    );
    await expectCleanReplay(a, id, 'response.completed');
    await expectStoredOnce(id);
    await kill(a);
    await kill(b);
  });

  it('several runs in flight on both processes while one dies: each finishes exactly once', {
    timeout: 240_000,
  }, async () => {
    const a = await serve();
    const b = await serve();
    const runs: Array<{ id: string; on: 'a' | 'b'; tags: string[] }> = [];
    for (let index = 0; index < 8; index++) {
      const on = index % 2 === 0 ? 'a' : 'b';
      const tags = [0, 1, 2, 3].map((step) => `r${index}s${step}`);
      const id = await startRun(
        on === 'a' ? a : b,
        tags.map((tag) => ({ tag, ms: 250 })),
        300,
      );
      runs.push({ id, on, tags });
    }
    const onA = runs.filter((run) => run.on === 'a');

    // Every run on A has two tool calls behind it: kill -9 A wherever its runs are.
    await waitFor(
      () => (onA.every((run) => callsOf(run.tags[1]!) === 1) ? true : undefined),
      90_000,
      5,
    );
    // No lease changed hands while both lived (a run that already ended has released its lease).
    let heldByA = 0;
    for (const run of runs) {
      const owner = await leaseOwner(run.id);
      if (owner !== null)
        expect(owner).toMatch(new RegExp(`^${(run.on === 'a' ? a : b).child.pid}-`));
      if (owner !== null && run.on === 'a') heldByA++;
    }
    // The kill must catch A with runs in flight, or nothing below tests a takeover.
    expect(heldByA).toBeGreaterThan(0);
    await kill(a);

    for (const run of runs) {
      const done = await finished(b, run.id);
      expect(done['status'], run.id).toBe('completed');
      const calls = mcpCalls(done);
      // One mcp_call item per step, in order; the model saw a result for each.
      expect(calls.map(tagOf)).toEqual(run.tags);
      for (const call of calls) {
        const tag = tagOf(call);
        if (call['status'] === 'completed') {
          expect(callsOf(tag), tag).toBe(1);
          expect(call['output']).toBe(`slow done ${tag}`);
        } else {
          // Only a call in flight on A at the kill: sent at most once, never by B.
          expect(run.on, tag).toBe('a');
          expect(call['error']).toBe(INTERRUPTED);
          expect(callsOf(tag), tag).toBeLessThanOrEqual(1);
        }
      }
      expect(calls.filter((call) => call['status'] !== 'completed').length).toBeLessThanOrEqual(1);
      if (run.on === 'b') expect(calls.every((call) => call['status'] === 'completed')).toBe(true);
      await expectCleanReplay(b, run.id, 'response.completed');
      await expectStoredOnce(run.id);
    }
    // No call with a tag of these runs went out twice.
    for (const run of runs)
      for (const tag of run.tags) expect(callsOf(tag), tag).toBeLessThanOrEqual(1);
    await kill(b);
  });
});
