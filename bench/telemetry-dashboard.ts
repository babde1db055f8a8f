import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { request } from 'undici';
import { validateConfig } from '../src/config/index.js';
import { createCatalog } from '../src/router/catalog.js';
import { createDatabase, migrate } from '../src/store/index.js';
import { backfillRollups } from '../src/telemetry/backfill.js';
import { gatewayModule } from './built.js';
import { processStats, serveIpc, startChild } from './ipc.js';
import { MASTER_KEY } from './load.js';

/**
 * The dashboard part of `bench/telemetry.ts` (BENCH_PARTS=dashboard): BENCH_EVENTS usage events
 * written to SQLite and Postgres, roll-ups rebuilt, then each page's API calls timed in a fresh
 * gateway process (that file's `dashboard` child mode runs {@link dashboardChild}).
 */

const MODELS = ['gpt-4o-mini', 'gpt-4o', 'claude-sonnet', 'gpt-oss-120b'];
const CLOUDS = ['azure', 'aws', 'openai'];
const SPAN = 30 * 86_400_000;

/** The dashboard bench's config: three clouds serving four models, one partner with a revenue share. */
function dashboardConfig(store: string) {
  return validateConfig({
    store,
    auth: { masterKey: MASTER_KEY },
    logging: { level: 'warn' },
    partners: {
      azure: {
        primary: true,
        revenueShare: { rate: '0.2', cap: '1000000', from: '2020-01-01', until: '2031-01-01' },
      },
      aws: {},
      openai: {},
    },
    providers: Object.fromEntries(
      CLOUDS.map((cloud) => [
        cloud,
        { type: 'openai', partner: cloud, baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'x' },
      ]),
    ),
    models: Object.fromEntries(
      MODELS.map((name) => [
        name,
        {
          price: { input: '0.5', output: '1.5' },
          deployments: CLOUDS.map((cloud) => ({ provider: cloud, model: name })),
        },
      ]),
    ),
  });
}

/** A dashboard gateway child: a fresh process over the bench store, as after a restart. */
export async function dashboardChild() {
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
export async function dashboard(events: number, stores: string[]) {
  for (const kind of stores) {
    const { store, drop } = kind === 'postgres' ? await postgresStore(events) : sqliteStore(events);
    try {
      const config = dashboardConfig(store);
      const database = await createDatabase(store);
      await migrate(database);
      const have = Number(
        (
          await sql<{ n: number | string }>`select count(*) as n from usage_events`.execute(
            database.db,
          )
        ).rows[0]!.n,
      );
      const rolled = Number(
        (
          await sql<{
            n: number | string;
          }>`select count(*) as n from telemetry_usage_rollups`.execute(database.db)
        ).rows[0]!.n,
      );
      const now = Date.now();
      console.log(
        `\nDashboard on ${kind} with ${events.toLocaleString()} usage events (30 days, 200 keys in 60 projects of 20 tenants, 4 models, 3 clouds)`,
      );
      if (have !== events || rolled === 0) {
        await sql`delete from usage_events`.execute(database.db);
        await sql`delete from telemetry_usage_rollups`.execute(database.db);
        let started = performance.now();
        if (kind === 'postgres') await writePostgres(database, events, now);
        else await writeSqlite(store.slice('sqlite:'.length), events, now);
        console.log(`  write events: ${((performance.now() - started) / 1000).toFixed(1)} s`);
        started = performance.now();
        const result = await backfillRollups({
          database,
          catalog: createCatalog(config),
          from: now - SPAN - 86_400_000,
          to: now,
        });
        console.log(
          `  roll-up backfill: ${((performance.now() - started) / 1000).toFixed(1)} s for ${result.events.toLocaleString()} events`,
        );
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
  if (keep)
    return {
      store: `sqlite:${join(tmpdir(), `switchyard-bench-dashboard-v2-${events}.db`)}`,
      drop: async () => {},
    };
  const directory = mkdtempSync(join(tmpdir(), 'switchyard-bench-dashboard-'));
  return {
    store: `sqlite:${join(directory, 'store.db')}`,
    drop: async () => rmSync(directory, { recursive: true, force: true }),
  };
}

async function postgresStore(
  events: number,
): Promise<{ store: string; drop: () => Promise<void> }> {
  const keep = process.env['BENCH_DASHBOARD_KEEP'] === '1';
  const server = process.env['BENCH_PG'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = keep
    ? `switchyard_bench_dashboard_v2_${events}`
    : `switchyard_bench_dashboard_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  const exists =
    (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount! > 0;
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
  const insert = sqlite.prepare(
    `insert into usage_events (request_id, created_at, tenant_id, project_id, key_id, surface, model_requested, model, deployment, upstream_model, partner, attempts, attempt_log, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, latency_ms, ttfb_ms, status, http_status, error_code, stream, sandbox, metadata) values (?, ?, ?, ?, ?, 'openai-chat', ?, ?, ?, ?, ?, 1, '[]', ?, 0, ?, 0, ?, ?, ?, ?, ?, ?, 0, null)`,
  );
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const batch = sqlite.transaction((from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      const key = Math.floor(random() * 200);
      const tenant = key % 20; // a key belongs to one project of one tenant
      const model = MODELS[Math.floor(random() * 4)]!;
      const deployment = CLOUDS[Math.floor(random() * 3)]!;
      const error = random() < 0.02;
      const stream = random() < 0.5;
      const latency = Math.floor(50 + random() * random() * 4000);
      insert.run(
        `req_${String(i).padStart(10, '0')}`,
        now - SPAN + Math.floor((i / events) * SPAN),
        `tenant-${tenant}`,
        `project-${tenant}-${key % 3}`,
        `key_${key}`,
        model,
        model,
        deployment,
        model,
        deployment,
        error ? 0 : Math.floor(random() * 2000),
        error ? 0 : Math.floor(random() * 800),
        latency,
        stream ? Math.floor(latency / 4) : null,
        error ? 'error' : 'ok',
        error ? 502 : 200,
        error ? 'upstream_unreachable' : null,
        stream ? 1 : 0,
      );
    }
  });
  for (let done = 0; done < events; done += 100_000) {
    batch(done, Math.min(100_000, events - done));
    if (done % 1_000_000 === 0)
      process.stderr.write(
        `[telemetry bench] ${done.toLocaleString()} / ${events.toLocaleString()} events written\n`,
      );
  }
  sqlite.close();
}

/** The same distribution generated by Postgres itself, a million rows per statement. */
async function writePostgres(
  database: Awaited<ReturnType<typeof createDatabase>>,
  events: number,
  now: number,
) {
  await sql`select setseed(0.42)`.execute(database.db);
  for (let done = 0; done < events; done += 1_000_000) {
    const last = Math.min(events, done + 1_000_000) - 1;
    await sql`insert into usage_events (request_id, created_at, tenant_id, project_id, key_id, surface, model_requested, model, deployment, upstream_model, partner, attempts, attempt_log, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, latency_ms, ttfb_ms, status, http_status, error_code, stream, sandbox, metadata)
      select 'req_' || lpad(g::text, 10, '0'), ${now - SPAN}::bigint + (g * ${SPAN}::bigint / ${events}::bigint), 'tenant-' || t, 'project-' || t || '-' || (k % 3), 'key_' || k, 'openai-chat', m, m, d, m, d, 1, '[]',
        case when e then 0 else floor(r1 * 2000)::bigint end, 0, case when e then 0 else floor(r2 * 800)::bigint end, 0, latency, case when s then latency / 4 end,
        case when e then 'error' else 'ok' end, case when e then 502 else 200 end, case when e then 'upstream_unreachable' end, case when s then 1 else 0 end, 0, null
      from (select g, k % 20 as t, k,  (array['gpt-4o-mini', 'gpt-4o', 'claude-sonnet', 'gpt-oss-120b'])[1 + floor(random() * 4)::int] as m,
        (array['azure', 'aws', 'openai'])[1 + floor(random() * 3)::int] as d, random() < 0.02 as e, random() < 0.5 as s, 50 + floor(random() * random() * 4000)::int as latency, random() as r1, random() as r2
        from (select g, floor(random() * 200)::int as k from generate_series(${done}::bigint, ${last}::bigint) as g) as keys) as x`.execute(
      database.db,
    );
    process.stderr.write(
      `[telemetry bench] ${(last + 1).toLocaleString()} / ${events.toLocaleString()} events written\n`,
    );
  }
}

/**
 * BENCH_DASHBOARD_COLD=1: first loads as after a reboot. Restarts Postgres (its shared buffers
 * empty) and drops the kernel's page cache, so the first queries read the store from disk. Needs
 * root and a Debian Postgres cluster (pg_ctlcluster); says so and goes on warm when it cannot.
 */
function coldCaches(kind: string) {
  if (kind === 'postgres') {
    const version = spawnSync('sh', ['-c', 'ls /etc/postgresql'], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')[0];
    const restart = version
      ? spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], {
          stdio: 'ignore',
        })
      : undefined;
    console.log(
      restart?.status === 0
        ? '  (Postgres restarted)'
        : '  (could not restart Postgres: its buffers stay warm)',
    );
  }
  const dropped =
    spawnSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' })
      .status === 0;
  console.log(
    dropped
      ? '  (page cache dropped: first loads read from disk)'
      : '  (could not drop the page cache: needs root)',
  );
}

/** Each page's API calls in a fresh gateway process: first loads, then warm loads. */
async function timePages(store: string) {
  const gateway = await startChild('./telemetry.ts', {
    env: { TELEMETRY_BENCH_CHILD: 'dashboard', BENCH_STORE: store },
  });
  const get = async (path: string) => {
    const response = await request(`${gateway.url}${path}`, {
      headers: { authorization: `Bearer ${MASTER_KEY}` },
    });
    await response.body.text();
    if (response.statusCode !== 200 && response.statusCode !== 404)
      throw new Error(`${path}: ${response.statusCode}`);
  };
  // A page is a list of steps; the calls in one step run in parallel, as the page's Promise.all does.
  const usage = (filter: string): string[][] => [
    ['/admin/v1/usage/dimensions'],
    [`/admin/v1/metrics/summary?${filter}&top=none`, `/admin/v1/usage/events?${filter}&limit=50`],
  ];
  const overview = (range: string): string[][] => [
    [
      `/admin/v1/metrics/summary?range=${range}&top=models,tenants`,
      '/admin/v1/dashboard/health',
      `/admin/v1/dashboard/latency?range=${range}&by=model`,
    ],
  ];
  const pages: Record<string, string[][]> = {
    'sign-in': [['/ui/', '/ui/app.js', '/ui/style.css'], ['/admin/v1/usage/dimensions']],
    // The overview's three calls: summary, partner health, latency per model.
    'overview (1h, the default)': overview('1h'),
    'overview (24h)': overview('24h'),
    'overview (7d)': overview('7d'),
    'overview latency by partner (7d)': [['/admin/v1/dashboard/latency?range=7d&by=partner']],
    'usage (24h, the default)': usage('range=24h'),
    'usage (30d, all)': usage('range=30d'),
    'usage (30d, one key)': usage('range=30d&key=key_7'),
    'usage (30d, one project)': usage('range=30d&project=project-3-1'),
    'usage (30d, tenant+model+cloud)': usage(
      'range=30d&tenant=tenant-3&model=gpt-4o&deployment=aws',
    ),
    'usage (30d, a key with no traffic)': usage('range=30d&key=key_none'),
    routing: [['/admin/v1/routing']],
    partners: [
      ['/admin/v1/dashboard/partners', '/admin/v1/billing/agreements', '/admin/v1/billing/periods'],
    ],
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
    await new Promise((resolve) =>
      setTimeout(resolve, Number(process.env['BENCH_DASHBOARD_PAUSE_MS'] ?? 5000)),
    );
    const first = new Map<string, number>();
    for (const [name, steps] of Object.entries(pages)) first.set(name, await load(steps));
    console.log('  page                                   first load   warm (median of 5)');
    for (const [name, steps] of Object.entries(pages)) {
      const warm: number[] = [];
      for (let i = 0; i < 5; i++) warm.push(await load(steps));
      warm.sort((a, b) => a - b);
      const ms = first.get(name)!;
      console.log(
        `  ${name.padEnd(38)} ${ms.toFixed(0).padStart(7)} ms   ${warm[2]!.toFixed(0).padStart(7)} ms${ms > 1000 ? '   (over 1 s)' : ''}`,
      );
    }
  } finally {
    await gateway.call('shutdown').catch(() => {});
  }
}
