import { sql } from 'kysely';
import { afterAll, expect, it } from 'vitest';
import { createDatabase, type Database, migrate } from '../../src/store/index.js';
import { billingTargets, startBilling, T0, testClock, testConfig, usageEvent } from './helpers.js';

/**
 * The metering transaction exists three ways: pre-prepared better-sqlite3 statements
 * (store/billing/sqlite.ts, SQLite's hot path), the Kysely transaction on SQLite (a database
 * without a raw handle) and the Kysely transaction on Postgres. The same events, in the same
 * order and under the same clock, must leave the same rows in every billing table.
 */

const TABLES: Record<string, string> = {
  usage_events: 'request_id',
  ledger_transactions: 'id',
  ledger_entries: 'transaction_id, seq',
  billing_share_lines: 'transaction_id, clause_id',
  billing_clauses: 'id',
  billing_periods: 'id',
  billing_rollups: 'bucket, tenant_id, project_id, key_id, model, deployment, partner',
  billing_rollups_daily: 'bucket, tenant_id, project_id, key_id, model, deployment, partner',
};

const targets = await billingTargets();
const closing: Database[] = [];
afterAll(async () => {
  await Promise.all(closing.map((database) => database.close()));
});

async function sqliteWithoutHandle(): Promise<Database> {
  const database = await createDatabase('sqlite::memory:');
  await migrate(database);
  closing.push(database);
  // No raw handle: billingTransaction falls back to the Kysely statements.
  return { db: database.db, dialect: database.dialect, close: () => database.close() };
}

/** Every billing table's rows, ordered by key, values as strings (int8 comes back as string on Postgres). */
async function dump(database: Database): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [table, order] of Object.entries(TABLES)) {
    const result = await sql
      .raw<Record<string, unknown>>(`select * from "${table}" order by ${order}`)
      .execute(database.db);
    out[table] = result.rows.map((row) =>
      Object.fromEntries(
        Object.entries(row)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([key, value]) => [
            key,
            value === null || value === undefined ? null : String(value),
          ]),
      ),
    );
  }
  return out;
}

/** A fixed script: cap crossed mid-event, duplicates, a second partner, a later period, a failure, a refund. */
async function run(database: Database): Promise<Record<string, unknown[]>> {
  const clock = testClock();
  const billing = await startBilling(database, testConfig(), clock);
  await billing.putAgreement('azure', {
    rate: '0.20',
    cap: '0.000010',
    currency: 'USD',
    basis: 'net',
    clawback: 'reverse',
  });
  const base = { createdAt: T0 };
  const events = [
    usageEvent({ ...base, requestId: 'p-1', inputTokens: 30 }),
    usageEvent({
      ...base,
      requestId: 'p-2',
      inputTokens: 30,
      outputTokens: 7,
      createdAt: T0 + 3_600_000,
    }),
    usageEvent({ ...base, requestId: 'p-3', inputTokens: 30 }),
    usageEvent({
      ...base,
      requestId: 'p-4',
      inputTokens: 11,
      deployment: 'bedrock-west',
      partner: 'aws',
      upstreamModel: 'unit-1:0',
    }),
    usageEvent({
      ...base,
      requestId: 'p-5',
      inputTokens: 0,
      status: 'error',
      httpStatus: 502,
      errorCode: 'upstream_error',
    }),
    usageEvent({
      ...base,
      requestId: 'p-6',
      inputTokens: 40,
      createdAt: Date.parse('2026-11-02T00:00:00Z'),
    }),
  ];
  const outcomes = [];
  for (const event of events) {
    clock.set(event.createdAt + 1000);
    outcomes.push((await billing.record(event)).status);
  }
  outcomes.push((await billing.record({ ...events[0]! })).status);
  await billing.refund({ requestId: 'p-1', id: 'refund-p-1' });
  await billing.flush();
  expect(outcomes).toEqual([
    'posted',
    'posted',
    'posted',
    'posted',
    expect.any(String),
    'posted',
    'duplicate',
  ]);
  return dump(database);
}

it.each(targets.filter((target) => target.name !== 'sqlite'))(
  'the SQLite fast path, Kysely on SQLite and Kysely on $name write the same rows',
  async (target) => {
    const fast = await createDatabase('sqlite::memory:');
    await migrate(fast);
    closing.push(fast);
    expect(fast.sqlite).toBeDefined();
    const expected = await run(fast);
    expect(expected['ledger_transactions']!.length).toBeGreaterThan(5);
    expect(expected['billing_share_lines']!.length).toBeGreaterThan(2);
    expect(await run(await sqliteWithoutHandle())).toEqual(expected);
    expect(await run(await target.open())).toEqual(expected);
  },
);

it('the SQLite fast path and Kysely on SQLite write the same rows', async () => {
  const fast = await createDatabase('sqlite::memory:');
  await migrate(fast);
  closing.push(fast);
  expect(await run(await sqliteWithoutHandle())).toEqual(await run(fast));
});
