import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBilling } from '../src/billing/index.js';
import { validateConfig } from '../src/config/index.js';
import { timeOrderedId } from '../src/core/ids.js';
import { createDatabase, migrate, type UsageEvent } from '../src/store/index.js';
import { usageEvent } from '../test/billing/fixtures/events.js';

/**
 * `npx tsx bench/commit-batch.ts`: what metering one usage event costs on SQLite as a function
 * of how many events share a group commit (BENCH_BATCHES, default 1,8,16,32), with the bench
 * gateway's config (one model, no price, so no ledger legs: the usage row and the roll-ups).
 * For each batch size, BENCH_COMMITS commits (default 2,000) of that many concurrent
 * `billing.record()` calls, after a warm-up: process CPU per event (user + system, the
 * checkpoint thread included). The gap between 1 and 8 events per commit is the fixed cost of a
 * commit; the gateway gets about 8 per commit at 20 connections (bench/compare.ts).
 * BENCH_PROFILE=dir writes a V8 CPU profile of each measured loop (`commit-<batch>.cpuprofile`).
 * BENCH_STATEMENTS=1 also times each SQL statement better-sqlite3 runs (wall time of `run`,
 * `get`, `all`), and prints it per event and per call after each batch size's row: which of
 * `begin`, the inserts, the roll-up upserts and `commit` (its WAL writes) the time goes to.
 * BENCH_PAGE_SIZE=8192 (or 16384) makes the database with that page size instead of 4,096.
 * Under `strace -f -c -e trace=pwrite64`, the WAL writes: two per frame (header, page).
 */
const profileDir = process.env['BENCH_PROFILE'];
const statements = process.env['BENCH_STATEMENTS'] === '1' ? timeStatements() : undefined;
const pageSize = Number(process.env['BENCH_PAGE_SIZE'] ?? 0);

/** Wraps better-sqlite3's statement methods to sum their time by SQL text (its first 60 characters). */
function timeStatements(): Map<string, { calls: number; ns: bigint }> {
  const spent = new Map<string, { calls: number; ns: bigint }>();
  const probe = new SqliteDatabase(':memory:');
  const prototype = Object.getPrototypeOf(probe.prepare('select 1')) as Record<
    string,
    (...args: unknown[]) => unknown
  >;
  probe.close();
  for (const method of ['run', 'get', 'all']) {
    const original = prototype[method]!;
    prototype[method] = function (this: { source: string }, ...args: unknown[]) {
      const started = process.hrtime.bigint();
      try {
        return original.apply(this, args);
      } finally {
        const key = this.source.slice(0, 60);
        const entry = spent.get(key) ?? { calls: 0, ns: 0n };
        entry.calls += 1;
        entry.ns += process.hrtime.bigint() - started;
        spent.set(key, entry);
      }
    };
  }
  return spent;
}
const batches = (process.env['BENCH_BATCHES'] ?? '1,8,16,32').split(',').map(Number);
const commits = Number(process.env['BENCH_COMMITS'] ?? 2000);
const config = validateConfig({
  providers: { openai: { type: 'openai', apiKey: 'k', baseUrl: 'http://127.0.0.1:9' } },
  models: { 'gpt-bench': { deployments: [{ provider: 'openai', model: 'gpt-bench' }] } },
});
const event = (): UsageEvent =>
  usageEvent({
    requestId: timeOrderedId('req_'),
    createdAt: Date.now(),
    tenantId: 'default',
    projectId: 'default',
    keyId: 'key_master',
    modelRequested: 'gpt-bench',
    model: 'gpt-bench',
    deployment: 'openai',
    upstreamModel: 'gpt-bench',
    partner: null,
  });

process.stdout.write('| events per commit | CPU per event (µs) | of which system |\n');
process.stdout.write('|---:|---:|---:|\n');
for (const batch of batches) {
  const directory = mkdtempSync(join(tmpdir(), 'switchyard-commit-'));
  const file = join(directory, 'bench.db');
  const database = await createDatabase(`sqlite:${file}`);
  if (pageSize) {
    // The page size of a file in WAL mode cannot change: set it while the file is empty.
    const handle = database.sqlite!;
    handle.pragma('journal_mode = delete');
    handle.pragma(`page_size = ${pageSize}`);
    handle.exec('vacuum');
    handle.pragma('journal_mode = WAL');
  }
  await migrate(database);
  const billing = createBilling({ config, database });
  await billing.start();
  const round = () => Promise.all(Array.from({ length: batch }, () => billing.record(event())));
  for (let i = 0; i < 200; i++) await round();
  const session = profileDir ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  statements?.clear();
  const start = process.cpuUsage();
  for (let i = 0; i < commits; i++) await round();
  const used = process.cpuUsage(start);
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(profileDir!, `commit-${batch}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
  const events = commits * batch;
  process.stdout.write(
    `| ${batch} | ${((used.user + used.system) / events).toFixed(1)} | ${(used.system / events).toFixed(1)} |\n`,
  );
  if (statements)
    for (const [sql, { calls, ns }] of [...statements].sort((a, b) => Number(b[1].ns - a[1].ns)))
      process.stdout.write(
        `|  | ${(Number(ns) / 1000 / events).toFixed(2)} per event, ${(Number(ns) / 1000 / calls).toFixed(1)} per call | ${sql} |\n`,
      );
  await database.close();
  rmSync(directory, { recursive: true, force: true });
}
process.exit(0);
