import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../src/config/index.js';
import { createDatabase, migrate } from '../src/store/index.js';
import { alternativeConfig, runWhatIf } from '../src/whatif/index.js';

/**
 * `npx tsx bench/whatif.ts`: a what-if over `BENCH_ROWS` (default 1,000,000) stored usage rows.
 *
 * Seeds a SQLite file store with the rows (one INSERT … SELECT over a recursive CTE),
 * spread over 61 days (two monthly periods) across three models, three clouds and three
 * partners, 2% of them failed over; then times `runWhatIf` with alternative agreements (a
 * licence ending mid-window, a new rate with a cap, a new partner), reading the rows in pages
 * from the file as `switchyard whatif` does. Prints wall seconds, CPU seconds (the machine is shared), rows/s and the peak RSS.
 */

const rows = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const log = (message: string) =>
  process.stderr.write(
    `[whatif ${((performance.now() / 1000) | 0).toString().padStart(4)}s] ${message}\n`,
  );
const T0 = Date.parse('2026-10-01T00:00:00Z');
const SPAN = 61 * 86_400_000;

const current = validateConfig({
  partners: {
    azure: {
      primary: true,
      license: { exclusive: false },
      revenueShare: { rate: '0.20', cap: '500000' },
    },
    aws: { revenueShare: { rate: '0.10' } },
  },
  providers: {
    'azure-east': {
      type: 'azure-openai',
      partner: 'azure',
      baseUrl: 'https://example.openai.azure.com',
      apiKey: 'k',
    },
    'bedrock-west': { type: 'bedrock', partner: 'aws', region: 'us-west-2', apiKey: 'k' },
    openai: { type: 'openai', apiKey: 'k' },
  },
  models: Object.fromEntries(
    ['gpt-oss-120b', 'gpt-oss-20b', 'gpt-4o-mini'].map((model, index) => [
      model,
      {
        price: { input: ['0.15', '0.3', '0.45'][index]!, output: ['0.6', '1.2', '1.8'][index]! },
        deployments: [
          { provider: 'azure-east', model, cost: { input: '0.1', output: '0.4' } },
          {
            provider: 'bedrock-west',
            model: `${model}-1:0`,
            cost: { input: '0.09', output: '0.35' },
          },
          { provider: 'openai', model, cost: { input: '0.12', output: '0.45' } },
        ],
      },
    ]),
  ),
});

const alternative = alternativeConfig(
  current,
  `
partners:
  azure: { primary: true, license: { until: "2026-11-15" }, revenueShare: { rate: "0.20", cap: "500000" } }
  aws: { revenueShare: { rate: "0.12", cap: "20" } }
  openai-partner: { revenueShare: { rate: "0.05", clouds: [openai] } }
`,
);

const MODELS = Object.keys(current.models);
const FAILED_OVER = JSON.stringify([
  { provider: 'azure-east', status: 503, errorClass: 'upstream_unavailable', ms: 12 },
  { provider: 'bedrock-west', status: 200, errorClass: null, ms: 310 },
]);
const SERVED = JSON.stringify([{ provider: 'azure-east', status: 200, errorClass: null, ms: 280 }]);

/**
 * The rows, generated inside SQLite by a recursive CTE (no round trip per row): row i is model
 * i % 3, failed over from Azure to Bedrock when i % 50 = 0, tokens varying with i.
 */
const SEED = `
with recursive seq(i) as (select 0 union all select i + 1 from seq where i + 1 < @rows)
insert into usage_events (
  request_id, created_at, tenant_id, project_id, key_id, surface, model_requested, model,
  deployment, upstream_model, partner, attempts, attempt_log, input_tokens, cached_input_tokens,
  output_tokens, reasoning_tokens, latency_ms, ttfb_ms, status, http_status, error_code, stream,
  sandbox, metadata, cache_write_tokens, cache_write_1h_tokens, estimated)
select
  printf('req-%08d', i), @t0 + (i * @span) / @rows, 'tenant-' || (i % 17), 'project',
  'key-' || (i % 101), 'openai-chat', m.name, m.name,
  case when i % 50 = 0 then 'bedrock-west' else 'azure-east' end,
  case when i % 50 = 0 then m.name || '-1:0' else m.name end,
  case when i % 50 = 0 then 'aws' else 'azure' end,
  case when i % 50 = 0 then 2 else 1 end,
  case when i % 50 = 0 then @failedOver else @served end,
  200 + i % 1900, case when i % 7 = 0 then 100 else 0 end, 50 + i % 700,
  case when i % 11 = 0 then 20 else 0 end, 300, 120, 'ok', 200, null, i % 2, 0, null, 0, 0, 0
from seq join (
  select 0 as k, @m0 as name union all select 1, @m1 union all select 2, @m2
) m on m.k = i % 3`;

const dir = mkdtempSync(join(tmpdir(), 'switchyard-whatif-bench-'));
const database = await createDatabase(`sqlite:${join(dir, 'store.db')}`);
try {
  await migrate(database);
  const seedStart = performance.now();
  database.sqlite!.prepare(SEED).run({
    // BigInt binds as INTEGER, so the time arithmetic is integer arithmetic.
    rows: BigInt(rows),
    t0: BigInt(T0),
    span: BigInt(SPAN),
    failedOver: FAILED_OVER,
    served: SERVED,
    m0: MODELS[0],
    m1: MODELS[1],
    m2: MODELS[2],
  });
  log(`seeded ${rows} rows in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const report = await runWhatIf({
    database,
    current,
    alternative,
    from: T0,
    to: T0 + SPAN,
    onProgress: (done, total) => {
      if (done % 200_000 < 5000) log(`${done}/${total}`);
    },
  });
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const rss = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    `${JSON.stringify(
      {
        rows: report.total.requests,
        seconds: Number(seconds.toFixed(2)),
        rows_per_second: Math.round(report.total.requests / seconds),
        // The machine is shared: CPU time is what the replay itself cost.
        cpu_seconds: Number(cpuSeconds.toFixed(2)),
        load_average_1m: Number(loadavg()[0]!.toFixed(1)),
        peak_rss_mb: Math.round(rss),
        moved: report.total.moved,
        periods: report.periods.map((period) => period.period),
        baseline_revenue_micros: String(report.total.baseline.revenue),
        alternative_revenue_micros: String(report.total.alternative.revenue),
        alternative_accruals_micros: Object.fromEntries(
          Object.entries(report.total.alternative.accruals).map(([key, value]) => [
            key,
            String(value),
          ]),
        ),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await database.close();
  rmSync(dir, { recursive: true, force: true });
}
