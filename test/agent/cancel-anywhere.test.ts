import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import { redisTestUrl, uniquePrefix } from '../helpers/redis.js';
import { http } from '../runtime/helpers.js';
import {
  type ScriptedModel,
  type ServeProcess,
  startMcpServer,
  startScriptedModel,
  type TestMcpServer,
  waitFor,
} from './helpers.js';
import {
  KEY,
  killAll,
  type Replica,
  replay,
  replicaConfig,
  startReplica,
  startRun,
  stop,
} from './process-rig.js';

/**
 * Cancel from any replica, as real processes on one Postgres database:
 * - the owner is alive: the cancel reaches it over Postgres LISTEN/NOTIFY (no Redis) or Redis
 *   pub/sub. The replicas' leases are 10 minutes (renewed every 200 s) and the replica that
 *   receives the cancel would wait 10 minutes before taking the run over, so only the message
 *   can end the run within the test;
 * - the owner was killed (kill -9, its lease still held): a replica with the default
 *   `cancelTakeoverMs` takes the run over and cancels it itself.
 * After the cancel, GET (on every replica), the stream replay and input_items agree. The cancel
 * latencies are printed (measurements, not assertions).
 */

const pgDatabase = await pgTestUrl();
if (!pgDatabase) console.warn(PG_SKIP_MESSAGE);
const redisUrl = pgDatabase ? await redisTestUrl() : undefined;
if (pgDatabase && !redisUrl) console.warn('Redis is not reachable: the Redis variant is skipped.');

const LONG = 600_000;
const REDIS_PREFIX = uniquePrefix('cancel-anywhere');
let workdir: string;
let mcp: TestMcpServer;
let model: ScriptedModel;
let pool: pg.Pool | undefined;
const children: ServeProcess[] = [];

beforeAll(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'switchyard-cancel-'));
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

const client = (replica: Replica) =>
  new OpenAI({ baseURL: `${replica.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 120_000 });

const config = (name: string, tools: Record<string, unknown>, redis?: string) =>
  replicaConfig({
    store: pgDatabase!.url,
    modelUrl: model.url,
    server: { replicaId: name },
    tools: { leaseMs: LONG, workerIntervalMs: 60_000, ...tools },
    ...(redis ? { redis: { url: redis, prefix: REDIS_PREFIX } } : {}),
  });

/** Starts a run on `owner` whose tool call (`tag`) runs for 20 s, and waits until it does. */
async function runningTool(owner: Replica, tag: string): Promise<string> {
  const id = await startRun(owner, mcp, [{ tag, ms: 20_000 }], 20);
  await waitFor(
    () => (mcp.calls.some((call) => call.args['tag'] === tag) ? true : undefined),
    60_000,
    20,
  );
  return id;
}

/** Every read through every replica says cancelled, and the run row is ended and released. */
async function expectCancelledEverywhere(id: string, readers: Replica[]): Promise<void> {
  for (const reader of readers) {
    const got = await client(reader).responses.retrieve(id);
    expect(got.status, `GET through ${reader.name}`).toBe('cancelled');
    const events = await replay(reader, id);
    expect(events.sequence).toEqual(events.sequence.map((_, index) => index));
    // A cancelled run ends its stream with response.failed carrying the cancelled Response.
    expect(events.terminals).toEqual(['response.failed']);
    expect((events.last['response'] as { status: string }).status).toBe('cancelled');
    const items = await http(`${reader.url}/v1/responses/${id}/input_items`, { key: KEY });
    expect(items.status, items.text).toBe(200);
  }
  const row = await pool!.query<{ status: string; lease_owner: string | null }>(
    'select status, lease_owner from agent_runs where id = $1',
    [id],
  );
  expect(row.rows).toEqual([{ status: 'cancelled', lease_owner: null }]);
}

describe.skipIf(!pgDatabase)('cancel through a replica that does not own the run', () => {
  let owner: Replica;
  let via: Replica;
  let rescuer: Replica;

  beforeAll(async () => {
    // The owner first: it creates the schema.
    owner = await startReplica(workdir, 'owner', config('owner', {}), children);
    [via, rescuer] = await Promise.all([
      startReplica(workdir, 'via', config('via', { cancelTakeoverMs: LONG }), children),
      startReplica(workdir, 'rescuer', config('rescuer', {}), children),
    ]);
  }, 400_000);

  it('reaches the live owner over Postgres LISTEN/NOTIFY', { timeout: 120_000 }, async () => {
    // Twice: the first cancel of a fresh process includes its warm-up.
    const times: number[] = [];
    for (const tag of ['notify-1', 'notify-2']) {
      const id = await runningTool(owner, tag);
      const started = Date.now();
      const cancelled = await client(via).responses.cancel(id);
      times.push(Date.now() - started);
      expect(cancelled.status).toBe('cancelled');
      await expectCancelledEverywhere(id, [via, owner, rescuer]);
    }
    console.info(
      `[cancel] through a non-owner, Postgres NOTIFY: answered cancelled in ${times.join(' ms, then ')} ms`,
    );
  });

  it('takes the run over and cancels it when its owner was killed', {
    timeout: 120_000,
  }, async () => {
    const id = await runningTool(owner, 'dead-1');
    expect(await stop(owner, 'SIGKILL')).toBe(null);
    const started = Date.now();
    const cancelled = await client(rescuer).responses.cancel(id);
    const ms = Date.now() - started;
    expect(cancelled.status).toBe('cancelled');
    await expectCancelledEverywhere(id, [rescuer, via]);
    console.info(
      `[cancel] owner killed (its lease had ~10 min left): taken over and cancelled in ${ms} ms`,
    );
  });
});

describe.skipIf(!pgDatabase || !redisUrl)('cancel through a non-owner, with Redis', () => {
  let owner: Replica;
  let via: Replica;

  beforeAll(async () => {
    owner = await startReplica(
      workdir,
      'redis-owner',
      config('redis-owner', {}, redisUrl),
      children,
    );
    via = await startReplica(
      workdir,
      'redis-via',
      config('redis-via', { cancelTakeoverMs: LONG }, redisUrl),
      children,
    );
  }, 400_000);

  it('reaches the live owner over Redis pub/sub', { timeout: 120_000 }, async () => {
    const times: number[] = [];
    for (const tag of ['redis-1', 'redis-2']) {
      const id = await runningTool(owner, tag);
      const started = Date.now();
      const cancelled = await client(via).responses.cancel(id);
      times.push(Date.now() - started);
      expect(cancelled.status).toBe('cancelled');
      await expectCancelledEverywhere(id, [via, owner]);
    }
    console.info(
      `[cancel] through a non-owner, Redis pub/sub: answered cancelled in ${times.join(' ms, then ')} ms`,
    );
  });
});
