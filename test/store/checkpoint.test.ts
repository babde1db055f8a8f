import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../../src/store/index.js';

const directory = mkdtempSync(join(tmpdir(), 'switchyard-checkpoint-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('SQLite WAL checkpoints', () => {
  it('are run by a background thread, not by the commit that fills the WAL', async () => {
    const file = join(directory, 'store.db');
    const database = await createDatabase(`sqlite:${file}`);
    try {
      // The writer's own automatic checkpoint is only a backstop, far above SQLite's default 1,000 pages.
      expect(database.sqlite!.pragma('wal_autocheckpoint', { simple: true })).toBe(16_000n);
      await sql`create table filler (id integer primary key, body text not null)`.execute(
        database.db,
      );
      const before = statSync(file).size;
      const insert = database.sqlite!.prepare('insert into filler (body) values (?)');
      // ~2 MB in the WAL: below the backstop, so only the thread can move it into the file.
      for (let index = 0; index < 500; index++) insert.run('x'.repeat(4000));
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(1_000_000);
      let after = statSync(file).size;
      for (let waited = 0; after <= before + 1_000_000 && waited < 10_000; waited += 100) {
        await sleep(100);
        after = statSync(file).size;
      }
      expect(after).toBeGreaterThan(before + 1_000_000);
      // Moved by the thread, not by the writer falling back to its own checkpoints after the thread failed.
      expect(database.sqlite!.pragma('wal_autocheckpoint', { simple: true })).toBe(16_000n);
      const count = await sql<{ n: bigint }>`select count(*) as n from filler`.execute(database.db);
      expect(count.rows[0]!.n).toBe(500n);
    } finally {
      await database.close();
    }
  });

  it('are not started for an in-memory database', async () => {
    const database = await createDatabase('sqlite::memory:');
    try {
      expect(database.sqlite!.pragma('wal_autocheckpoint', { simple: true })).toBe(1000n);
    } finally {
      await database.close();
    }
  });

  it('are left to another process with checkpoint: false (a server.workers worker)', async () => {
    const file = join(directory, 'worker.db');
    const writer = await createDatabase(`sqlite:${file}`);
    const worker = await createDatabase(`sqlite:${file}`, { checkpoint: false });
    try {
      // No inline checkpoint at SQLite's 1,000 pages either: the other process's thread moves the WAL.
      expect(worker.sqlite!.pragma('wal_autocheckpoint', { simple: true })).toBe(16_000n);
      await sql`create table filler (id integer primary key, body text not null)`.execute(
        worker.db,
      );
      const insert = worker.sqlite!.prepare('insert into filler (body) values (?)');
      // ~6 MB through the worker's connection: past 1,000 pages, below the backstop.
      for (let index = 0; index < 1500; index++) insert.run('x'.repeat(4000));
      let size = statSync(file).size;
      for (let waited = 0; size < 5_000_000 && waited < 10_000; waited += 100) {
        await sleep(100);
        size = statSync(file).size;
      }
      // Copied into the file by the writer's thread.
      expect(size).toBeGreaterThan(5_000_000);
    } finally {
      await worker.close();
      await writer.close();
    }
  });
});
