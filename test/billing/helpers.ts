import { sql } from 'kysely';
import { afterAll, expect, it } from 'vitest';
import { type Billing, createBilling, REPORT_DIMENSIONS } from '../../src/billing/index.js';
import type { PeriodUnit } from '../../src/billing/periods.js';
import { buildStatement } from '../../src/billing/statements.js';
import type { Config } from '../../src/config/index.js';
import { decimalToScaled } from '../../src/core/money.js';
import { createDatabase, type Database, migrate } from '../../src/store/index.js';
import { billingDb } from '../../src/store/billing/schema.js';
import { accountTotals } from '../../src/store/billing/queries.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';

/** A store the billing suites run against. */
export interface Target {
  name: string;
  /** Opens a migrated, empty database (Postgres: the file's database, truncated). */
  open(): Promise<Database>;
}

const BILLING_TABLES = [
  'usage_events',
  'ledger_transactions',
  'ledger_entries',
  'billing_clauses',
  'billing_share_lines',
  'billing_periods',
  'billing_statements',
  'billing_rollups',
  'billing_rollups_daily',
];

/**
 * SQLite `:memory:` always; Postgres when reachable (a database of its own per test file,
 * emptied before each use). Registers a skip notice when Postgres is not reachable and CI
 * is unset; in CI an unreachable Postgres fails the suite (see test/helpers/postgres.ts).
 */
export async function billingTargets(): Promise<Target[]> {
  const targets: Target[] = [
    {
      name: 'sqlite',
      async open() {
        const database = await createDatabase('sqlite::memory:');
        await migrate(database);
        return database;
      },
    },
  ];
  const pg = await pgTestUrl();
  if (!pg) {
    it.skip(PG_SKIP_MESSAGE, () => undefined);
    return targets;
  }
  let migrated = false;
  const open: Database[] = [];
  afterAll(async () => {
    await Promise.all(open.map((database) => database.close()));
    await pg.drop();
  });
  targets.push({
    name: 'postgres',
    async open() {
      const database = await createDatabase(pg.url, { poolSize: 12 });
      open.push(database);
      if (!migrated) {
        await migrate(database);
        migrated = true;
      }
      await sql.raw(`truncate ${BILLING_TABLES.join(', ')}`).execute(database.db);
      return database;
    },
  });
  return targets;
}

/** Postgres URL for multi-process suites, or undefined (skipped). */
export { pgTestUrl, PG_SKIP_MESSAGE };
export { T0, testConfig, usageEvent } from './fixtures/events.js';
import { T0 } from './fixtures/events.js';

/** A settable clock. */
export function testClock(start = T0) {
  let now = start;
  const clock = () => now;
  clock.set = (at: number | string) => {
    now = typeof at === 'string' ? Date.parse(at) : at;
  };
  return clock;
}

/** Billing over `database` with `config`, agreements applied. */
export async function startBilling(
  database: Database,
  config: Config,
  clock: () => number,
  periodUnit: PeriodUnit = 'month',
): Promise<Billing> {
  const billing = createBilling({ config, database, clock, periodUnit });
  await billing.start();
  return billing;
}

/** Accrued and basis totals of a clause. */
export async function clauseTotals(
  billing: Billing,
  id: string,
): Promise<{ basis: bigint; accrued: bigint }> {
  const clause = (await billing.clauses()).find((candidate) => candidate.id === id);
  if (!clause) throw new Error(`no clause ${id}`);
  return { basis: clause.basisTotal, accrued: clause.accruedTotal };
}

/** µUSD from a decimal USD string. */
export function micros(usd: string): bigint {
  return decimalToScaled(usd, 6);
}

/**
 * Case 11: the ledger nets to zero (overall and per transaction), every statement of every
 * known period reconciles with the ledger entries it covers, clause totals equal their posted
 * lines, and rollups reconcile with the ledger and the usage rows.
 */
export async function expectReconciled(billing: Billing, database: Database): Promise<void> {
  const check = await billing.check();
  expect(check).toEqual({ balanced: true, total: 0n, unbalanced: [] });
  const db = billingDb(database);
  const all = await billing.balances();
  for (const period of await billing.periods()) {
    const bounds = { id: period.id, startsAt: period.startsAt, endsAt: period.endsAt };
    const partners = [
      ...new Set(
        [...all.keys()]
          .filter((account) => account.startsWith('share_payable:'))
          .map((account) => account.slice('share_payable:'.length)),
      ),
    ];
    const tenants = [
      ...new Set(
        [...all.keys()]
          .filter((account) => account.startsWith('receivable:'))
          .map((account) => account.slice('receivable:'.length)),
      ),
    ];
    for (const partner of partners) {
      const statement = await billing.statement('partner', partner, period.id);
      const payable = await accountTotals(db, [`share_payable:${partner}`], period.id);
      expect(micros(statement.totals['accrued']!)).toBe(-payable.total);
      expect(micros(statement.entries.balance)).toBe(-payable.total);
      const fresh = await buildStatement(db, 'partner', partner, bounds, statement.status);
      expect(fresh.entries.hash).toBe(statement.entries.hash);
    }
    for (const tenant of tenants) {
      const statement = await billing.statement('customer', tenant, period.id);
      const receivable = await accountTotals(db, [`receivable:${tenant}`], period.id);
      expect(micros(statement.totals['net']!)).toBe(receivable.total);
      const fresh = await buildStatement(db, 'customer', tenant, bounds, statement.status);
      expect(fresh.entries.hash).toBe(statement.entries.hash);
    }
  }
  for (const clause of await billing.clauses()) {
    const lines = await db
      .selectFrom('billing_share_lines')
      .select([
        sql<bigint>`coalesce(cast(sum(basis_delta) as bigint), 0)`.as('basis'),
        sql<bigint>`coalesce(cast(sum(accrual_delta) as bigint), 0)`.as('accrued'),
      ])
      .where('clause_id', '=', clause.id)
      .executeTakeFirstOrThrow();
    expect(BigInt(lines.accrued)).toBe(clause.accruedTotal);
    if (clause.cap !== null) expect(clause.accruedTotal <= clause.cap).toBe(true);
  }
  // Rollups over all time equal the ledger and the usage rows.
  const totals = await billing.report({ from: 0, to: 8_640_000_000_000_000 });
  const revenue = -(all.get('revenue') ?? 0n);
  const cost = [...all]
    .filter(([account]) => account.startsWith('cost:'))
    .reduce((sum, [, value]) => sum + value, 0n);
  const share = [...all]
    .filter(([account]) => account.startsWith('share_expense:'))
    .reduce((sum, [, value]) => sum + value, 0n);
  const usageCount = await db
    .selectFrom('usage_events')
    .select((eb) => eb.fn.countAll().as('count'))
    .executeTakeFirstOrThrow();
  const row = totals[0] ?? { revenue: 0n, cost: 0n, share: 0n, requests: 0 };
  expect({
    revenue: row.revenue,
    cost: row.cost,
    share: row.share,
    requests: row.requests,
  }).toEqual({ revenue, cost, share, requests: Number(usageCount.count) });
  // Hourly and daily rollups hold the same totals; a range read from hourly rollups agrees too.
  const sums = async (table: 'billing_rollups' | 'billing_rollups_daily') =>
    (
      await sql<{
        requests: unknown;
        revenue: unknown;
        share: unknown;
      }>`select coalesce(sum(requests), 0) as requests, coalesce(sum(revenue), 0) as revenue, coalesce(sum(share), 0) as share from ${sql.table(table)}`.execute(
        db,
      )
    ).rows.map((item) => [
      BigInt(String(item.requests)),
      BigInt(String(item.revenue)),
      BigInt(String(item.share)),
    ]);
  expect(await sums('billing_rollups_daily')).toEqual(await sums('billing_rollups'));
  const hourly = await billing.report({ from: 3_600_000, to: 8_639_999_996_400_000 });
  expect(hourly[0]?.revenue ?? 0n).toBe(revenue);
  // Grouped by every dimension, the same totals.
  const grouped = await billing.report({
    from: 0,
    to: 8_640_000_000_000_000,
    groupBy: REPORT_DIMENSIONS,
  });
  expect(grouped.reduce((sum, item) => sum + item.revenue, 0n)).toBe(revenue);
}
