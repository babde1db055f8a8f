import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { createCatalog } from '../../src/router/catalog.js';
import {
  createDatabase,
  createUsageRepository,
  type Database,
  migrate,
  type UsageEvent,
} from '../../src/store/index.js';
import { backfillRollups } from '../../src/telemetry/backfill.js';
import { createPricer } from '../../src/telemetry/money.js';
import { createRollupQueries, levelFor, percentile } from '../../src/telemetry/rollup-queries.js';
import { createRollupRecorder } from '../../src/telemetry/rollups.js';
import { type PgTestDatabase, pgTestUrl } from '../helpers/postgres.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const config = validateConfig({
  providers: {
    azure: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'x', partner: 'azure' },
    aws: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'x', partner: 'aws' },
  },
  partners: { azure: {}, aws: {} },
  models: {
    m: {
      price: { input: '1', output: '2' },
      deployments: [
        { provider: 'azure', model: 'm', cost: { input: '0.5', output: '1' } },
        { provider: 'aws', model: 'm' },
      ],
    },
  },
});
const catalog = createCatalog(config);

let seq = 0;
function event(overrides: Partial<UsageEvent> = {}): UsageEvent {
  seq += 1;
  return {
    requestId: `req_${String(seq).padStart(8, '0')}`,
    createdAt: NOW - 60_000,
    tenantId: 'acme',
    projectId: 'web',
    keyId: 'key_a',
    surface: 'openai-chat',
    modelRequested: 'm',
    model: 'm',
    deployment: 'azure',
    upstreamModel: 'm',
    partner: 'azure',
    attempts: 1,
    attemptLog: [],
    inputTokens: 1000,
    cachedInputTokens: 0,
    outputTokens: 500,
    reasoningTokens: 0,
    latencyMs: 120,
    ttfbMs: null,
    status: 'ok',
    httpStatus: 200,
    errorCode: null,
    stream: false,
    sandbox: false,
    metadata: null,
    ...overrides,
  };
}

describe('latency percentiles from histogram buckets', () => {
  it('interpolates inside the bucket and reports null for no data', () => {
    expect(percentile([0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.5)).toBeNull();
    expect(percentile([10, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.5)).toBe(25); // half way into 0–50 ms
    expect(percentile([0, 0, 4, 0, 0, 0, 0, 0, 0, 0], 0.99)).toBe(249); // 100–250 ms bucket
    expect(percentile([0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 0.5)).toBe(30_000); // open bucket: its lower bound
  });

  it('chooses roll-up rows by range and filter', () => {
    expect(levelFor({ from: 0, to: 3_600_000 })).toEqual({ detail: 0, minutes: 1 });
    expect(levelFor({ from: 0, to: 86_400_000 })).toEqual({ detail: 0, minutes: 60 });
    expect(levelFor({ from: 0, to: 30 * 86_400_000 })).toEqual({ detail: 0, minutes: 1440 });
    expect(levelFor({ from: 0, to: 3_600_000, keyId: 'k' })).toEqual({ detail: 1, minutes: 60 });
  });
});

// The same suite on SQLite and, when it is reachable (always in CI), on Postgres.
const pg: PgTestDatabase | undefined = await pgTestUrl();
const stores: Array<[string, string]> = [
  ['sqlite', 'sqlite::memory:'],
  ...(pg ? [['postgres', pg.url] as [string, string]] : []),
];
describe.each(stores)('usage roll-ups (%s)', (_dialect, url) => {
  let database: Database;
  beforeEach(async () => {
    database = await createDatabase(url);
    await migrate(database);
  });
  afterEach(async () => {
    if (database.dialect === 'postgres') await database.db.deleteFrom('usage_events').execute();
    if (database.dialect === 'postgres')
      await database.db
        .withTables<{ telemetry_usage_rollups: { detail: number } }>()
        .deleteFrom('telemetry_usage_rollups')
        .execute();
    await database.close();
  });

  const recorder = () =>
    createRollupRecorder({ database, pricer: createPricer(catalog), clock: () => NOW });

  it('sums requests, errors, tokens, money and latency per bucket, by any filter', async () => {
    const one = recorder();
    one.add(event());
    one.add(event({ latencyMs: 3000 }));
    one.add(
      event({
        status: 'error',
        httpStatus: 502,
        errorCode: 'upstream_unreachable',
        inputTokens: 0,
        outputTokens: 0,
        deployment: 'aws',
        partner: 'aws',
      }),
    );
    one.add(event({ tenantId: 'globex', keyId: 'key_b', projectId: 'api' }));
    await one.flush();
    const queries = createRollupQueries(database);
    const hour = { from: NOW - 3_600_000, to: NOW };
    const series = await queries.series(hour);
    expect(series.bucketMinutes).toBe(1);
    expect(series.points).toHaveLength(60);
    const busy = series.points.filter((point) => point.requests > 0);
    expect(busy).toHaveLength(1);
    expect(busy[0]).toMatchObject({
      requests: 4,
      errors: 1,
      inputTokens: 3000,
      outputTokens: 1500,
    });
    // Revenue 1000×$1 + 500×$2 per 1M = $0.002 per ok request; cost only on azure (0.5/1 → $0.001).
    expect(busy[0]!.revenueUsd).toBeCloseTo(0.006, 9);
    expect(busy[0]!.costUsd).toBeCloseTo(0.003, 9);
    expect(series.latency.p99Ms).toBeGreaterThan(2500);
    expect((await queries.top(hour, 'tenant_id')).map((row) => [row.key, row.requests])).toEqual([
      ['acme', 3],
      ['globex', 1],
    ]);
    expect(
      (await queries.top({ ...hour, partner: 'aws' }, 'deployment')).map((row) => row.key),
    ).toEqual(['aws']);
    // Key and project filters read the detailed hour rows.
    const byKey = await queries.series({ ...hour, keyId: 'key_b' });
    expect(byKey.bucketMinutes).toBe(60);
    expect(byKey.points.reduce((sum, point) => sum + point.requests, 0)).toBe(1);
    expect(await queries.dimensions(NOW)).toMatchObject({
      tenantId: ['acme', 'globex'],
      keyId: ['key_a', 'key_b'],
      deployment: ['aws', 'azure'],
    });
  });

  it('top lists over days read day rows in the middle and hour rows at the ends, with the same sums', async () => {
    const one = recorder();
    // Every 5 hours for 7 days before NOW (12:00), so both ragged ends and the whole days have traffic.
    const expected = new Map<string, number>();
    const from = NOW - 7 * 86_400_000 + 30 * 60_000;
    for (let at = from; at < NOW; at += 5 * 3_600_000) {
      const tenantId = `t${(at / 3_600_000) % 3}`;
      one.add(event({ createdAt: at, tenantId }));
      expected.set(tenantId, (expected.get(tenantId) ?? 0) + 1);
    }
    await one.flush();
    const queries = createRollupQueries(database);
    const week = { from, to: NOW };
    expect(levelFor(week)).toEqual({ detail: 0, minutes: 60 });
    const top = await queries.top(week, 'tenant_id');
    expect(Object.fromEntries(top.map((row) => [row.key, row.requests]))).toEqual(
      Object.fromEntries(expected),
    );
    expect(top.map((row) => row.requests)).toEqual([...expected.values()].sort((a, b) => b - a));
    // The series (hour rows throughout) agrees on the total.
    const total = (await queries.series(week)).points.reduce(
      (sum, point) => sum + point.requests,
      0,
    );
    expect(total).toBe([...expected.values()].reduce((sum, count) => sum + count, 0));
    expect(await queries.top(week, 'tenant_id', 1)).toHaveLength(1);
  });

  it('adds what several replicas flush into the same bucket', async () => {
    const a = recorder();
    const b = recorder();
    a.add(event());
    b.add(event());
    await a.flush();
    await b.flush();
    a.add(event());
    await a.flush();
    const [row] = await createRollupQueries(database).top(
      { from: NOW - 86_400_000, to: NOW },
      'model',
    );
    expect(row?.requests).toBe(3);
  });

  it('backfills whole days from usage_events, idempotently, with progress', async () => {
    const usage = createUsageRepository(database);
    for (let day = 0; day < 3; day++)
      for (let i = 0; i < 7; i++)
        await usage.record(event({ createdAt: NOW - day * 86_400_000 - i * 1000 }));
    const progress: number[] = [];
    const result = await backfillRollups({
      database,
      catalog,
      from: NOW - 3 * 86_400_000,
      to: NOW,
      clock: () => NOW,
      onProgress: (done) => progress.push(done),
    });
    expect(result.events).toBe(21);
    expect(progress.at(-1)).toBe(21);
    expect(progress.length).toBe(5); // the start, then one per day (four days: the range rounds out to whole days)
    const queries = createRollupQueries(database);
    const month = { from: NOW - 30 * 86_400_000, to: NOW + 1 };
    const total = async () => (await queries.top(month, 'model'))[0]?.requests;
    expect(await total()).toBe(21);
    await backfillRollups({
      database,
      catalog,
      from: NOW - 3 * 86_400_000,
      to: NOW,
      clock: () => NOW,
    });
    expect(await total()).toBe(21);
    // Hour rows for a key filter exist too.
    expect((await queries.top({ ...month, keyId: 'key_a' }, 'key_id'))[0]?.requests).toBe(21);
  });

  it('backfills the same sums the live path writes (money, latency histogram, errors, streams)', async () => {
    const usage = createUsageRepository(database);
    const live = await createDatabase('sqlite::memory:'); // the live path's rows, compared across dialects
    await migrate(live);
    const recorder = createRollupRecorder({
      database: live,
      pricer: createPricer(catalog),
      clock: () => NOW,
    });
    const events = [
      event(),
      event({
        latencyMs: 700,
        stream: true,
        ttfbMs: 90,
        cachedInputTokens: 400,
        reasoningTokens: 100,
      }),
      event({ deployment: 'aws', partner: 'aws', latencyMs: 40_000 }),
      event({
        status: 'error',
        httpStatus: 502,
        errorCode: 'upstream_unreachable',
        inputTokens: 0,
        outputTokens: 0,
      }),
      event({ createdAt: NOW - 5 * 86_400_000, keyId: null }),
    ];
    for (const item of events) {
      await usage.record(item);
      recorder.add(item);
    }
    await recorder.flush();
    await backfillRollups({
      database,
      catalog,
      from: NOW - 7 * 86_400_000,
      to: NOW,
      clock: () => NOW,
    });
    const dump = async (db: Database) =>
      (
        await db.db
          .withTables<{ telemetry_usage_rollups: Record<string, unknown> }>()
          .selectFrom('telemetry_usage_rollups')
          .selectAll()
          .execute()
      )
        .map((row) =>
          JSON.stringify(row, (_key, value) => (typeof value === 'bigint' ? Number(value) : value)),
        )
        .sort();
    expect(await dump(database)).toEqual(await dump(live));
    await live.close();
  });
});

afterAll(async () => {
  await pg?.drop();
});
