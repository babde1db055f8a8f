import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { type Billing, createBilling } from '../src/billing/index.js';
import { validateConfig } from '../src/config/index.js';
import { createDatabase, type Database, migrate, type UsageEvent } from '../src/store/index.js';
import { summarize } from './stats.js';

/**
 * `npx tsx bench/metering.ts`: the commerce plane under load.
 *
 * 1. Metering, SQLite file and Postgres. Loops stand in for gateway requests: each builds a
 *    usage event and awaits `billing.record()` exactly as the gateway does before it ends an
 *    answer (usage row, ledger legs, accruals, rollups committed). Closed loop: the most
 *    events/s the store takes. Open loop at `BENCH_RATE` (default 5,000/s): whether that rate
 *    is sustained and how long each request waits for its commit.
 * 2. Reports on Postgres over `BENCH_REPORT_EVENTS` (default 10,000,000) usage events spread over
 *    30 days, with their ledger headers and hourly and daily rollups bulk-generated in SQL, then
 *    report queries timed (median and max of 5).
 *
 * Environment: BENCH_QUICK=1 (smoke run), BENCH_SECONDS (default 10), BENCH_CONCURRENCY (256),
 * BENCH_RATE, BENCH_REPORT_EVENTS, BENCH_MAX_BATCH / BENCH_BATCHES (meter options), BENCH_PHASES=metering,report, BENCH_STORES=sqlite,postgres,
 * BENCH_PG (server URL, default postgres://postgres@127.0.0.1:5432/postgres; a temporary
 * database is created and dropped).
 */

const env = process.env;
const quick = env['BENCH_QUICK'] === '1';
const seconds = Number(env['BENCH_SECONDS'] ?? (quick ? 2 : 10));
const concurrency = Number(env['BENCH_CONCURRENCY'] ?? 256);
const rate = Number(env['BENCH_RATE'] ?? 5000);
const reportEvents = Number(env['BENCH_REPORT_EVENTS'] ?? (quick ? 200_000 : 10_000_000));
const phases = new Set((env['BENCH_PHASES'] ?? 'metering,report').split(','));
const stores = new Set((env['BENCH_STORES'] ?? 'sqlite,postgres').split(','));
const pgServer = env['BENCH_PG'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (message: string) =>
  process.stderr.write(
    `[metering ${((performance.now() / 1000) | 0).toString().padStart(4)}s] ${message}\n`,
  );
const T0 = Date.parse('2026-11-01T00:00:00Z');
const config = validateConfig({
  partners: {
    azure: { primary: true, revenueShare: { rate: '0.20', cap: '50000000000', basis: 'net' } },
    aws: { revenueShare: { rate: '0.10', basis: 'gross' } },
  },
  providers: {
    'azure-east': {
      type: 'azure-openai',
      partner: 'azure',
      baseUrl: 'https://example.openai.azure.com',
      apiKey: 'k',
    },
    'bedrock-west': { type: 'bedrock', partner: 'aws', region: 'us-west-2', apiKey: 'k' },
  },
  models: Object.fromEntries(
    ['gpt-oss-120b', 'gpt-oss-20b', 'gpt-4o-mini'].map((model) => [
      model,
      {
        price: { input: '0.15', cachedInput: '0.075', output: '0.60' },
        deployments: [
          { provider: 'azure-east', model, cost: { input: '0.10', output: '0.40' } },
          { provider: 'bedrock-west', model, cost: { input: '0.09', output: '0.38' } },
        ],
      },
    ]),
  ),
});

let sequence = 0;
function event(): UsageEvent {
  const n = sequence++;
  const key = n % 400;
  const aws = n % 3 === 0;
  return {
    requestId: `bench_${process.pid}_${n}`,
    createdAt: T0 + Math.floor(n / 10),
    tenantId: `tenant-${key >> 3}`,
    projectId: `project-${key >> 1}`,
    keyId: `key-${key}`,
    surface: 'openai-chat',
    modelRequested: 'm',
    model: ['gpt-oss-120b', 'gpt-oss-20b', 'gpt-4o-mini'][(key + (n & 1)) % 3]!,
    deployment: aws ? 'bedrock-west' : 'azure-east',
    upstreamModel: 'm',
    partner: aws ? 'aws' : 'azure',
    attempts: 1,
    attemptLog: [
      { provider: aws ? 'bedrock-west' : 'azure-east', status: 200, errorClass: null, ms: 80 },
    ],
    inputTokens: 200 + (n % 1800),
    cachedInputTokens: n % 4 === 0 ? 128 : 0,
    outputTokens: 50 + (n % 700),
    reasoningTokens: 0,
    latencyMs: 90,
    ttfbMs: 20,
    status: 'ok',
    httpStatus: 200,
    errorCode: null,
    stream: n % 2 === 0,
    sandbox: false,
    metadata: null,
  };
}

interface Run {
  events: number;
  seconds: number;
  perSecond: number;
  latency: ReturnType<typeof summarize>;
  cpuUsPerEvent: number;
  serverUsPerEvent: number | null;
}

/**
 * CPU time (µs) used so far by every local `postgres` process (Linux /proc; null elsewhere), to
 * report the database's own CPU per event next to the gateway's.
 */
function postgresCpuUs(): number | null {
  try {
    let ticks = 0;
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (!stat.includes('(postgres)')) continue;
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
      } catch {
        // the process ended while we looked
      }
    }
    return (ticks * 1_000_000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** Closed loop (`targetRate` undefined: `concurrency` loops back to back) or open loop at `targetRate`/s. */
async function drive(
  record: (event: UsageEvent) => Promise<unknown>,
  durationS: number,
  targetRate?: number,
): Promise<Run> {
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const server = postgresCpuUs();
  const started = performance.now();
  const end = started + durationS * 1000;
  const one = async () => {
    const t = performance.now();
    await record(event());
    latencies.push(performance.now() - t);
  };
  if (targetRate === undefined) {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) await one();
      }),
    );
  } else {
    const inFlight = new Set<Promise<void>>();
    let due = started;
    while (performance.now() < end) {
      // Issue every arrival that is due (1 ms ticks), then yield to let commits run.
      while (due <= performance.now()) {
        const promise = one().finally(() => inFlight.delete(promise));
        inFlight.add(promise);
        due += 1000 / targetRate;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(inFlight);
  }
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const serverEnd = postgresCpuUs();
  const serverUsPerEvent =
    server === null || serverEnd === null ? null : (serverEnd - server) / latencies.length;
  return {
    events: latencies.length,
    seconds: elapsed,
    perSecond: latencies.length / elapsed,
    latency: summarize(latencies),
    cpuUsPerEvent: (used.user + used.system) / latencies.length,
    serverUsPerEvent,
  };
}

async function temporaryPg(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `switchyard_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: pgServer });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = new URL(pgServer);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: pgServer });
      await client.connect();
      await client.query(`drop database if exists "${name}" with (force)`);
      await client.end();
    },
  };
}

async function openStore(kind: string): Promise<{ database: Database; cleanup(): Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-metering-'));
    const database = await createDatabase(`sqlite:${join(dir, 'bench.db')}`);
    await migrate(database);
    return {
      database,
      cleanup: async () => {
        await database.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const temp = await temporaryPg();
  const database = await createDatabase(temp.url, { poolSize: 10 });
  await migrate(database);
  return {
    database,
    cleanup: async () => {
      await database.close();
      await temp.drop();
    },
  };
}

const fmt = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function metering(): Promise<string[]> {
  const rows: string[] = [];
  for (const kind of ['sqlite', 'postgres'].filter((name) => stores.has(name))) {
    {
      const { database, cleanup } = await openStore(kind);
      try {
        const billing = createBilling({
          config,
          database,
          clock: () => T0 + 86_400_000,
          ...(env['BENCH_MAX_BATCH'] ? { maxBatch: Number(env['BENCH_MAX_BATCH']) } : {}),
          ...(env['BENCH_BATCHES'] ? { concurrency: Number(env['BENCH_BATCHES']) } : {}),
        });
        await billing.start();
        const record = (item: UsageEvent) => billing.record(item);
        await drive(record, quick ? 0.5 : 2); // warm-up
        const closed = await drive(record, seconds);
        log(`${kind}: closed loop ${fmt(closed.perSecond)}/s`);
        const open = await drive(record, seconds, rate);
        log(`${kind}: open loop ${fmt(open.perSecond)}/s p99 ${fmt(open.latency.p99, 1)} ms`);
        const check = await billing.check();
        if (!check.balanced) throw new Error(`${kind}: ledger not balanced after the run`);
        const name = kind === 'sqlite' ? 'SQLite (file, WAL)' : 'Postgres 15';
        rows.push(
          `| ${name} | ${fmt(closed.perSecond)} | ${fmt(closed.cpuUsPerEvent)} | ${kind === 'postgres' && closed.serverUsPerEvent !== null ? fmt(closed.serverUsPerEvent) : '—'} | ${fmt(open.perSecond)} of ${fmt(rate)} | ${fmt(open.latency.p50, 1)} / ${fmt(open.latency.p99, 1)} / ${fmt(open.latency.max, 1)} |`,
        );
      } finally {
        await cleanup();
      }
    }
  }
  return [
    `Closed loop: ${concurrency} concurrent requests, ${seconds} s. Open loop: ${fmt(rate)} arrivals/s for ${seconds} s; latency is the time a request waits for its commit.`,
    '',
    '| Store | Closed loop (events/s) | Gateway CPU per event (µs) | Postgres CPU per event (µs) | Open loop achieved (events/s) | Commit wait p50 / p99 / max (ms) |',
    '|---|---|---|---|---|---|',
    ...rows,
  ];
}

async function reports(): Promise<string[]> {
  const temp = await temporaryPg();
  const database = await createDatabase(temp.url, { poolSize: 4 });
  try {
    await migrate(database);
    const days = 30;
    const span = days * 86_400_000;
    const step = span / reportEvents;
    const started = performance.now();
    log(`generating ${fmt(reportEvents)} usage events…`);
    const dims = sql.raw(
      `'tenant-' || (k / 8), 'project-' || (k / 2), 'key-' || k, (array['gpt-oss-120b','gpt-oss-20b','gpt-4o-mini'])[1 + (k + g % 2) % 3], case when g % 3 = 0 then 'bedrock-west' else 'azure-east' end, case when g % 3 = 0 then 'aws' else 'azure' end`,
    );
    const series = sql.raw(
      `(select g, g % 400 as k, ${T0} + floor(g * ${step})::bigint as at, 200 + g % 1800 as input, 50 + g % 700 as output from generate_series(0::bigint, ${reportEvents - 1}) as g) s`,
    );
    await sql`insert into usage_events (request_id, created_at, tenant_id, project_id, key_id, model, deployment, partner, surface, model_requested, upstream_model, attempts, attempt_log, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, latency_ms, status, http_status, stream, sandbox)
      select 'r' || g, at, ${dims}, 'openai-chat', 'm', 'm', 1, '[]', input, 0, output, 0, 90, 'ok', 200, 0, 0 from ${series}`.execute(
      database.db,
    );
    log('generating ledger transactions…');
    await sql`insert into ledger_transactions (id, kind, request_id, tenant_id, project_id, key_id, model, deployment, partner, effective_at, posted_at, period, payload_hash, revenue, cost, share)
      select 'u:r' || g, 'usage', 'r' || g, ${dims}, at, at, '2026-11', '', input * 15 / 100 + output * 60 / 100, input / 10 + output * 4 / 10, (input * 15 / 100 + output * 60 / 100) / 5 from ${series}`.execute(
      database.db,
    );
    log('building hourly rollups…');
    await sql`insert into billing_rollups select (created_at / 3600000) * 3600000, u.tenant_id, u.project_id, u.key_id, u.model, u.deployment, u.partner, count(*), 0, sum(input_tokens), 0, sum(output_tokens), 0, sum(t.revenue), sum(t.cost), sum(t.share)
      from usage_events u join ledger_transactions t on t.id = 'u:' || u.request_id group by 1, 2, 3, 4, 5, 6, 7`.execute(
      database.db,
    );
    await sql`insert into billing_rollups_daily select (bucket / 86400000) * 86400000, tenant_id, project_id, key_id, model, deployment, partner, sum(requests), sum(errors), sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), sum(reasoning_tokens), sum(revenue), sum(cost), sum(share)
      from billing_rollups group by 1, 2, 3, 4, 5, 6, 7`.execute(database.db);
    await sql`analyze`.execute(database.db);
    const rollupRows = Number(
      (await sql<{ n: string }>`select count(*) as n from billing_rollups`.execute(database.db))
        .rows[0]!.n,
    );
    const dailyRows = Number(
      (
        await sql<{ n: string }>`select count(*) as n from billing_rollups_daily`.execute(
          database.db,
        )
      ).rows[0]!.n,
    );
    log(
      `data ready in ${fmt((performance.now() - started) / 1000)} s (${fmt(rollupRows)} hourly and ${fmt(dailyRows)} daily rollup rows)`,
    );

    const billing = createBilling({ config, database });
    const minute = 60_000;
    const queries: Array<[string, Parameters<Billing['report']>[0]]> = [
      ['30 days, total', { from: T0, to: T0 + span }],
      ['30 days by tenant', { from: T0, to: T0 + span, groupBy: ['tenant'] }],
      [
        '30 days by model, partner, cloud; edges at :17 and :37',
        {
          from: T0 + 17 * minute,
          to: T0 + span - 23 * minute,
          groupBy: ['model', 'partner', 'cloud'],
        },
      ],
      ['30 days by key (400 rows)', { from: T0, to: T0 + span, groupBy: ['key'] }],
      [
        '30 days by every dimension',
        {
          from: T0,
          to: T0 + span,
          groupBy: ['tenant', 'project', 'key', 'model', 'partner', 'cloud'],
        },
      ],
      [
        'one tenant, 30 days by key and model',
        { from: T0, to: T0 + span, groupBy: ['key', 'model'], where: { tenant: 'tenant-7' } },
      ],
      [
        'one day by tenant, edges at :05 and :55',
        {
          from: T0 + 86_400_000 * 3 + 5 * minute,
          to: T0 + 86_400_000 * 4 - 5 * minute,
          groupBy: ['tenant'],
        },
      ],
    ];
    const rows: string[] = [];
    for (const [name, query] of queries) {
      const times: number[] = [];
      let count = 0;
      let events = 0;
      for (let run = 0; run < 5; run++) {
        const t = performance.now();
        const result = await billing.report(query);
        times.push(performance.now() - t);
        count = result.length;
        events = result.reduce((sum, row) => sum + row.requests, 0);
      }
      const summary = summarize(times);
      rows.push(
        `| ${name} | ${fmt(events)} | ${fmt(count)} | ${fmt(summary.p50)} | ${fmt(summary.max)} |`,
      );
      log(`${name}: ${fmt(summary.p50)} ms`);
    }
    return [
      `${fmt(reportEvents)} usage events over ${days} days (400 keys, 50 tenants, 3 models, 2 clouds): ${fmt(rollupRows)} hourly and ${fmt(dailyRows)} daily rollup rows.`,
      '',
      '| Report | Events covered | Rows | Median (ms) | Max of 5 (ms) |',
      '|---|---|---|---|---|',
      ...rows,
    ];
  } finally {
    await database.close();
    await temp.drop();
  }
}

const output: string[] = [];
if (phases.has('metering')) output.push(...(await metering()), '');
if (phases.has('report')) output.push(...(await reports()));
process.stdout.write(`${output.join('\n')}\n`);
