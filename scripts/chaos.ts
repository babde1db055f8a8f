/**
 * Chaos run: two gateway replicas (real processes) on one Postgres and one Redis, both reached
 * through a breakable TCP proxy, under a bounded mixed load (~90 s) while a schedule of faults
 * is injected:
 * - store and Redis (the first minute): Postgres connections cut (idle, in a usage insert, at
 *   COMMIT), Postgres stalled and refusing, Redis stalled and refusing, a replica killed with
 *   SIGKILL and one drained with SIGTERM while the store is away;
 * - clients (scripts/chaos/client-faults.ts): headers and a body at 1 byte/s, JSON nested
 *   100,000 deep and a tool schema 5,000 deep;
 * - upstream streams (scripts/chaos/stream-faults.ts): truncated, stalled and reset mid-answer;
 * - shutdown and background runs (scripts/chaos/runs.ts): a SIGTERM rolling restart behind a
 *   /readyz balancer, kill -9 with a background run in flight, a cancel through the replica
 *   that does not own the run.
 * Each of the later steps checks its expected outcome. Prints requests answered, errors by
 * class, crashes, usage rows against answered requests, the ledger balance, breaker states and
 * every step's check.
 *
 *   CI=true npx tsx scripts/chaos.ts [--seconds 90] [--concurrency 12]
 *
 * Needs Postgres (SWITCHYARD_TEST_PG or 127.0.0.1:5432/test) and Redis (SWITCHYARD_TEST_REDIS or
 * 127.0.0.1:6379). Exit code 1 if anything was lost, unbalanced or crashed, or a check failed.
 *
 * To add a fault: push a step onto `schedule` (at: seconds from start, run: what to do; record
 * its outcome with `rig.check`). To add a request kind: add an entry to `KINDS` (chaos/load.ts).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createBilling } from '../src/billing/index.js';
import { startOpenAIEmulator } from '../src/sandbox/openai-emulator.js';
import { createDatabase } from '../src/store/index.js';
import { adminClient } from '../test/access/helpers.js';
import { startScriptedModel } from '../test/agent/helpers.js';
import { type GatewayProcess, startGatewayProcess } from '../test/helpers/gateway-process.js';
import { pgTestUrl } from '../test/helpers/postgres.js';
import { redisTestUrl, uniquePrefix } from '../test/helpers/redis.js';
import { startTcpProxy, type TcpProxy } from '../test/helpers/tcp-proxy.js';
import {
  breakerStates,
  CLIENT_LIMITS,
  nestedJson,
  slowBody,
  slowHeaders,
} from './chaos/client-faults.js';
import { KINDS, type Outcome, send } from './chaos/load.js';
import { alive, type Check, type Rig } from './chaos/rig.js';
import { cancelElsewhere, killWithRun, rollingRestart, startMcpServer } from './chaos/runs.js';
import {
  checkStreamRows,
  FAULTS,
  type PendingRow,
  STREAM_IDLE_TIMEOUT_MS,
  startFaultyUpstream,
  streamFault,
} from './chaos/stream-faults.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '90' },
    concurrency: { type: 'string', default: '12' },
  },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const MASTER = 'sk-master-chaos';
const RUN_KEY = 'sk-chaos-runs-tenant-0123456789';

async function main(): Promise<number> {
  const pgDatabase = await pgTestUrl();
  const redisUrl = await redisTestUrl();
  if (!pgDatabase || !redisUrl) {
    console.error('chaos needs Postgres and Redis (see the header of scripts/chaos.ts)');
    return 2;
  }
  const workdir = mkdtempSync(join(tmpdir(), 'switchyard-chaos-'));
  const pgProxy = await startTcpProxy(pgDatabase.url);
  const redisProxy = await startTcpProxy(redisUrl);
  const emulator = await startOpenAIEmulator({ flavor: 'openai' });
  const faulty = await startFaultyUpstream();
  const scripted = await startScriptedModel();
  const mcp = await startMcpServer();
  const spoolDir = join(workdir, 'spool');
  const config = {
    server: {
      ...CLIENT_LIMITS,
      // /readyz says 503 this long after SIGTERM while the listener still serves.
      // Longer than the rolling-restart balancer takes to drop it (2 checks 500 ms apart).
      shutdownDelayMs: 3_000,
      drainTimeoutMs: 20_000,
    },
    store: {
      url: pgProxy.url(pgDatabase.url),
      pool: { size: 5, connectTimeoutMs: 1000, acquireTimeoutMs: 1500, queryTimeoutMs: 3000 },
      spool: { dir: spoolDir, commitTimeoutMs: 1000, replayIntervalMs: 500 },
      readyTimeoutMs: 1000,
    },
    redis: redisProxy.url(redisUrl),
    redisPrefix: uniquePrefix('chaos'),
    auth: { masterKey: MASTER },
    logging: { level: 'error' },
    keys: [{ key: RUN_KEY, name: 'chaos-runs', tenant: 'tenant-chaos', project: 'project-chaos' }],
    providers: {
      up: { type: 'openai', baseUrl: `${emulator.url}/v1`, apiKey: 'sk-up' },
      faulty: { type: 'openai', baseUrl: `${faulty.url}/v1`, apiKey: 'sk-faulty' },
      scripted: { type: 'openai', baseUrl: `${scripted.url}/v1`, apiKey: 'sk-scripted' },
    },
    models: {
      priced: {
        price: { input: '1', output: '2' },
        deployments: [{ provider: 'up', model: 'gpt-4o-mini' }],
      },
      faulty: {
        streamIdleTimeoutMs: STREAM_IDLE_TIMEOUT_MS,
        deployments: [{ provider: 'faulty', model: 'gpt-x' }],
      },
      agent: {
        capabilities: ['tools'],
        deployments: [{ provider: 'scripted', model: 'fake-model' }],
      },
    },
    runtime: { tools: { allowPrivateNetworks: true } },
  };

  const replicas: Array<GatewayProcess | undefined> = [];
  const ports: number[] = [];
  let crashes = 0;
  const starting: Array<Promise<void> | undefined> = [];
  const start = (index: number) => {
    starting[index] ??= startReplica(index).finally(() => {
      starting[index] = undefined;
    });
    return starting[index]!;
  };
  const startReplica = async (index: number) => {
    // A stable replicaId: restarted after kill -9, a replica takes its runs back at once.
    const own = { ...config, server: { ...config.server, replicaId: `replica-${index}` } };
    const replica = await startGatewayProcess(workdir, `replica-${index}`, own, {
      ...(ports[index] !== undefined && { port: ports[index] }),
    });
    ports[index] = replica.port;
    replicas[index] = replica;
    void replica.exited.then(() => {
      if (replica.crashed()) {
        crashes++;
        console.error(`replica ${index} CRASHED:\n${replica.output().slice(-2000)}`);
      }
    });
  };
  await Promise.all([start(0), start(1)]);
  const admin = adminClient(replicas[0]!.url, MASTER);
  const virtualKey = (
    await admin.setup({
      key: {
        limits: { rpm: 100_000 },
        budget: { amount_micros: '1000000000000', period: 'total' },
      },
    })
  ).secret;

  // The fault schedule: seconds from the start of the load.
  let redisFault = false;
  const log = (text: string) =>
    console.log(`[${((performance.now() - began) / 1000).toFixed(1)}s] ${text}`);
  const checks: Check[] = [];
  const direct = new pg.Pool({ connectionString: pgDatabase.url, max: 2 });
  const rig: Rig = {
    replicas,
    start,
    async live(index) {
      await starting[index];
      if (!alive(replicas[index])) await start(index);
      return replicas[index]!;
    },
    pg: direct,
    master: MASTER,
    runKey: RUN_KEY,
    log,
    check(step, ok, detail) {
      checks.push({ step, ok, detail });
      log(`  ${ok ? 'ok  ' : 'FAIL'} ${step}: ${detail}`);
    },
  };
  const pendingRows: PendingRow[] = [];
  const schedule: Array<{ at: number; what: string; run: () => Promise<unknown> | unknown }> = [
    { at: 5, what: 'postgres: cut every connection (idle and busy)', run: () => pgProxy.cutAll() },
    {
      at: 8,
      what: 'postgres: cut a connection inside a usage insert',
      run: () => void pgProxy.cutWhen(/insert into "usage_events"/),
    },
    {
      at: 11,
      what: 'postgres: cut a connection at COMMIT',
      run: () => void pgProxy.cutWhen(/commit/i),
    },
    { at: 14, what: 'postgres: stall', run: () => pgProxy.stall() },
    { at: 18, what: 'postgres: back', run: () => pgProxy.restore() },
    { at: 20, what: 'postgres: refuse', run: () => pgProxy.refuse() },
    { at: 22, what: 'replica 1: kill -9 (store away)', run: () => replicas[1]?.kill9() },
    { at: 25, what: 'postgres: back', run: () => pgProxy.restore() },
    { at: 25, what: 'replica 1: restart', run: () => void start(1).catch(fail) },
    { at: 28, what: 'redis: stall', run: () => stallRedis(redisProxy, true) },
    { at: 32, what: 'redis: back', run: () => stallRedis(redisProxy, false) },
    { at: 35, what: 'postgres: refuse', run: () => pgProxy.refuse() },
    {
      at: 36,
      what: 'replica 0: SIGTERM (store away)',
      run: () => void replicas[0]?.terminate(),
    },
    { at: 39, what: 'postgres: back', run: () => pgProxy.restore() },
    { at: 40, what: 'replica 0: restart', run: () => void start(0).catch(fail) },
    { at: 42, what: 'redis: refuse', run: () => refuseRedis(redisProxy, true) },
    { at: 45, what: 'redis: back', run: () => refuseRedis(redisProxy, false) },
    {
      at: 50,
      what: 'postgres and redis: stall together',
      run: () => {
        pgProxy.stall();
        return stallRedis(redisProxy, true);
      },
    },
    {
      at: 54,
      what: 'postgres and redis: back',
      run: async () => {
        await pgProxy.restore();
        await stallRedis(redisProxy, false);
      },
    },
    // Clients, upstream streams, shutdown and runs: each step checks its outcome (rig.check).
    {
      at: 56,
      what: 'clients: headers at 1 byte/s, a body at 1 byte/s (in the background)',
      run: () => {
        background.push(slowHeaders(rig, 0), slowBody(rig, 1));
      },
    },
    {
      at: 57,
      what: 'clients: JSON nested 100,000 deep, a tool schema nested 5,000 deep',
      run: () => nestedJson(rig, 0),
    },
    {
      at: 60,
      what: 'upstream streams: truncated, stalled, reset mid-answer',
      run: async () => {
        for (const [n, fault] of FAULTS.entries()) {
          const pending = await streamFault(rig, n % 2, fault);
          if (pending) pendingRows.push(pending);
        }
      },
    },
    {
      at: 63,
      what: 'replica 1: SIGTERM rolling restart behind a /readyz balancer',
      run: () => rollingRestart(rig, 1, [0]),
    },
    {
      at: 72,
      what: 'replica 0: kill -9 with a background run in flight, restarted at once',
      run: () => killWithRun(rig, 0, mcp),
    },
    {
      at: 80,
      what: 'cancel through replica 1 of a run owned by replica 0',
      run: () => cancelElsewhere(rig, 0, 1, mcp),
    },
  ].filter((step) => step.at < SECONDS - 3);
  const background: Array<Promise<void>> = [];
  function fail(error: unknown) {
    log(`  failed: ${(error as Error).message.split('\n')[0]}`);
  }
  function stallRedis(proxy: TcpProxy, on: boolean) {
    redisFault = on;
    return on ? proxy.stall() : proxy.restore();
  }
  function refuseRedis(proxy: TcpProxy, on: boolean) {
    redisFault = on;
    return on ? proxy.refuse() : proxy.restore();
  }

  const outcomes: Outcome[] = [];
  const began = performance.now();
  const deadline = began + SECONDS * 1000;
  const faults = (async () => {
    for (const step of schedule) {
      const wait = began + step.at * 1000 - performance.now();
      if (wait > 0) await new Promise((done) => setTimeout(done, wait));
      log(step.what);
      try {
        await step.run();
      } catch (error) {
        log(`  step failed: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  })();
  let counter = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const n = counter++;
      const kind = KINDS[n % KINDS.length]!;
      // Requests go to the replicas that run (a load balancer's health check would do the same).
      const live = replicas.filter((replica) => replica && alive(replica));
      const replica = live[n % Math.max(1, live.length)];
      if (!replica) {
        await new Promise((done) => setTimeout(done, 50));
        continue;
      }
      outcomes.push(await send(replica.port, kind, kind.virtual ? virtualKey : MASTER, redisFault));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await faults;
  await Promise.all(background);
  log('load done; waiting for the spools to drain');

  // Both replicas up, faults healed: every spooled event must reach the store.
  await pgProxy.restore();
  await redisProxy.restore();
  await Promise.all(starting);
  for (const [index, replica] of replicas.entries()) if (!alive(replica)) await start(index);
  const drainDeadline = Date.now() + 60_000;
  while (spoolFiles(spoolDir).length > 0 && Date.now() < drainDeadline)
    await new Promise((done) => setTimeout(done, 250));
  const leftInSpool = spoolFiles(spoolDir);
  const breakers = await breakerStates(rig, 0).catch((error: Error) => [error.message]);
  await checkStreamRows(rig, pendingRows);
  for (const replica of replicas) await replica?.terminate();
  await direct.end();

  // The verdict, read straight from Postgres (not through the proxy).
  const answered = outcomes.filter((outcome) => outcome.klass === 'answered');
  const ids = answered.map((outcome) => outcome.requestId!);
  const client = new pg.Client({ connectionString: pgDatabase.url });
  await client.connect();
  const found = await client.query<{ request_id: string }>(
    'select request_id from usage_events where request_id = any($1)',
    [ids],
  );
  const totalRows = await client.query<{ n: string }>('select count(*) as n from usage_events');
  await client.end();
  const present = new Set(found.rows.map((row) => row.request_id));
  const lost = ids.filter((id) => !present.has(id));
  const database = await createDatabase(pgDatabase.url);
  const check = await createBilling({ config: { models: {}, partners: {} }, database }).check();
  await database.close();

  const classes = new Map<string, number>();
  for (const outcome of outcomes) classes.set(outcome.klass, (classes.get(outcome.klass) ?? 0) + 1);
  const redisLatencies = outcomes
    .filter((outcome) => outcome.redisFault && KINDS.find((k) => k.name === outcome.kind)?.virtual)
    .map((outcome) => outcome.ms)
    .sort((a, b) => a - b);
  const baseline = outcomes
    .filter((outcome) => !outcome.redisFault && KINDS.find((k) => k.name === outcome.kind)?.virtual)
    .map((outcome) => outcome.ms)
    .sort((a, b) => a - b);
  const quantile = (sorted: number[], q: number) =>
    sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const latency = (sorted: number[]) =>
    `${sorted.length} requests, p50 ${quantile(sorted, 0.5).toFixed(0)} ms, p99 ${quantile(sorted, 0.99).toFixed(0)} ms, max ${(sorted.at(-1) ?? 0).toFixed(0)} ms`;

  console.log('\n== chaos result ==');
  console.log(`duration ${SECONDS} s, concurrency ${CONCURRENCY}, 2 replicas`);
  console.log(`requests sent      ${outcomes.length}`);
  console.log(`requests answered  ${answered.length} (2xx, body read to the end)`);
  console.log('errors by class:');
  for (const [klass, count] of [...classes].sort((a, b) => b[1] - a[1]))
    if (klass !== 'answered') console.log(`  ${klass.padEnd(48)} ${count}`);
  console.log(`crashes            ${crashes}`);
  console.log(
    `usage rows         ${present.size} of ${ids.length} answered requests (lost: ${lost.length}); ${totalRows.rows[0]!.n} rows in all`,
  );
  console.log(
    `spool files left   ${leftInSpool.length}${leftInSpool.length ? ` (${leftInSpool.join(', ')})` : ''}`,
  );
  console.log(
    `ledger             ${check.balanced ? 'balanced' : 'UNBALANCED'} (total ${check.total}, unbalanced transactions ${check.unbalanced.length})`,
  );
  console.log(`virtual-key latency, Redis faults: ${latency(redisLatencies)}`);
  console.log(`virtual-key latency, otherwise:    ${latency(baseline)}`);
  console.log(
    `client errors      ${outcomes.length - answered.length} of ${outcomes.length} load requests`,
  );
  console.log(`breakers           ${breakers.join(', ')}`);
  const failed = checks.filter((check) => !check.ok);
  console.log(`checks             ${checks.length - failed.length} of ${checks.length} passed`);
  for (const check of checks)
    console.log(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.step}\n         ${check.detail}`);

  await emulator.close();
  await faulty.close();
  await scripted.close();
  await mcp.close();
  await pgProxy.close();
  await redisProxy.close();
  await pgDatabase.drop();
  rmSync(workdir, { recursive: true, force: true });
  return crashes === 0 &&
    lost.length === 0 &&
    check.balanced &&
    leftInSpool.length === 0 &&
    failed.length === 0
    ? 0
    : 1;
}

/** Segments still waiting (rejected.jsonl is an operator's file, counted separately). */
function spoolFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name !== 'rejected.jsonl');
  } catch {
    return [];
  }
}

process.exitCode = await main();
