import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { adminClient, chat, chatBody, statusCounts } from '../access/helpers.js';

/**
 * `server.workers: 2` as users run it: `switchyard serve` with the SQLite default and no Redis,
 * real worker processes behind one port. Rate limits and budgets must hold exactly as in one
 * process (the primary owns the counters), every answered request has its usage row (the primary
 * is the one SQLite writer), SIGHUP replaces the workers without losing the counters, and
 * SIGTERM drains and exits 0.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const MASTER = 'sk-master-cluster-test';
// Worker processes load the sources through tsx: tens of seconds each on a busy machine.
const TIMEOUT_MS = 240_000;

let workdir: string;
let emulator: Emulator;
let primary: ChildProcess;
let output = '';
let base: string;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The primary's live child processes (its workers), from /proc. */
function workerPids(): number[] {
  const pid = primary.pid!;
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}

beforeAll(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'switchyard-cluster-'));
  emulator = await startOpenAIEmulator({ flavor: 'openai' });
  const port = await freePort();
  const config = {
    server: { host: '127.0.0.1', port, workers: 2 },
    store: `sqlite:${join(workdir, 'switchyard.db')}`,
    auth: { masterKey: MASTER },
    logging: { level: 'info' },
    providers: { up: { type: 'openai', baseUrl: `${emulator.url}/v1`, apiKey: 'sk-up' } },
    models: {
      metered: {
        price: { input: '0', output: '1' },
        deployments: [{ provider: 'up', model: 'gpt-4o-mini' }],
      },
    },
  };
  const path = join(workdir, 'switchyard.json');
  writeFileSync(path, JSON.stringify(config));
  const env = { ...process.env };
  delete env['SWITCHYARD_MASTER_KEY'];
  primary = spawn(process.execPath, ['--import', TSX_LOADER, MAIN, 'serve', '--config', path], {
    cwd: workdir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  primary.stdout!.on('data', (data: Buffer) => {
    output += data.toString();
  });
  primary.stderr!.on('data', (data: Buffer) => {
    output += data.toString();
  });
  await waitFor(() => output.includes('(2 workers)'), 'the workers to listen');
  base = `http://127.0.0.1:${port}`;
}, TIMEOUT_MS);

afterAll(async () => {
  if (primary && primary.exitCode === null) {
    primary.kill('SIGKILL');
    await once(primary, 'exit');
  }
  await emulator?.close();
  rmSync(workdir, { recursive: true, force: true });
});

describe('server.workers: 2 on SQLite without Redis', () => {
  it('runs two worker processes behind the one port', () => {
    expect(workerPids()).toHaveLength(2);
  });

  it('a rate limit holds exactly across the workers', { timeout: TIMEOUT_MS }, async () => {
    const admin = adminClient(base, MASTER);
    const { secret } = await admin.setup({ key: { limits: { rpm: 10 } } });
    // 40 at once: the shared agent opens a connection per request in flight, and the primary
    // deals connections to the workers in turn.
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => chat(base, secret, chatBody('metered', 3))),
    );
    expect(statusCounts(answers)).toEqual({ 200: 10, 429: 30 });
  });

  it('a budget holds exactly across the workers, and every answer has its usage row', {
    timeout: TIMEOUT_MS,
  }, async () => {
    const admin = adminClient(base, MASTER);
    const { key, secret } = await admin.setup({
      key: { budget: { amount_micros: '500', period: 'month' } },
    });
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => chat(base, secret, chatBody('metered', 10))),
    );
    expect(statusCounts(answers)).toEqual({ 200: 50, 402: 150 });
    const shown = await admin.call('GET', `/keys/${key.id}`);
    expect(shown.levels[2].spend).toMatchObject({
      spent_micros: '500',
      reserved_micros: '0',
      remaining_micros: '0',
    });
    const db = new SqliteDatabase(join(workdir, 'switchyard.db'), { readonly: true });
    try {
      const row = db
        .prepare("select count(*) as n from usage_events where key_id = ? and status = 'ok'")
        .get(key.id) as { n: number };
      expect(row.n).toBe(50);
    } finally {
      db.close();
    }
  });

  it('SIGHUP replaces both workers; the budget spent before still holds after', {
    timeout: TIMEOUT_MS,
  }, async () => {
    const admin = adminClient(base, MASTER);
    // A budget rather than a per-minute limit: restarting two workers under tsx on a busy
    // machine can take longer than the minute a rate window lasts.
    const { secret } = await admin.setup({
      key: { budget: { amount_micros: '30', period: 'month' } },
    });
    const before = await Promise.all(
      Array.from({ length: 3 }, () => chat(base, secret, chatBody('metered', 10))),
    );
    expect(statusCounts(before)).toEqual({ 200: 3 });
    const old = workerPids();
    primary.kill('SIGHUP');
    await waitFor(() => output.includes('workers restarted'), 'the rolling restart');
    const now = workerPids();
    expect(now).toHaveLength(2);
    expect(now.filter((pid) => old.includes(pid))).toEqual([]);
    expect((await chat(base, secret, chatBody('metered', 10))).status).toBe(402);
  });

  it('SIGTERM drains the workers and exits 0', { timeout: TIMEOUT_MS }, async () => {
    const exited = once(primary, 'exit');
    primary.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  });
});
