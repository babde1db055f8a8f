import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology, type Topology } from '../../scripts/topology.js';
import { MIGRATIONS } from '../../src/store/index.js';
import { call } from '../helpers/gateway.js';
import { pgTestUrl } from '../helpers/postgres.js';
import { redisTestUrl } from '../helpers/redis.js';

/**
 * The production topology proven on this machine (scripts/topology.ts): three `switchyard serve`
 * processes behind haproxy, Postgres through PgBouncer in transaction mode, Redis. Started all at
 * once, the migrations run once; state and limits are shared; a rolling restart under load costs
 * clients nothing, and every answered request has exactly one usage row.
 */

function missingTools(): string[] {
  return ['haproxy', 'pgbouncer'].filter(
    (tool) => spawnSync(tool, ['-V'], { stdio: 'ignore' }).error !== undefined,
  );
}

const missing = missingTools();
const servers = await (async () => {
  try {
    const database = await pgTestUrl();
    await database?.drop();
    return database !== undefined && (await redisTestUrl()) !== undefined;
  } catch (error) {
    if (process.env['CI']) throw error;
    return false;
  }
})();
const skip = (missing.length > 0 || !servers) && !process.env['CI'];
if (skip)
  console.warn(
    `skipping the topology test: ${missing.length > 0 ? `${missing.join(' and ')} not installed (apt-get install -y haproxy pgbouncer)` : 'Postgres or Redis unreachable (see test/helpers/postgres.ts, redis.ts)'}`,
  );

describe.skipIf(skip)('three replicas behind haproxy, PgBouncer (transaction mode), Redis', () => {
  let topology: Topology;
  let direct: pg.Pool;
  beforeAll(async () => {
    expect(missing, 'haproxy and pgbouncer are installed by .ci/run').toEqual([]);
    topology = await startTopology({ tokenDelayMs: 5 });
    direct = new pg.Pool({ connectionString: topology.databaseUrl, max: 2 });
  }, 300_000);
  afterAll(async () => {
    await direct?.end();
    await topology?.close();
  }, 120_000);

  const admin = (path: string, body: unknown) =>
    call(`${topology.url}/admin/v1${path}`, {
      body,
      headers: { authorization: `Bearer ${topology.masterKey}` },
    });

  it('ran the migrations once when all three started together', async () => {
    const appliers = topology.replicas.filter((replica) =>
      replica.service.lines().some((line) => line.includes('"msg":"migrations applied"')),
    );
    expect(appliers.map((replica) => replica.name)).toHaveLength(1);
    const line = appliers[0]!.service.lines().find((item) => item.includes('migrations applied'))!;
    expect(JSON.parse(line).migrations).toEqual(MIGRATIONS.map((migration) => migration.name));
    const rows = await direct.query('select name from switchyard_migrations order by name');
    expect(rows.rows.map((row) => row.name)).toEqual(MIGRATIONS.map((m) => m.name).sort());
  });

  it('shares keys, limits and stored responses between the replicas', async () => {
    expect((await admin('/tenants', { id: 'topo', name: 'Topology' })).status).toBe(201);
    expect(
      (await admin('/projects', { id: 'topo-app', name: 'App', tenant_id: 'topo' })).status,
    ).toBe(201);
    const key = await admin('/keys', { project_id: 'topo-app', limits: { rpm: 4 } });
    expect(key.status).toBe(201);
    const secret: string = key.body.secret;

    // Six requests spread over the three replicas directly: the one-minute limit of 4 holds
    // across them (the counters live in Redis), so exactly two are refused.
    const statuses: number[] = [];
    for (let index = 0; index < 6; index++) {
      const replica = topology.replicas[index % 3]!;
      const answer = await call(`${replica.url}/v1/chat/completions`, {
        body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'say limited' }] },
        headers: { authorization: `Bearer ${secret}` },
      });
      statuses.push(answer.status);
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(4);
    expect(statuses.filter((status) => status === 429)).toHaveLength(2);

    // A stored response written through one replica is read through the others.
    const [first, second, third] = topology.replicas.map(
      (replica) =>
        new OpenAI({ baseURL: `${replica.url}/v1`, apiKey: topology.masterKey, maxRetries: 0 }),
    );
    const created = await first!.responses.create({
      model: 'gpt-4o-mini',
      input: 'say stored',
      store: true,
    });
    for (const client of [second!, third!]) {
      const read = await client.responses.retrieve(created.id);
      expect(read.id).toBe(created.id);
      expect(read.output_text).toBe(created.output_text);
    }
  });

  it('restarts every replica in turn under load with no client error and one usage row per answer', async () => {
    const client = new OpenAI({
      baseURL: `${topology.url}/v1`,
      apiKey: topology.masterKey,
      // No client retries: an error anywhere must show.
      maxRetries: 0,
      timeout: 60_000,
    });
    const answered: string[] = [];
    const errors: string[] = [];
    let stop = false;
    const worker = async (index: number) => {
      for (let turn = 0; !stop && turn < 5_000; turn++) {
        try {
          if ((index + turn) % 2 === 0) {
            const { data, response } = await client.chat.completions
              .create({
                model: 'gpt-4o-mini',
                messages: [{ role: 'user', content: `say plain ${index} ${turn}` }],
              })
              .withResponse();
            expect(data.choices[0]?.message.content).toBe(`plain ${index} ${turn}`);
            answered.push(response.headers.get('x-request-id')!);
          } else {
            const { data: stream, response } = await client.chat.completions
              .create({
                model: 'gpt-4o-mini',
                messages: [{ role: 'user', content: `say streamed ${index} ${turn}` }],
                stream: true,
                stream_options: { include_usage: true },
              })
              .withResponse();
            let text = '';
            let usage = false;
            for await (const chunk of stream) {
              text += chunk.choices[0]?.delta.content ?? '';
              if (chunk.usage) usage = true;
            }
            expect(text).toBe(`streamed ${index} ${turn}`);
            expect(usage).toBe(true);
            answered.push(response.headers.get('x-request-id')!);
          }
        } catch (error) {
          errors.push(String(error));
        }
      }
    };
    const workers = Array.from({ length: 4 }, (_, index) => worker(index));
    await waitUntil(() => answered.length >= 20, 60_000);
    const served: number[] = [];
    for (const replica of topology.replicas) {
      const at = answered.length;
      await replica.restart();
      served.push(answered.length - at);
      // Let haproxy's checks see it up (rise 2 × 500 ms) and some traffic reach it.
      const resumed = answered.length;
      await waitUntil(() => answered.length >= resumed + 20, 60_000);
    }
    stop = true;
    await Promise.all(workers);
    console.info(
      `rolling restart: ${answered.length} answers, ${errors.length} client errors; answered while each replica restarted: ${served.join(', ')}`,
    );

    expect(errors).toEqual([]);
    expect(new Set(answered).size).toBe(answered.length);
    expect(answered.length).toBeGreaterThan(80);
    // Requests kept being answered while each replica was down.
    for (const count of served) expect(count).toBeGreaterThan(0);

    // Usage is group-committed: wait until every answered request's row is in, then check.
    const count = async () =>
      Number(
        (
          await direct.query(
            'select count(*) as n from usage_events where request_id = any($1::text[])',
            [answered],
          )
        ).rows[0].n,
      );
    // request_id is the table's primary key, so "at least one" is "exactly one".
    await waitUntil(async () => (await count()) >= answered.length, 60_000);
    expect(await count()).toBe(answered.length);
  }, 600_000);
});

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((wake) => setTimeout(wake, 100));
  }
}
