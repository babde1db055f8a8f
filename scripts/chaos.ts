/**
 * Chaos run: two gateway replicas (real processes) on one Postgres and one Redis, each behind a
 * breakable TCP proxy, under a bounded mixed load (~1 minute) while a schedule of faults is
 * injected: Postgres connections cut (idle, in a usage insert, at COMMIT), Postgres stalled and
 * refusing, Redis stalled and refusing, a replica killed with SIGKILL and one drained with
 * SIGTERM while the store is away. Prints requests answered, errors by class, crashes, usage
 * rows against answered requests and the ledger balance.
 *
 *   CI=true npx tsx scripts/chaos.ts [--seconds 60] [--concurrency 12]
 *
 * Needs Postgres (SWITCHYARD_TEST_PG or 127.0.0.1:5432/test) and Redis (SWITCHYARD_TEST_REDIS or
 * 127.0.0.1:6379). Exit code 1 if anything was lost, unbalanced or crashed.
 *
 * To add a fault: push a step onto `schedule` (at: seconds from start, run: what to do). To add
 * a request kind: add an entry to `KINDS`.
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
import { type GatewayProcess, startGatewayProcess } from '../test/helpers/gateway-process.js';
import { pgTestUrl } from '../test/helpers/postgres.js';
import { redisTestUrl, uniquePrefix } from '../test/helpers/redis.js';
import { startTcpProxy, type TcpProxy } from '../test/helpers/tcp-proxy.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '12' },
  },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const MASTER = 'sk-master-chaos';

/** One request kind of the mixed load. */
interface Kind {
  name: string;
  /** Whether it runs with the virtual key (limits and budgets in Redis) or the master key. */
  virtual: boolean;
  path: string;
  body: unknown;
  stream?: boolean;
}
const prompt = 'count from one to five';
const KINDS: Kind[] = [
  {
    name: 'openai-chat',
    virtual: false,
    path: '/v1/chat/completions',
    body: { model: 'priced', max_tokens: 5, messages: [{ role: 'user', content: prompt }] },
  },
  {
    name: 'openai-chat-vkey',
    virtual: true,
    path: '/v1/chat/completions',
    body: { model: 'priced', max_tokens: 5, messages: [{ role: 'user', content: prompt }] },
  },
  {
    name: 'openai-stream-vkey',
    virtual: true,
    stream: true,
    path: '/v1/chat/completions',
    body: {
      model: 'priced',
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: prompt }],
    },
  },
  {
    name: 'anthropic-messages',
    virtual: false,
    path: '/v1/messages',
    body: { model: 'priced', max_tokens: 5, messages: [{ role: 'user', content: prompt }] },
  },
];

interface Outcome {
  kind: string;
  klass: string;
  requestId?: string;
  ms: number;
  redisFault: boolean;
}

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
  const spoolDir = join(workdir, 'spool');
  const config = {
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
    providers: { up: { type: 'openai', baseUrl: `${emulator.url}/v1`, apiKey: 'sk-up' } },
    models: {
      priced: {
        price: { input: '1', output: '2' },
        deployments: [{ provider: 'up', model: 'gpt-4o-mini' }],
      },
    },
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
    const replica = await startGatewayProcess(workdir, `replica-${index}`, config, {
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
  ].filter((step) => step.at < SECONDS - 3);
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
  log('load done; waiting for the spools to drain');

  // Both replicas up, faults healed: every spooled event must reach the store.
  await pgProxy.restore();
  await redisProxy.restore();
  await Promise.all(starting);
  for (const [index, replica] of replicas.entries())
    if (!replica || !alive(replica)) await start(index);
  const drainDeadline = Date.now() + 60_000;
  while (spoolFiles(spoolDir).length > 0 && Date.now() < drainDeadline)
    await new Promise((done) => setTimeout(done, 250));
  const leftInSpool = spoolFiles(spoolDir);
  for (const replica of replicas) await replica?.terminate();

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

  await emulator.close();
  await pgProxy.close();
  await redisProxy.close();
  await pgDatabase.drop();
  rmSync(workdir, { recursive: true, force: true });
  return crashes === 0 && lost.length === 0 && check.balanced && leftInSpool.length === 0 ? 0 : 1;
}

/** Whether a replica process is running and not being stopped. */
function alive(replica: GatewayProcess): boolean {
  return replica.child.exitCode === null && replica.child.signalCode === null && !replica.told();
}

/** Segments still waiting (rejected.jsonl is an operator's file, counted separately). */
function spoolFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name !== 'rejected.jsonl');
  } catch {
    return [];
  }
}

async function send(port: number, kind: Kind, key: string, redisFault: boolean): Promise<Outcome> {
  const started = performance.now();
  const done = (klass: string, requestId?: string): Outcome => ({
    kind: kind.name,
    klass,
    ms: performance.now() - started,
    redisFault,
    ...(requestId && { requestId }),
  });
  try {
    const response = await fetch(`http://127.0.0.1:${port}${kind.path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(kind.body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await response.text();
    const requestId = response.headers.get('x-request-id') ?? undefined;
    if (response.ok) {
      if (kind.stream && !text.includes('data: [DONE]')) return done('stream cut before [DONE]');
      return done('answered', requestId);
    }
    let code = '';
    try {
      const body = JSON.parse(text) as {
        error?: { code?: string; type?: string; message?: string };
        message?: string;
      };
      code = body.error?.code ?? body.error?.type ?? '';
      // 5xx: the message says which fallback answered (limits, store).
      const message = body.error?.message ?? body.message;
      if (response.status >= 500 && message) code += ` (${message.slice(0, 40)})`;
    } catch {
      // not JSON
    }
    return done(`${response.status} ${code}`.trim());
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    if (cause === 'ECONNREFUSED') return done('connection refused (replica restarting)');
    if (cause === 'UND_ERR_SOCKET' || cause === 'ECONNRESET')
      return done('connection reset (replica killed mid-request)');
    return done(`client error: ${(error as Error).name}`);
  }
}

process.exitCode = await main();
