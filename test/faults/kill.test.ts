import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBilling } from '../../src/billing/index.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { createDatabase } from '../../src/store/index.js';
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.js';
import { pgTestUrl, type PgTestDatabase } from '../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * Gateway processes killed while the store is away, under load: kill -9 and SIGTERM, with one
 * and with two replicas sharing a spool directory. Every request answered in full before the
 * kill has its usage row and ledger transaction once the store is back and a process runs
 * again (the spool of a dead process is taken over), and the ledger balances.
 */

const pgDatabase = await pgTestUrl();
const suite = pgDatabase ? describe : describe.skip;
if (!pgDatabase) console.warn('Postgres not reachable: kill tests skipped');

const MASTER = 'sk-master-kill';
const TIMEOUT_MS = 240_000;

suite('killing gateways while the store is away', () => {
  let pgdb: PgTestDatabase;
  let proxy: TcpProxy;
  let emulator: Emulator;
  let workdir: string;
  const running: GatewayProcess[] = [];

  beforeAll(async () => {
    pgdb = pgDatabase!;
    proxy = await startTcpProxy(pgdb.url);
    emulator = await startOpenAIEmulator({ flavor: 'openai', tokenDelayMs: 5 });
    workdir = mkdtempSync(join(tmpdir(), 'switchyard-kill-'));
  });
  afterAll(async () => {
    for (const gateway of running) if (gateway.child.exitCode === null) await gateway.kill9();
    await emulator?.close();
    await proxy?.close();
    await pgdb?.drop();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  const config = (spoolDir: string) => ({
    store: {
      url: proxy.url(pgdb.url),
      pool: { size: 4, connectTimeoutMs: 500, acquireTimeoutMs: 800, queryTimeoutMs: 2000 },
      spool: { dir: spoolDir, commitTimeoutMs: 500, replayIntervalMs: 200 },
      readyTimeoutMs: 500,
    },
    auth: { masterKey: MASTER },
    logging: { level: 'error' },
    providers: { up: { type: 'openai', baseUrl: `${emulator.url}/v1`, apiKey: 'sk-up' } },
    models: {
      priced: {
        price: { input: '1', output: '2' },
        deployments: [{ provider: 'up', model: 'gpt-4o-mini' }],
      },
    },
  });
  const start = async (name: string, spoolDir: string) => {
    const gateway = await startGatewayProcess(workdir, name, config(spoolDir));
    running.push(gateway);
    return gateway;
  };

  /** Keeps `concurrency` streaming chats in flight on `gateway` until `stop()`; collects answered ids. */
  const load = (gateway: GatewayProcess, answered: string[], concurrency = 6) => {
    let stopped = false;
    const worker = async () => {
      while (!stopped) {
        try {
          const response = await fetch(`${gateway.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              model: 'priced',
              max_tokens: 8,
              stream: true,
              messages: [{ role: 'user', content: 'count from one to ten' }],
            }),
            signal: AbortSignal.timeout(20_000),
          });
          const text = await response.text();
          if (response.ok && text.includes('data: [DONE]'))
            answered.push(response.headers.get('x-request-id')!);
        } catch {
          if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) return;
        }
      }
    };
    const workers = Promise.all(Array.from({ length: concurrency }, worker));
    return async () => {
      stopped = true;
      await workers;
    };
  };
  const until = async (check: () => boolean) => {
    const deadline = Date.now() + 60_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const segments = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };

  /** After the store is back and a gateway runs on `spoolDir`: every answered id is recorded once. */
  const nothingLost = async (answered: string[], spoolDir: string) => {
    await until(() => segments(spoolDir).length === 0);
    const client = new pg.Client({ connectionString: pgdb.url });
    await client.connect();
    const rows = await client.query<{ request_id: string }>(
      'select request_id from usage_events where request_id = any($1)',
      [answered],
    );
    await client.end();
    expect(new Set(rows.rows.map((row) => row.request_id)).size).toBe(answered.length);
    const database = await createDatabase(pgdb.url);
    try {
      const billing = createBilling({ config: { models: {}, partners: {} }, database });
      expect((await billing.check()).balanced).toBe(true);
      for (const id of answered) expect(await billing.transactions(id)).toHaveLength(1);
    } finally {
      await database.close();
    }
  };

  it(
    'one replica: kill -9 under load while Postgres refuses; the next process replays its spool',
    async () => {
      const spoolDir = join(workdir, 'spool-one');
      const first = await start('one-a', spoolDir);
      const answered: string[] = [];
      const stop = load(first, answered);
      await until(() => answered.length >= 5); // the store is up: committed
      await proxy.refuse();
      const beforeKill = answered.length;
      await until(() => answered.length >= beforeKill + 10); // spooled
      await first.kill9();
      await stop();
      expect(segments(spoolDir).length).toBeGreaterThan(0);
      await proxy.restore();
      await start('one-b', spoolDir);
      await nothingLost(answered, spoolDir);
    },
    TIMEOUT_MS,
  );

  it(
    'two replicas sharing a spool: SIGTERM drains and exits 0, kill -9 leaves its segment; a third replays both',
    async () => {
      const spoolDir = join(workdir, 'spool-two');
      const [a, b] = await Promise.all([start('two-a', spoolDir), start('two-b', spoolDir)]);
      const answered: string[] = [];
      const stops = [load(a, answered, 4), load(b, answered, 4)];
      await until(() => answered.length >= 5);
      await proxy.refuse();
      const before = answered.length;
      await until(() => answered.length >= before + 16);
      const [drained] = await Promise.all([a.terminate(), b.kill9()]);
      expect(drained.code).toBe(0);
      await Promise.all(stops.map((stop) => stop()));
      expect(segments(spoolDir).length).toBeGreaterThan(0);
      await proxy.restore();
      await start('two-c', spoolDir);
      await nothingLost(answered, spoolDir);
    },
    TIMEOUT_MS,
  );
});
