import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { PG_SKIP_MESSAGE, type PgTestDatabase, pgTestUrl } from '../helpers/postgres.js';
import { redisTestUrl, uniquePrefix } from '../helpers/redis.js';
import { adminClient, chat, chatBody, statusCounts } from './helpers.js';

/**
 * Three Switchyard processes sharing one Postgres database and one Redis: budgets, rate limits
 * and revocations hold across all of them.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const WORKER = join(ROOT, 'test/access/fixtures/worker.ts');
const MASTER = 'sk-master-multi-process';

const redisUrl = await redisTestUrl();
const database: PgTestDatabase | undefined = redisUrl ? await pgTestUrl() : undefined;
const skip = !redisUrl || !database;
if (!redisUrl)
  console.warn(
    'Redis not reachable at redis://127.0.0.1:6379: multi-process access tests skipped. Start Redis or set SWITCHYARD_TEST_REDIS=redis://host:port to run them.',
  );
else if (!database) console.warn(PG_SKIP_MESSAGE);

let emulator: Emulator;
const workers: ChildProcess[] = [];
let urls: string[] = [];
let admin: ReturnType<typeof adminClient>;

async function startWorker(config: object): Promise<string> {
  const child = spawn(TSX, [WORKER], {
    cwd: ROOT,
    env: { ...process.env, SWITCHYARD_TEST_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /READY (\S+)/.exec(chunk.toString());
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${output}`)));
  });
}

describe.skipIf(skip)('three processes sharing Redis and Postgres', () => {
  beforeAll(async () => {
    emulator = await startOpenAIEmulator({ flavor: 'openai' });
    const config = {
      store: database!.url,
      redis: redisUrl,
      redisPrefix: uniquePrefix('access'),
      auth: { masterKey: MASTER },
      logging: { level: 'silent' },
      providers: { up: { type: 'openai', baseUrl: `${emulator.url}/v1`, apiKey: 'sk-up' } },
      models: {
        metered: {
          price: { input: '0', output: '1' },
          deployments: [{ provider: 'up', model: 'gpt-4o-mini' }],
        },
      },
    };
    urls = await Promise.all([0, 1, 2].map(() => startWorker(config)));
    admin = adminClient(urls[0]!, MASTER);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(
      workers.map(async (child) => {
        if (child.exitCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }),
    );
    await emulator?.close();
    await database?.drop();
  }, 60_000);

  it('500 concurrent requests across three processes against a budget for 100: exactly the budget spent', async () => {
    const { key, secret } = await admin.setup({
      key: { budget: { amount_micros: '1000', period: 'month' } },
    });
    const answers = await Promise.all(
      Array.from({ length: 500 }, (_, i) => chat(urls[i % 3]!, secret, chatBody('metered', 10))),
    );
    expect(statusCounts(answers)).toEqual({ 200: 100, 402: 400 });
    for (const answer of answers.filter((item) => item.status === 402))
      expect(answer.body.error.code).toBe('budget_exceeded');

    const client = new pg.Client({ connectionString: database!.url });
    await client.connect();
    try {
      const { rows } = await client.query('select spent from budget_spend where scope = $1', [
        `key:${key.id}:month`,
      ]);
      expect(rows).toEqual([{ spent: '1000' }]);
    } finally {
      await client.end();
    }
    for (const url of urls) {
      const shown = await adminClient(url, MASTER).call('GET', `/keys/${key.id}`);
      expect(shown.levels[2].spend).toMatchObject({
        spent_micros: '1000',
        reserved_micros: '0',
        remaining_micros: '0',
      });
    }
  }, 120_000);

  it('per-model and per-user budget rules stay exact across three processes', async () => {
    const { key, secret } = await admin.setup({
      key: {
        budget_rules: [
          { models: ['metered'], amount_micros: '300', period: 'month' },
          { per_user: true, amount_micros: '100', period: 'month' },
        ],
      },
    });
    // 5 users × 30 requests of 10 µUSD: each user's 100 lets 10 through, the model's 300 caps all at 30.
    const users = ['u1', 'u2', 'u3', 'u4', 'u5'];
    const answers = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        chat(urls[i % 3]!, secret, { ...chatBody('metered', 10), user: users[i % 5] }),
      ),
    );
    expect(statusCounts(answers)).toEqual({ 200: 30, 402: 120 });
    const client = new pg.Client({ connectionString: database!.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ scope: string; spent: string }>(
        'select scope, spent from budget_spend where scope like $1 order by scope',
        [`key:${key.id}:month:%`],
      );
      const byScope = Object.fromEntries(rows.map((row) => [row.scope, BigInt(row.spent)]));
      expect(byScope[`key:${key.id}:month:models=metered`]).toBe(300n);
      const perUser = users.map(
        (user) => byScope[`key:${key.id}:month:models=*:user=${user}`] ?? 0n,
      );
      expect(perUser.reduce((sum, value) => sum + value, 0n)).toBe(300n);
      for (const value of perUser) expect(value <= 100n).toBe(true);
    } finally {
      await client.end();
    }
  }, 120_000);

  it('a rate limit holds across three processes within one request', async () => {
    const { secret } = await admin.setup({ key: { limits: { rpm: 30 } } });
    const answers = await Promise.all(
      Array.from({ length: 90 }, (_, i) => chat(urls[i % 3]!, secret, chatBody('metered', 3))),
    );
    const counts = statusCounts(answers);
    expect(counts[200]).toBeGreaterThanOrEqual(29);
    expect(counts[200]).toBeLessThanOrEqual(30);
    expect((counts[200] ?? 0) + (counts[429] ?? 0)).toBe(90);
  }, 60_000);

  it('a key revoked on one process is refused by the others within one second', async () => {
    const { key, secret } = await admin.setup();
    // Every process has the key cached as valid.
    for (const url of urls)
      expect((await chat(url, secret, chatBody('metered', 3))).status).toBe(200);
    await admin.call('POST', `/keys/${key.id}/revoke`);
    const revokedAt = Date.now();
    const refusedAfter = await Promise.all(
      urls.slice(1).map(async (url) => {
        for (;;) {
          const answer = await chat(url, secret, chatBody('metered', 3));
          if (answer.status === 401) return Date.now() - revokedAt;
          if (Date.now() - revokedAt > 5000) return Number.POSITIVE_INFINITY;
        }
      }),
    );
    for (const ms of refusedAfter) expect(ms).toBeLessThan(1000);
  }, 60_000);

  it('rotation keeps the old secret working for its grace period on every process', async () => {
    const { key, secret } = await admin.setup();
    const rotated = await admin.call('POST', `/keys/${key.id}/rotate`, { grace_seconds: 2 });
    for (const url of urls) {
      expect((await chat(url, rotated.secret, chatBody('metered', 3))).status).toBe(200);
      expect((await chat(url, secret, chatBody('metered', 3))).status).toBe(200);
    }
    await new Promise((resolve) => setTimeout(resolve, 2100));
    for (const url of urls) {
      const old = await chat(url, secret, chatBody('metered', 3));
      expect(old.status).toBe(401);
      expect(old.body.error.message).toMatch(/rotated/);
      expect((await chat(url, rotated.secret, chatBody('metered', 3))).status).toBe(200);
    }
  }, 60_000);
});
