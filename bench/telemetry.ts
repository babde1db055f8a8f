import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { request } from 'undici';
import { validateConfig } from '../src/config/index.js';
import { createCatalog } from '../src/router/catalog.js';
import { createDatabase, migrate } from '../src/store/index.js';
import { backfillRollups } from '../src/telemetry/backfill.js';
import { ensureBuilt, gatewayModule } from './built.js';
import { type Child, processStats, profilerHandlers, serveIpc, startChild } from './ipc.js';
import { load, MASTER_KEY } from './load.js';

/**
 * `npx tsx bench/telemetry.ts`: what telemetry costs, and how fast the dashboard stays with a big
 * store. Reports; never fails.
 *
 * 1. Throughput: gateway processes over one fake upstream — telemetry off (no metrics, no
 *    roll-ups), on with defaults (metrics + roll-ups + trace-context propagation), and on with
 *    traces exported over OTLP to a local sink (sample ratio 1) — loaded in interleaved rounds
 *    in one run, a fresh process per variant and round, the gateway pinned to a core of its own
 *    (see pinning below); req/s and gateway CPU per request for each, and each round's ratio to
 *    the 'off' process next to it. The gateways run the built dist/ (see built.ts).
 *    Same process: one process with an 'off' app and a 'default' app, loaded in turn (sameProcess).
 * 2. Dashboard: BENCH_EVENTS usage events (default 10,000,000) written to SQLite and Postgres
 *    over 30 days, roll-ups rebuilt with the backfill, then the API calls behind each dashboard
 *    page timed in a fresh gateway process (first load and warm).
 *
 * Environment: BENCH_QUICK=1 (short rounds, 200k events), BENCH_EVENTS=n, BENCH_PARTS=hooks,throughput,same-process,dashboard,
 * BENCH_STORES=sqlite,postgres, BENCH_PG (server URL), BENCH_DASHBOARD_KEEP=1, BENCH_DASHBOARD_PAUSE_MS (default 5000), BENCH_DASHBOARD_COLD=1 (restart Postgres, drop the page cache),
 * BENCH_ROUNDS (throughput, default 6), BENCH_VARIANTS (default off,default,traces; also metrics, rollups),
 * BENCH_PIN=0 (no CPU pinning), BENCH_PROFILE=dir (CPU profiles of the last round), BENCH_SOURCE=1 (run src/ through tsx).
 */

/** CPUs this runner may use, read before it pins itself (see cpuPinning). */
const CPUS = availableParallelism();
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'claude-sonnet', 'gpt-oss-120b'];
const CLOUDS = ['azure', 'aws', 'openai'];
const SPAN = 30 * 86_400_000;

const MODE = process.env['TELEMETRY_BENCH_CHILD'];
if (MODE === 'dashboard') await dashboardChild();
else if (MODE) await child(MODE);
else await main();

/**
 * A gateway child: createApp over the fake upstream for each telemetry variant named (comma
 * separated; several apps in one process for the same-process comparison), each with its own store.
 */
async function child(names: string) {
  const directory = mkdtempSync(join(tmpdir(), 'switchyard-bench-telemetry-'));
  const variants: Record<string, object> = { off: { metrics: false, rollups: false }, default: {}, metrics: { rollups: false }, rollups: { metrics: false }, traces: { otlpEndpoint: process.env['BENCH_OTLP_URL']!, sampleRatio: 1 } };
  const { createApp } = await gatewayModule<typeof import('../src/app.js')>('app.js');
  const { validateConfig } = await gatewayModule<typeof import('../src/config/index.js')>('config/index.js');
  const apps: Array<Awaited<ReturnType<typeof createApp>>> = [];
  const urls: Record<string, string> = {};
  for (const variant of names.split(',')) {
    const telemetry = variants[variant];
    if (!telemetry) throw new Error(`unknown telemetry variant ${variant}`);
    const config = validateConfig({
      store: `sqlite:${join(directory, `${variant}.db`)}`,
      auth: { masterKey: MASTER_KEY },
      logging: { level: 'warn' },
      telemetry,
      providers: { fake: { type: 'openai', baseUrl: `${process.env['BENCH_UPSTREAM_URL']}/v1`, apiKey: 'sk-upstream' } },
      models: { 'bench-model': { price: { input: '0.15', output: '0.60' }, deployments: [{ provider: 'fake', model: 'gpt-bench', cost: { input: '0.1', output: '0.4' } }] } },
    });
    const app = await createApp({ config });
    apps.push(app);
    urls[variant] = (await app.listen(0, '127.0.0.1')).url;
  }
  serveIpc(Object.values(urls)[0]!, {
    stats: () => processStats(false),
    urls: () => urls,
    ...profilerHandlers(),
    async shutdown() {
      for (const app of apps) await app.close();
      rmSync(directory, { recursive: true, force: true });
      setImmediate(() => process.exit(0));
      return {};
    },
  });
}

async function main() {
  const quick = process.env['BENCH_QUICK'] === '1';
  const parts = new Set((process.env['BENCH_PARTS'] ?? 'hooks,throughput,same-process,dashboard').split(','));
  if (parts.has('hooks')) await hooks(quick ? 20_000 : 200_000);
  if (parts.has('throughput')) await throughput(quick);
  if (parts.has('same-process')) await sameProcess(quick);
  if (parts.has('dashboard')) await dashboard(Number(process.env['BENCH_EVENTS'] ?? (quick ? 200_000 : 10_000_000)), (process.env['BENCH_STORES'] ?? 'sqlite,postgres').split(','));
}

/**
 * CPU time of the telemetry hooks alone per request (default settings: metrics, roll-ups,
 * trace-context propagation), in process: the HTTP hook, request start/end, one attempt. This is
 * the figure least disturbed by other load on the machine.
 */
async function hooks(count: number) {
  const directory = mkdtempSync(join(tmpdir(), 'switchyard-bench-hooks-'));
  // The built modules, as the gateway processes run them (see built.ts).
  ensureBuilt();
  const { createTelemetry } = await gatewayModule<typeof import('../src/telemetry/index.js')>('telemetry/index.js');
  const { createHealthTracker } = await gatewayModule<typeof import('../src/router/health.js')>('router/health.js');
  const { createCatalog } = await gatewayModule<typeof import('../src/router/catalog.js')>('router/catalog.js');
  const { createDatabase, migrate } = await gatewayModule<typeof import('../src/store/index.js')>('store/index.js');
  const { validateConfig } = await gatewayModule<typeof import('../src/config/index.js')>('config/index.js');
  const config = validateConfig({
    store: `sqlite:${join(directory, 'store.db')}`,
    providers: { azure: { type: 'azure-openai', partner: 'azure', baseUrl: 'http://127.0.0.1:9', apiKey: 'x' } },
    partners: { azure: {} },
    models: { m: { price: { input: '0.15', output: '0.6' }, deployments: [{ provider: 'azure', model: 'm', cost: { input: '0.1', output: '0.4' } }] } },
  });
  const database = await createDatabase(config.store);
  await migrate(database);
  const telemetry = await createTelemetry({ config, catalog: createCatalog(config), health: createHealthTracker(Date.now), database, clock: Date.now });
  const observer = telemetry.observer!;
  const request = { method: 'POST', url: '/v1/chat/completions', headers: {} as Record<string, string> };
  const once = (i: number) => {
    const requestId = `req_${i}`;
    const http = telemetry.http.requestStart(request, requestId);
    const scope = observer.requestStart({ requestId, surface: 'openai-chat', operation: 'chat', model: 'm', stream: true, started: Date.now(), internal: false });
    const attempt = observer.attemptStart({ requestId, operation: 'chat', deployment: 'azure', providerType: 'azure-openai', partner: 'azure', upstreamModel: 'm', propagateHeaders: scope.headers });
    attempt.end({ status: 200, errorClass: null, code: null, ms: 40 });
    scope.firstToken(40);
    scope.end({ requestId, createdAt: Date.now(), tenantId: `t${i % 20}`, projectId: 'p', keyId: `k${i % 200}`, surface: 'openai-chat', modelRequested: 'm', model: 'm', deployment: 'azure', upstreamModel: 'm', partner: 'azure', attempts: 1, attemptLog: [], inputTokens: 1200, cachedInputTokens: 0, outputTokens: 300, reasoningTokens: 0, latencyMs: 400, ttfbMs: 40, status: 'ok', httpStatus: 200, errorCode: null, stream: true, sandbox: false, metadata: null });
    http?.end(200);
  };
  for (let i = 0; i < 20_000; i++) once(i); // warm-up
  await telemetry.rollups?.flush();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    once(i);
    if (i % 5000 === 0) await telemetry.rollups?.flush(); // as the 5 s timer would under load
  }
  await telemetry.rollups?.flush();
  const used = process.cpuUsage(cpu);
  const wall = performance.now() - started;
  console.log(`\nTelemetry hooks, default settings: ${(((used.user + used.system) / count)).toFixed(1)} µs CPU per request (${(wall * 1000 / count).toFixed(1)} µs wall; ${count.toLocaleString()} requests, roll-up flushes included)`);
  await telemetry.close();
  await database.close();
  rmSync(directory, { recursive: true, force: true });
}

async function throughput(quick: boolean) {
  const sink = createServer((req, res) => req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')));
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const otlp = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`;
  const pin = cpuPinning();
  const fake = await startChild('./fake-upstream.ts');
  let pinned = pin !== undefined && pin(fake.process.pid, 0);
  const variants = (process.env['BENCH_VARIANTS'] ?? 'off,default,traces').split(',');
  if (variants[0] !== 'off') variants.unshift('off');
  const rounds = quick ? 1 : Number(process.env['BENCH_ROUNDS'] ?? 6);
  const seconds = quick ? 2 : 6;
  const results = new Map<string, { rps: number[]; cpuUs: number[] }>(variants.map((variant) => [variant, { rps: [], cpuUs: [] }]));
  try {
    for (let round = 0; round < rounds; round++) {
      // Interleaved, so drift on a shared machine hits every variant alike; a fresh process per
      // variant and round, because two processes of one build differ by several per cent for
      // the whole of their lives (heap layout, JIT decisions), which only many processes average out.
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        const gateway = await startChild('./telemetry.ts', { env: { TELEMETRY_BENCH_CHILD: variant, BENCH_UPSTREAM_URL: fake.url, BENCH_OTLP_URL: otlp } });
        try {
          pinned &&= pin!(gateway.process.pid, 1);
          await load(gateway.url, { connections: 20, seconds: quick ? 1 : 3 }); // warm-up
          const profile = process.env['BENCH_PROFILE'] && round === rounds - 1;
          if (profile) await gateway.call('profile-start');
          const before = await gateway.call<{ cpuUserUs: number; cpuSystemUs: number }>('stats');
          const result = await load(gateway.url, { connections: 20, seconds });
          const after = await gateway.call<{ cpuUserUs: number; cpuSystemUs: number }>('stats');
          if (profile) await gateway.call('profile-stop', { path: join(process.env['BENCH_PROFILE']!, `telemetry-${variant}.cpuprofile`) });
          const cpu = after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs;
          results.get(variant)!.rps.push(result.rps);
          results.get(variant)!.cpuUs.push(cpu / Math.max(1, result.ok + result.non2xx));
          process.stderr.write(`[telemetry bench] round ${round + 1} ${variant}: ${result.rps.toFixed(0)} req/s, ${(cpu / Math.max(1, result.ok)).toFixed(0)} µs CPU/req, ${result.non2xx + result.errors} failed\n`);
        } finally {
          await gateway.stop();
        }
      }
    }
  } finally {
    await fake.call('shutdown').catch(() => {});
    sink.close();
  }
  process.stderr.write(pinned ? '[telemetry bench] pinned: runner and fake upstream on CPU 0, the gateway (all threads) on CPU 1\n' : '[telemetry bench] not pinned (needs taskset and 2 CPUs; BENCH_PIN=0 turns it off)\n');
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const off = results.get('off')!;
  console.log('\nTelemetry overhead (non-streaming chat, 20 connections, median of rounds)');
  console.log('variant   req/s    vs off   CPU µs/req   vs off');
  for (const variant of variants) {
    const { rps, cpuUs } = results.get(variant)!;
    const rpsDelta = (median(rps) / median(off.rps) - 1) * 100;
    const cpuDelta = (median(cpuUs) / median(off.cpuUs) - 1) * 100;
    console.log(`${variant.padEnd(8)} ${median(rps).toFixed(0).padStart(6)}  ${rpsDelta.toFixed(1).padStart(6)}%   ${median(cpuUs).toFixed(0).padStart(9)}   ${cpuDelta.toFixed(1).padStart(6)}%`);
  }
  // Paired: each round's variant against the 'off' run next to it, so load drift between rounds cancels.
  for (const variant of variants.filter((name) => name !== 'off')) {
    const { rps, cpuUs } = results.get(variant)!;
    const rpsRatios = rps.map((value, round) => (value / off.rps[round]! - 1) * 100);
    const cpuRatios = cpuUs.map((value, round) => (value / off.cpuUs[round]! - 1) * 100);
    console.log(`paired per round, ${variant} vs off: req/s ${rpsRatios.map((value) => `${value.toFixed(1)}%`).join(' ')} (median ${median(rpsRatios).toFixed(1)}%); CPU/req ${cpuRatios.map((value) => `${value.toFixed(1)}%`).join(' ')} (median ${median(cpuRatios).toFixed(1)}%)`);
  }
}

/**
 * The same comparison inside one process: an app with telemetry off and one with defaults side
 * by side, loaded in turn for many short rounds. Process-to-process differences (heap layout,
 * JIT decisions) cancel; the price is that the two apps share compiled code, so call sites the
 * telemetry hooks make polymorphic are polymorphic for 'off' too.
 */
async function sameProcess(quick: boolean) {
  const pin = cpuPinning();
  const fake = await startChild('./fake-upstream.ts');
  const gateway = await startChild('./telemetry.ts', { env: { TELEMETRY_BENCH_CHILD: 'off,default', BENCH_UPSTREAM_URL: fake.url } });
  const pinned = pin !== undefined && pin(fake.process.pid, 0) && pin(gateway.process.pid, 1);
  const urls = await gateway.call<Record<string, string>>('urls');
  const rounds = quick ? 2 : Number(process.env['BENCH_ROUNDS'] ?? 12);
  const seconds = quick ? 1 : 4;
  const results = { off: { rps: [] as number[], cpuUs: [] as number[] }, default: { rps: [] as number[], cpuUs: [] as number[] } };
  try {
    for (const variant of ['off', 'default'] as const) await load(urls[variant]!, { connections: 20, seconds: quick ? 1 : 4 }); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const variant of round % 2 === 0 ? (['off', 'default'] as const) : (['default', 'off'] as const)) {
        const before = await gateway.call<{ cpuUserUs: number; cpuSystemUs: number }>('stats');
        const result = await load(urls[variant]!, { connections: 20, seconds });
        const after = await gateway.call<{ cpuUserUs: number; cpuSystemUs: number }>('stats');
        results[variant].rps.push(result.rps);
        results[variant].cpuUs.push((after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / Math.max(1, result.ok + result.non2xx));
      }
    }
  } finally {
    await gateway.stop();
    await fake.call('shutdown').catch(() => {});
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const rpsRatios = results.default.rps.map((value, round) => (value / results.off.rps[round]! - 1) * 100);
  const cpuRatios = results.default.cpuUs.map((value, round) => (value / results.off.cpuUs[round]! - 1) * 100);
  console.log(`\nTelemetry overhead in one process (${rounds} rounds of ${seconds} s per app${pinned ? ', pinned' : ''}): off ${median(results.off.rps).toFixed(0)} req/s ${median(results.off.cpuUs).toFixed(0)} µs CPU/req, default ${median(results.default.rps).toFixed(0)} req/s ${median(results.default.cpuUs).toFixed(0)} µs CPU/req`);
  console.log(`paired per round, default vs off: req/s median ${median(rpsRatios).toFixed(1)}% (${rpsRatios.map((value) => value.toFixed(1)).join(' ')}); CPU/req median ${median(cpuRatios).toFixed(1)}% (${cpuRatios.map((value) => value.toFixed(1)).join(' ')})`);
}

/**
 * Pins the load generator and the fake upstream to CPU 0 and each gateway to CPU 1, so the
 * gateway under load has a core of its own and its throughput is set by its own CPU per
 * request, not by where the scheduler put three busy processes on two cores. `pin(pid, cpu)`
 * returns false when it could not (no taskset, fewer than 2 CPUs, BENCH_PIN=0); the runner's
 * CPU count is read once at load, before it pins itself, since pinning shrinks what
 * `availableParallelism` sees (and children started later inherit the runner's CPU).
 */
function cpuPinning(): ((pid: number | undefined, cpu: number) => boolean) | undefined {
  if (process.env['BENCH_PIN'] === '0' || CPUS < 2) return undefined;
  // `taskset -a` fails when one of the process's threads ends while it walks them: try again.
  const pin = (pid: number | undefined, cpu: number) => pid !== undefined && [1, 2, 3].some(() => spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0);
  return pin(process.pid, 0) ? pin : undefined;
}

/** The dashboard bench's config: three clouds serving four models, one partner with a revenue share. */
function dashboardConfig(store: string) {
  return validateConfig({
    store,
    auth: { masterKey: MASTER_KEY },
    logging: { level: 'warn' },
    partners: { azure: { primary: true, revenueShare: { rate: '0.2', cap: '1000000', from: '2020-01-01', until: '2031-01-01' } }, aws: {}, openai: {} },
    providers: Object.fromEntries(CLOUDS.map((cloud) => [cloud, { type: 'openai', partner: cloud, baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'x' }])),
    models: Object.fromEntries(MODELS.map((name) => [name, { price: { input: '0.5', output: '1.5' }, deployments: CLOUDS.map((cloud) => ({ provider: cloud, model: name })) }])),
  });
}

/** A dashboard gateway child: a fresh process over the bench store, as after a restart. */
async function dashboardChild() {
  const { createApp } = await gatewayModule<typeof import('../src/app.js')>('app.js');
  const app = await createApp({ config: dashboardConfig(process.env['BENCH_STORE']!) });
  const { url } = await app.listen(0, '127.0.0.1');
  serveIpc(url, {
    stats: () => processStats(false),
    async shutdown() {
      await app.close();
      setImmediate(() => process.exit(0));
      return {};
    },
  });
}

/**
 * The dashboard on each store: `events` usage events over 30 days (20 tenants, 200 keys, 4 models,
 * 3 clouds), roll-ups rebuilt with the backfill, then a fresh gateway process and each page's API
 * calls as the browser makes them (sequential where the page awaits, parallel where it uses
 * Promise.all): the first load of every page in the fresh process, then warm loads.
 *
 * BENCH_DASHBOARD_KEEP=1 keeps the data ($TMPDIR/switchyard-bench-dashboard-<n>.db, Postgres
 * database switchyard_bench_dashboard_<n>) and reuses it on the next run.
 */
async function dashboard(events: number, stores: string[]) {
  for (const kind of stores) {
    const { store, drop } = kind === 'postgres' ? await postgresStore(events) : sqliteStore(events);
    try {
      const config = dashboardConfig(store);
      const database = await createDatabase(store);
      await migrate(database);
      const have = Number((await sql<{ n: number | string }>`select count(*) as n from usage_events`.execute(database.db)).rows[0]!.n);
      const rolled = Number((await sql<{ n: number | string }>`select count(*) as n from telemetry_usage_rollups`.execute(database.db)).rows[0]!.n);
      const now = Date.now();
      console.log(`\nDashboard on ${kind} with ${events.toLocaleString()} usage events (30 days, 200 keys in 60 projects of 20 tenants, 4 models, 3 clouds)`);
      if (have !== events || rolled === 0) {
        await sql`delete from usage_events`.execute(database.db);
        await sql`delete from telemetry_usage_rollups`.execute(database.db);
        let started = performance.now();
        if (kind === 'postgres') await writePostgres(database, events, now);
        else await writeSqlite(store.slice('sqlite:'.length), events, now);
        console.log(`  write events: ${((performance.now() - started) / 1000).toFixed(1)} s`);
        started = performance.now();
        const result = await backfillRollups({ database, catalog: createCatalog(config), from: now - SPAN - 86_400_000, to: now });
        console.log(`  roll-up backfill: ${((performance.now() - started) / 1000).toFixed(1)} s for ${result.events.toLocaleString()} events`);
        // Postgres' autovacuum would have analysed a table this size; SQLite has no such thing and
        // the dashboard must not need it, so its store is left without planner statistics.
        if (kind === 'postgres') await sql`analyze`.execute(database.db);
      } else {
        console.log('  (reusing the kept store; its events end at the time it was written)');
      }
      await database.close();
      if (process.env['BENCH_DASHBOARD_COLD'] === '1') coldCaches(kind);
      await timePages(store);
    } finally {
      await drop();
    }
  }
}

function sqliteStore(events: number): { store: string; drop: () => Promise<void> } {
  const keep = process.env['BENCH_DASHBOARD_KEEP'] === '1';
  if (keep) return { store: `sqlite:${join(tmpdir(), `switchyard-bench-dashboard-v2-${events}.db`)}`, drop: async () => {} };
  const directory = mkdtempSync(join(tmpdir(), 'switchyard-bench-dashboard-'));
  return { store: `sqlite:${join(directory, 'store.db')}`, drop: async () => rmSync(directory, { recursive: true, force: true }) };
}

async function postgresStore(events: number): Promise<{ store: string; drop: () => Promise<void> }> {
  const keep = process.env['BENCH_DASHBOARD_KEEP'] === '1';
  const server = process.env['BENCH_PG'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = keep ? `switchyard_bench_dashboard_v2_${events}` : `switchyard_bench_dashboard_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  const exists = (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount! > 0;
  if (!exists) await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    store: url.toString(),
    async drop() {
      if (keep) return;
      const client = new pg.Client({ connectionString: server });
      await client.connect();
      await client.query(`drop database if exists "${name}" with (force)`);
      await client.end();
    },
  };
}

/** Events evenly over the 30 days before `now`, oldest first (as a live store grows). */
async function writeSqlite(file: string, events: number, now: number) {
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = OFF');
  const insert = sqlite.prepare(`insert into usage_events (request_id, created_at, tenant_id, project_id, key_id, surface, model_requested, model, deployment, upstream_model, partner, attempts, attempt_log, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, latency_ms, ttfb_ms, status, http_status, error_code, stream, sandbox, metadata) values (?, ?, ?, ?, ?, 'openai-chat', ?, ?, ?, ?, ?, 1, '[]', ?, 0, ?, 0, ?, ?, ?, ?, ?, ?, 0, null)`);
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const batch = sqlite.transaction((from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      const key = Math.floor(random() * 200);
      const tenant = key % 20; // a key belongs to one project of one tenant
      const model = MODELS[Math.floor(random() * 4)]!;
      const deployment = CLOUDS[Math.floor(random() * 3)]!;
      const error = random() < 0.02;
      const stream = random() < 0.5;
      const latency = Math.floor(50 + random() * random() * 4000);
      insert.run(`req_${String(i).padStart(10, '0')}`, now - SPAN + Math.floor((i / events) * SPAN), `tenant-${tenant}`, `project-${tenant}-${key % 3}`, `key_${key}`, model, model, deployment, model, deployment, error ? 0 : Math.floor(random() * 2000), error ? 0 : Math.floor(random() * 800), latency, stream ? Math.floor(latency / 4) : null, error ? 'error' : 'ok', error ? 502 : 200, error ? 'upstream_unreachable' : null, stream ? 1 : 0);
    }
  });
  for (let done = 0; done < events; done += 100_000) {
    batch(done, Math.min(100_000, events - done));
    if (done % 1_000_000 === 0) process.stderr.write(`[telemetry bench] ${done.toLocaleString()} / ${events.toLocaleString()} events written\n`);
  }
  sqlite.close();
}

/** The same distribution generated by Postgres itself, a million rows per statement. */
async function writePostgres(database: Awaited<ReturnType<typeof createDatabase>>, events: number, now: number) {
  await sql`select setseed(0.42)`.execute(database.db);
  for (let done = 0; done < events; done += 1_000_000) {
    const last = Math.min(events, done + 1_000_000) - 1;
    await sql`insert into usage_events (request_id, created_at, tenant_id, project_id, key_id, surface, model_requested, model, deployment, upstream_model, partner, attempts, attempt_log, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, latency_ms, ttfb_ms, status, http_status, error_code, stream, sandbox, metadata)
      select 'req_' || lpad(g::text, 10, '0'), ${now - SPAN}::bigint + (g * ${SPAN}::bigint / ${events}::bigint), 'tenant-' || t, 'project-' || t || '-' || (k % 3), 'key_' || k, 'openai-chat', m, m, d, m, d, 1, '[]',
        case when e then 0 else floor(r1 * 2000)::bigint end, 0, case when e then 0 else floor(r2 * 800)::bigint end, 0, latency, case when s then latency / 4 end,
        case when e then 'error' else 'ok' end, case when e then 502 else 200 end, case when e then 'upstream_unreachable' end, case when s then 1 else 0 end, 0, null
      from (select g, k % 20 as t, k,  (array['gpt-4o-mini', 'gpt-4o', 'claude-sonnet', 'gpt-oss-120b'])[1 + floor(random() * 4)::int] as m,
        (array['azure', 'aws', 'openai'])[1 + floor(random() * 3)::int] as d, random() < 0.02 as e, random() < 0.5 as s, 50 + floor(random() * random() * 4000)::int as latency, random() as r1, random() as r2
        from (select g, floor(random() * 200)::int as k from generate_series(${done}::bigint, ${last}::bigint) as g) as keys) as x`.execute(database.db);
    process.stderr.write(`[telemetry bench] ${(last + 1).toLocaleString()} / ${events.toLocaleString()} events written\n`);
  }
}

/**
 * BENCH_DASHBOARD_COLD=1: first loads as after a reboot. Restarts Postgres (its shared buffers
 * empty) and drops the kernel's page cache, so the first queries read the store from disk. Needs
 * root and a Debian Postgres cluster (pg_ctlcluster); says so and goes on warm when it cannot.
 */
function coldCaches(kind: string) {
  if (kind === 'postgres') {
    const version = spawnSync('sh', ['-c', 'ls /etc/postgresql'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
    const restart = version ? spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], { stdio: 'ignore' }) : undefined;
    console.log(restart?.status === 0 ? '  (Postgres restarted)' : '  (could not restart Postgres: its buffers stay warm)');
  }
  const dropped = spawnSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' }).status === 0;
  console.log(dropped ? '  (page cache dropped: first loads read from disk)' : '  (could not drop the page cache: needs root)');
}

/** Each page's API calls in a fresh gateway process: first loads, then warm loads. */
async function timePages(store: string) {
  const gateway = await startChild('./telemetry.ts', { env: { TELEMETRY_BENCH_CHILD: 'dashboard', BENCH_STORE: store } });
  const get = async (path: string) => {
    const response = await request(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    await response.body.text();
    if (response.statusCode !== 200 && response.statusCode !== 404) throw new Error(`${path}: ${response.statusCode}`);
  };
  // A page is a list of steps; the calls in one step run in parallel, as the page's Promise.all does.
  const usage = (filter: string): string[][] => [['/admin/v1/usage/dimensions'], [`/admin/v1/metrics/summary?${filter}&top=none`, `/admin/v1/usage/events?${filter}&limit=50`]];
  const pages: Record<string, string[][]> = {
    'sign-in': [['/ui/', '/ui/app.js', '/ui/style.css'], ['/admin/v1/usage/dimensions']],
    'overview (1h, the default)': [['/admin/v1/metrics/summary?range=1h&top=models,tenants']],
    'overview (24h)': [['/admin/v1/metrics/summary?range=24h&top=models,tenants']],
    'overview (7d)': [['/admin/v1/metrics/summary?range=7d&top=models,tenants']],
    'usage (24h, the default)': usage('range=24h'),
    'usage (30d, all)': usage('range=30d'),
    'usage (30d, one key)': usage('range=30d&key=key_7'),
    'usage (30d, one project)': usage('range=30d&project=project-3-1'),
    'usage (30d, tenant+model+cloud)': usage('range=30d&tenant=tenant-3&model=gpt-4o&deployment=aws'),
    'usage (30d, a key with no traffic)': usage('range=30d&key=key_none'),
    routing: [['/admin/v1/routing']],
    partners: [['/admin/v1/dashboard/partners', '/admin/v1/billing/agreements', '/admin/v1/billing/periods']],
    keys: [['/admin/v1/projects?limit=100'], ['/admin/v1/keys?limit=100']],
    runs: [['/admin/v1/dashboard/responses?limit=50']],
  };
  const load = async (steps: string[][]) => {
    const start = performance.now();
    for (const step of steps) await Promise.all(step.map(get));
    return performance.now() - start;
  };
  try {
    // The first person to open the dashboard after a restart comes seconds later, not the moment
    // the port opens: by default the first loads start once the start-up warm-up has had 5 s
    // (BENCH_DASHBOARD_PAUSE_MS=0 measures from the instant the process listens).
    await new Promise((resolve) => setTimeout(resolve, Number(process.env['BENCH_DASHBOARD_PAUSE_MS'] ?? 5000)));
    const first = new Map<string, number>();
    for (const [name, steps] of Object.entries(pages)) first.set(name, await load(steps));
    console.log('  page                                   first load   warm (median of 5)');
    for (const [name, steps] of Object.entries(pages)) {
      const warm: number[] = [];
      for (let i = 0; i < 5; i++) warm.push(await load(steps));
      warm.sort((a, b) => a - b);
      const ms = first.get(name)!;
      console.log(`  ${name.padEnd(38)} ${ms.toFixed(0).padStart(7)} ms   ${warm[2]!.toFixed(0).padStart(7)} ms${ms > 1000 ? '   (over 1 s)' : ''}`);
    }
  } finally {
    await gateway.call('shutdown').catch(() => {});
  }
}
