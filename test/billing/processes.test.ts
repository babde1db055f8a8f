import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createBilling } from '../../src/billing/index.js';
import { billingDb } from '../../src/store/billing/schema.js';
import { createDatabase, type Database, migrate } from '../../src/store/index.js';
import { T0, testConfig, workerTotals } from './fixtures/events.js';
import { expectReconciled, PG_SKIP_MESSAGE, pgTestUrl } from './helpers.js';

/**
 * Several OS processes metering into one database at once (case 5), and a process killed with
 * SIGKILL in the middle of a stream of events (case 10): the ledger stays balanced and every
 * event is either fully posted (usage row, ledger legs, clause lines, rollups) or not at all.
 */

const WORKER = join(import.meta.dirname, 'fixtures', 'post-worker.ts');
const CAP = 2_000n; // µUSD, set as "0.002" below
const tempDir = mkdtempSync(join(tmpdir(), 'switchyard-billing-'));
const pg = await pgTestUrl();
const dropPg: Array<() => Promise<void>> = [];

afterAll(async () => {
  rmSync(tempDir, { recursive: true, force: true });
  for (const drop of dropPg) await drop();
});

interface Store {
  name: string;
  url(): Promise<string>;
}

const stores: Store[] = [
  {
    name: 'sqlite file',
    url: async () => `sqlite:${join(tempDir, `${Math.random().toString(36).slice(2)}.db`)}`,
  },
];
if (pg) {
  stores.push({
    name: 'postgres',
    async url() {
      const fresh = await pgTestUrl();
      dropPg.push(() => fresh!.drop());
      return fresh!.url;
    },
  });
} else {
  it.skip(PG_SKIP_MESSAGE, () => undefined);
}
await pg?.drop();

function startWorker(env: Record<string, string>): {
  child: ChildProcess;
  progress: () => number;
  exit: Promise<{ code: number | null; signal: string | null; output: string }>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, CAP: '0.002', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let committed = 0;
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const match = /progress (\d+)\n(?![\s\S]*progress)/.exec(output);
    if (match) committed = Number(match[1]);
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: string | null; output: string }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, output })),
  );
  return { child, progress: () => committed, exit };
}

async function openMigrated(url: string): Promise<Database> {
  const database = await createDatabase(url);
  await migrate(database);
  return database;
}

function expected(basis: bigint): bigint {
  const share = (basis * 200_000n) / 1_000_000n;
  return share < CAP ? share : CAP;
}

/** Checks that nothing is half posted: usage rows, ledger transactions, clause lines and rollups agree one to one. */
async function expectWhole(database: Database): Promise<{ usage: number }> {
  const db = billingDb(database);
  const count = async (query: ReturnType<typeof sql<{ n: unknown }>>) =>
    Number((await query.execute(db)).rows[0]!.n);
  const usage = await count(sql`select count(*) as n from usage_events`);
  expect(
    await count(
      sql`select count(*) as n from usage_events u left join ledger_transactions t on t.id = 'u:' || u.request_id where t.id is null`,
    ),
  ).toBe(0);
  expect(
    await count(
      sql`select count(*) as n from ledger_transactions t left join usage_events u on t.id = 'u:' || u.request_id where u.request_id is null`,
    ),
  ).toBe(0);
  expect(
    await count(
      sql`select count(*) as n from ledger_transactions t left join billing_share_lines l on l.transaction_id = t.id where l.transaction_id is null`,
    ),
  ).toBe(0);
  expect(
    await count(
      sql`select count(*) as n from ledger_transactions t where 2 > (select count(*) from ledger_entries e where e.transaction_id = t.id)`,
    ),
  ).toBe(0);
  return { usage };
}

describe.each(stores)('metering processes on $name', (store) => {
  it('5: four processes at once never pass the cap, and accrued = min(cap, floor(rate × basis))', async () => {
    const url = await store.url();
    const setup = await openMigrated(url);
    const perWorker = 500;
    const workers = [0, 1, 2, 3].map((worker) =>
      startWorker({ STORE: url, WORKER: String(worker), FROM: '0', TO: String(perWorker) }),
    );
    const exits = await Promise.all(workers.map((worker) => worker.exit));
    for (const exit of exits) expect(exit, exit.output).toMatchObject({ code: 0 });
    const billing = createBilling({ config: testConfig(), database: setup, clock: () => T0 });
    const azure = [0, 1, 2, 3].reduce(
      (sum, worker) => sum + workerTotals(worker, perWorker).azure,
      0n,
    );
    const clause = (await billing.clauses()).find((candidate) => candidate.id === 'azure')!;
    expect({ basis: clause.basisTotal, accrued: clause.accruedTotal }).toEqual({
      basis: azure,
      accrued: expected(azure),
    });
    expect((await expectWhole(setup)).usage).toBe(4 * perWorker);
    await expectReconciled(billing, setup);
    await setup.close();
  }, 180_000);

  it('10: kill -9 during a stream leaves the ledger balanced and every event whole; a replay completes it', async () => {
    const url = await store.url();
    const setup = await openMigrated(url);
    const total = 50_000;
    const crashing = startWorker({
      STORE: url,
      WORKER: '7',
      FROM: '0',
      TO: String(total),
      INFLIGHT: '16',
    });
    const deadline = Date.now() + 60_000;
    while (crashing.progress() < 300 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(crashing.progress()).toBeGreaterThanOrEqual(300);
    crashing.child.kill('SIGKILL');
    const exit = await crashing.exit;
    expect(exit.signal).toBe('SIGKILL');

    const billing = createBilling({ config: testConfig(), database: setup, clock: () => T0 });
    const { usage } = await expectWhole(setup);
    expect(usage).toBeGreaterThanOrEqual(300);
    expect(usage).toBeLessThan(total);
    await expectReconciled(billing, setup);

    // Events are issued in order, at most 16 at a time: nothing past the highest stored index + 16 began.
    const db = billingDb(setup);
    const highest = await db
      .selectFrom('usage_events')
      .select((eb) => eb.fn.max('request_id').as('id'))
      .executeTakeFirstOrThrow();
    const upTo = Number(String(highest.id).split('-')[1]) + 17;
    const replay = startWorker({
      STORE: url,
      WORKER: '7',
      FROM: '0',
      TO: String(upTo),
      INFLIGHT: '16',
    });
    const done = await replay.exit;
    expect(done, done.output).toMatchObject({ code: 0 });
    expect((await expectWhole(setup)).usage).toBe(upTo);
    const azure = workerTotals(7, upTo).azure;
    const clause = (await billing.clauses()).find((candidate) => candidate.id === 'azure')!;
    expect({ basis: clause.basisTotal, accrued: clause.accruedTotal }).toEqual({
      basis: azure,
      accrued: expected(azure),
    });
    await expectReconciled(billing, setup);
    await setup.close();
  }, 180_000);
});
