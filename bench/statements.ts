/**
 * Building statements from the ledger (issue 19 item 3 added token sums from `usage_events` to
 * each line): a month of N usage events of two tenants over two partners' clouds, then each
 * customer and partner statement built R times; prints the median and the fastest build per
 * statement kind. On SQLite in memory, or on Postgres with BENCH_PG_URL (its billing tables are
 * truncated first).
 *
 *   npx tsx bench/statements.ts                 (BENCH_EVENTS=50000 by default; BENCH_QUICK=1: 5000)
 *   BENCH_PG_URL=postgres://127.0.0.1:5432/bench npx tsx bench/statements.ts
 */
import { sql } from 'kysely';
import { createBilling } from '../src/billing/index.js';
import { buildStatement } from '../src/billing/statements.js';
import { createDatabase, migrate } from '../src/store/index.js';
import { billingDb } from '../src/store/billing/schema.js';
import { testConfig, usageEvent } from '../test/billing/fixtures/events.js';

const quick = process.env['BENCH_QUICK'] === '1';
const events = Number(process.env['BENCH_EVENTS'] ?? (quick ? 5_000 : 50_000));
const rounds = quick ? 3 : 7;
const url = process.env['BENCH_PG_URL'] ?? 'sqlite::memory:';

const database = await createDatabase(url, { poolSize: 8 });
try {
  await migrate(database);
  if (url.startsWith('postgres')) {
    await sql
      .raw(
        'truncate usage_events, ledger_transactions, ledger_entries, billing_share_lines, billing_periods, billing_statements, billing_rollups, billing_rollups_daily',
      )
      .execute(database.db);
  }
  const start = Date.parse('2026-10-01T00:00:00Z');
  const billing = createBilling({
    config: testConfig(),
    database,
    clock: () => Date.parse('2026-11-02T00:00:00Z'),
  });
  await billing.start();
  const batch = 200;
  for (let index = 0; index < events; index += batch) {
    const chunk = [];
    for (let item = index; item < Math.min(events, index + batch); item++) {
      const aws = item % 3 === 0;
      chunk.push(
        usageEvent({
          requestId: `bench_${item}`,
          createdAt: start + item * 1000,
          tenantId: item % 2 === 0 ? 'acme' : 'globex',
          inputTokens: 100 + (item % 50),
          cachedInputTokens: item % 20,
          cacheWriteTokens: item % 30,
          outputTokens: item % 40,
          ...(aws ? { deployment: 'bedrock-west', partner: 'aws', upstreamModel: 'unit-1:0' } : {}),
        }),
      );
    }
    await Promise.all(chunk.map((event) => billing.record(event)));
  }
  await billing.flush();
  const db = billingDb(database);
  const bounds = {
    id: '2026-10',
    startsAt: start,
    endsAt: Date.parse('2026-11-01T00:00:00Z'),
  };
  for (const [kind, subject] of [
    ['customer', 'acme'],
    ['partner', 'azure'],
  ] as const) {
    const times: number[] = [];
    let lines = 0;
    for (let round = 0; round < rounds; round++) {
      const began = performance.now();
      const statement = await buildStatement(db, kind, subject, bounds, 'draft');
      times.push(performance.now() - began);
      lines = statement.lines.length;
    }
    times.sort((a, b) => a - b);
    console.log(
      `${url.startsWith('postgres') ? 'postgres' : 'sqlite'} ${kind} ${subject}: ${events} events, ${lines} lines, median ${times[Math.floor(times.length / 2)]!.toFixed(1)} ms, best ${times[0]!.toFixed(1)} ms over ${rounds} builds`,
    );
  }
} finally {
  await database.close();
}
