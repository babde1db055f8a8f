import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createDatabase,
  createUsageRepository,
  int64,
  migrate,
  MIGRATIONS,
} from '../../src/store/index.js';
import type { Database, UsageEvent, UsageRepository } from '../../src/store/index.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';

const pgDatabase = await pgTestUrl();
const tempDir = mkdtempSync(join(tmpdir(), 'switchyard-store-'));

afterAll(async () => {
  rmSync(tempDir, { recursive: true, force: true });
  await pgDatabase?.drop();
});

interface Target {
  name: string;
  url: string;
}

const targets: Target[] = [
  { name: 'sqlite :memory:', url: 'sqlite::memory:' },
  // A directory that does not exist yet: createDatabase must create it.
  { name: 'sqlite file', url: `sqlite:${join(tempDir, 'nested', 'dir', 'usage.db')}` },
];
if (pgDatabase) targets.push({ name: 'postgres', url: pgDatabase.url });
else it.skip(PG_SKIP_MESSAGE, () => undefined);

const T0 = 1_750_000_000_000;

function usageEvent(overrides: Partial<UsageEvent> = {}): UsageEvent {
  return {
    requestId: 'req_1',
    createdAt: T0,
    tenantId: 'tenant_a',
    projectId: 'project_a',
    keyId: 'key_a',
    surface: 'openai-chat',
    modelRequested: 'fast',
    model: 'gpt-4o-mini',
    deployment: 'azure-eastus',
    upstreamModel: 'gpt-4o-mini-2024-07-18',
    partner: 'partner_x',
    attempts: 2,
    attemptLog: [
      { provider: 'openai', status: 429, errorClass: 'rate_limited', ms: 120 },
      { provider: 'azure-eastus', status: 200, errorClass: null, ms: 840 },
    ],
    inputTokens: 1200,
    cachedInputTokens: 1024,
    outputTokens: 300,
    reasoningTokens: 64,
    latencyMs: 980,
    ttfbMs: 210,
    status: 'ok',
    httpStatus: 200,
    errorCode: null,
    stream: true,
    sandbox: false,
    metadata: { team: 'search', trace: 'abc' },
    ...overrides,
  };
}

describe.each(targets)('usage repository on $name', ({ name, url }) => {
  let database: Database;
  let usage: UsageRepository;

  beforeAll(async () => {
    database = await createDatabase(url);
    expect(await migrate(database)).toEqual(MIGRATIONS.map((migration) => migration.name));
    usage = createUsageRepository(database);
  });
  afterAll(() => database.close());
  beforeEach(async () => {
    await database.db.deleteFrom('usage_events').execute();
  });

  it('migrate() is idempotent and records what it applied', async () => {
    expect(await migrate(database)).toEqual([]);
    const rows = await database.db.selectFrom('switchyard_migrations').select('name').execute();
    expect(rows.map((row) => row.name)).toEqual(MIGRATIONS.map((migration) => migration.name));
  });

  it('records an event and reads every field back', async () => {
    const event = usageEvent();
    expect(await usage.record(event)).toBe(true);
    expect(await usage.get(event.requestId)).toEqual(event);
    const sparse = usageEvent({
      requestId: 'req_sparse',
      keyId: null,
      model: null,
      deployment: null,
      upstreamModel: null,
      partner: null,
      attemptLog: [],
      ttfbMs: null,
      status: 'error',
      httpStatus: 503,
      errorCode: 'no_deployment_available',
      stream: false,
      sandbox: true,
      metadata: null,
    });
    await usage.record(sparse);
    expect(await usage.get('req_sparse')).toEqual(sparse);
    expect(await usage.get('req_missing')).toBeUndefined();
  });

  it('is idempotent per request id: the second write is ignored', async () => {
    expect(await usage.record(usageEvent())).toBe(true);
    expect(await usage.record(usageEvent({ inputTokens: 9 }))).toBe(false);
    const count = await database.db
      .selectFrom('usage_events')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(count.n).toBe(1n); // aggregates are int8 too: bigint on both dialects
    expect((await usage.get('req_1'))?.inputTokens).toBe(1200);
  });

  it('round-trips 64-bit integers as bigint', async () => {
    const db = database.db as unknown as Kysely<any>;
    await db.schema.dropTable('bigint_probe').ifExists().execute();
    await db.schema
      .createTable('bigint_probe')
      .addColumn('id', 'integer')
      .addColumn('value', int64(database.dialect))
      .execute();
    const extremes = [2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, -1n, 0n];
    await db
      .insertInto('bigint_probe')
      .values(extremes.map((value, id) => ({ id, value })))
      .execute();
    const rows: Array<{ value: unknown }> = await db
      .selectFrom('bigint_probe')
      .select('value')
      .orderBy('id')
      .execute();
    expect(rows.map((row) => row.value)).toEqual(extremes);
    await db.schema.dropTable('bigint_probe').execute();

    const big = usageEvent({ inputTokens: 2 ** 52, outputTokens: 2 ** 50, createdAt: 8e12 });
    await usage.record(big);
    expect(await usage.get(big.requestId)).toEqual(big);
    const raw = await database.db
      .selectFrom('usage_events')
      .select('created_at')
      .executeTakeFirstOrThrow();
    expect(raw.created_at).toBe(8_000_000_000_000n);
  });

  it('rejects non-integer counts the same way on every dialect', async () => {
    await expect(usage.record(usageEvent({ inputTokens: 1.5 }))).rejects.toThrow(/inputTokens/);
    expect(await usage.get('req_1')).toBeUndefined();
  });

  it('lists newest first with filters and keyset pagination', async () => {
    const events = [
      usageEvent({ requestId: 'a', createdAt: T0 + 1, tenantId: 't1', model: 'm1' }),
      usageEvent({ requestId: 'b', createdAt: T0 + 2, tenantId: 't2', model: 'm1' }),
      usageEvent({ requestId: 'c', createdAt: T0 + 2, tenantId: 't1', model: 'm2' }),
      usageEvent({ requestId: 'd', createdAt: T0 + 3, tenantId: 't1', model: 'm1' }),
      usageEvent({ requestId: 'e', createdAt: T0 + 4, tenantId: 't2', model: null }),
    ];
    for (const event of events) await usage.record(event);
    const ids = (list: UsageEvent[]) => list.map((event) => event.requestId);

    expect(ids(await usage.list())).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(ids(await usage.list({ from: T0 + 2, to: T0 + 4 }))).toEqual(['d', 'c', 'b']);
    expect(ids(await usage.list({ tenantId: 't1' }))).toEqual(['d', 'c', 'a']);
    expect(ids(await usage.list({ model: 'm1' }))).toEqual(['d', 'b', 'a']);
    expect(ids(await usage.list({ tenantId: 't1', model: 'm1', from: T0 + 2 }))).toEqual(['d']);
    expect(ids(await usage.list({ limit: 2 }))).toEqual(['e', 'd']);

    const pages: string[][] = [];
    let after: string | undefined;
    for (;;) {
      const page = await usage.list({ limit: 2, ...(after === undefined ? {} : { after }) });
      if (page.length === 0) break;
      pages.push(ids(page));
      after = page.at(-1)?.requestId;
    }
    expect(pages).toEqual([['e', 'd'], ['c', 'b'], ['a']]);
    expect(ids(await usage.list({ tenantId: 't1', after: 'd' }))).toEqual(['c', 'a']);
    await expect(usage.list({ after: 'nope' })).rejects.toMatchObject({
      status: 400,
      param: 'after',
    });
  });

  it('summarises by model, deployment and partner', async () => {
    const at = (offset: number) => ({ requestId: `s${offset}`, createdAt: T0 + offset });
    const tokens = (input: number, output: number) => ({
      inputTokens: input,
      outputTokens: output,
    });
    await usage.record(usageEvent({ ...at(0), ...tokens(10, 1) }));
    await usage.record(usageEvent({ ...at(1), ...tokens(20, 2) }));
    await usage.record(usageEvent({ ...at(2), ...tokens(0, 0), status: 'error' }));
    await usage.record(usageEvent({ ...at(3), status: 'aborted', deployment: 'openai' }));
    const unrouted = { model: null, deployment: null, partner: null };
    await usage.record(usageEvent({ ...at(4), ...unrouted, status: 'error' }));
    const cached = { cachedInputTokens: 1024, reasoningTokens: 64 };
    const azure = { model: 'gpt-4o-mini', deployment: 'azure-eastus', partner: 'partner_x' };

    expect(await usage.summary()).toEqual([
      { ...unrouted, requests: 1, errors: 1, ...tokens(1200, 300), ...cached },
      {
        ...azure,
        requests: 3,
        errors: 1,
        ...tokens(30, 3),
        cachedInputTokens: 3072,
        reasoningTokens: 192,
      },
      { ...azure, deployment: 'openai', requests: 1, errors: 0, ...tokens(1200, 300), ...cached },
    ]);
    const window = await usage.summary({ from: T0 + 1, to: T0 + 3 });
    expect(window).toEqual([
      {
        ...azure,
        requests: 2,
        errors: 1,
        ...tokens(20, 2),
        cachedInputTokens: 2048,
        reasoningTokens: 128,
      },
    ]);
    expect(await usage.summary({ tenantId: 'nobody' })).toEqual([]);
  });

  it('lands 1,000 concurrent records with distinct ids', async () => {
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, index) =>
        usage.record(usageEvent({ requestId: `bulk_${index}`, createdAt: T0 + index })),
      ),
    );
    expect(results.every(Boolean)).toBe(true);
    const [row] = await usage.summary();
    expect(row?.requests).toBe(1000);
    expect(row?.inputTokens).toBe(1_200_000);
  });

  it.runIf(name === 'postgres')('survives migrate() from two processes at once', async () => {
    const fresh = await pgTestUrl();
    if (!fresh) throw new Error('Postgres vanished mid-run');
    const first = await createDatabase(fresh.url);
    const second = await createDatabase(fresh.url);
    try {
      const applied = await Promise.all([migrate(first), migrate(second), migrate(first)]);
      expect(applied.flat().sort()).toEqual(MIGRATIONS.map((migration) => migration.name).sort());
      const rows = await sql<{
        n: bigint;
      }>`select count(*) as n from switchyard_migrations`.execute(second.db);
      expect(rows.rows[0]?.n).toBe(BigInt(MIGRATIONS.length));
    } finally {
      await Promise.all([first.close(), second.close()]);
      await fresh.drop();
    }
  });
});

describe('createDatabase', () => {
  it('opens SQLite files in WAL mode with the documented pragmas', async () => {
    const file = join(tempDir, 'pragmas', 'x.db');
    const database = await createDatabase(`sqlite:${file}`);
    try {
      expect(existsSync(file)).toBe(true);
      const pragma = async (name: string) =>
        Object.values((await sql.raw(`pragma ${name}`).execute(database.db)).rows[0] as object)[0];
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('synchronous')).toBe(1n); // NORMAL
      expect(await pragma('busy_timeout')).toBe(5000n);
      expect(await pragma('foreign_keys')).toBe(1n);
      expect(database.dialect).toBe('sqlite');
    } finally {
      await database.close();
      await database.close(); // idempotent
    }
  });

  it('rejects unknown schemes without echoing credentials', async () => {
    await expect(createDatabase('mysql://user:secret@host/db')).rejects.toThrow(
      /unsupported store URL scheme "mysql:"/,
    );
    await expect(createDatabase('mysql://user:secret@host/db')).rejects.not.toThrow(/secret/);
  });
});
