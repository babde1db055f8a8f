import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { adminClient, send } from '../access/helpers.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { pgTestUrl, type PgTestDatabase } from '../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * A gateway whose Postgres goes away (refused, then stalled) behind a breakable proxy, driven
 * with the OpenAI and Anthropic SDKs: master-key and known virtual-key requests keep being
 * answered, their usage is spooled and replayed once the store is back (one usage row per
 * answered request, a balanced ledger), a key that cannot be decided gets 503
 * `store_unavailable` with retry-after in each surface's shape, and /readyz answers without
 * hanging.
 */

const pgDatabase = await pgTestUrl();
const suite = pgDatabase ? describe : describe.skip;
if (!pgDatabase) console.warn('Postgres not reachable: gateway store fault tests skipped');

const MASTER = 'sk-master-store-faults';

suite('gateway while the store is away', () => {
  let pg: PgTestDatabase;
  let proxy: TcpProxy;
  let emulator: Emulator;
  let gateway: RunningGateway;
  let spoolDir: string;
  let knownKey: string;
  const answered: string[] = [];

  beforeAll(async () => {
    pg = pgDatabase!;
    proxy = await startTcpProxy(pg.url);
    emulator = await startOpenAIEmulator({ flavor: 'openai' });
    spoolDir = mkdtempSync(join(tmpdir(), 'switchyard-spool-'));
    gateway = await startGateway({
      store: {
        url: proxy.url(pg.url),
        pool: { size: 4, connectTimeoutMs: 300, acquireTimeoutMs: 400, queryTimeoutMs: 500 },
        spool: { dir: spoolDir, commitTimeoutMs: 300, replayIntervalMs: 100 },
        readyTimeoutMs: 300,
      },
      auth: {
        masterKey: MASTER,
        keyCache: { ttlMs: 50, staleWhileErrorMs: 60_000, lookupTimeoutMs: 300 },
      },
      providers: { up: { type: 'openai', baseUrl: `${emulator.url}/v1`, apiKey: 'sk-up' } },
      models: {
        priced: {
          price: { input: '1', output: '2' },
          deployments: [{ provider: 'up', model: 'gpt-4o-mini' }],
        },
      },
    });
    const admin = adminClient(gateway.url, MASTER);
    knownKey = (await admin.setup()).secret;
  });
  afterAll(async () => {
    await gateway?.close();
    await emulator?.close();
    await proxy?.close();
    await pg?.drop();
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
  });

  const openai = (key: string) =>
    new OpenAI({ apiKey: key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  const chat = async (key: string) => {
    const { response } = await openai(key)
      .chat.completions.create({
        model: 'priced',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'count to five' }],
      })
      .withResponse();
    answered.push(response.headers.get('x-request-id')!);
  };
  const ready = () => send(`${gateway.url}/readyz`, 'GET', undefined);
  const spoolWaiting = async () => {
    const text = (await send(`${gateway.url}/metrics`, 'GET', MASTER)).body as string;
    return Number(/^switchyard_usage_spool_waiting (\d+)/m.exec(text)?.[1] ?? 'NaN');
  };
  const drained = async () => {
    for (let i = 0; i < 200; i++) {
      if ((await spoolWaiting()) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('spool did not drain');
  };
  /** Every answered request has its usage row, and the ledger balances. */
  const nothingLost = async () => {
    await drained();
    for (const id of answered) expect(await gateway.app.usage.get(id), id).toBeDefined();
    const check = await gateway.app.billing.check();
    expect(check.balanced).toBe(true);
    const postings = await Promise.all(answered.map((id) => gateway.app.billing.transactions(id)));
    expect(postings.every((list) => list.length === 1)).toBe(true);
  };

  it('serves known keys and spools usage while Postgres refuses connections; undecidable keys get 503 in each shape', async () => {
    await chat(knownKey); // the key is now in the cache
    await proxy.refuse();

    await chat(MASTER);
    await chat(knownKey); // stale-while-error
    await chat(MASTER);

    const unknown = 'sk-sy-never-seen-0123456789abcdef';
    const error = await openai(unknown)
      .chat.completions.create({ model: 'priced', messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('store_unavailable');
    expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('1');

    const anthropic = new Anthropic({ apiKey: unknown, baseURL: gateway.url, maxRetries: 0 });
    const refused = await anthropic.messages
      .create({ model: 'priced', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(Anthropic.APIError);
    expect((refused as InstanceType<typeof Anthropic.APIError>).status).toBe(503);
    expect((refused as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: 'error',
      error: { message: expect.stringMatching(/store is unavailable/) },
    });

    const converse = await send(`${gateway.url}/model/priced/converse`, 'POST', unknown, {
      messages: [{ role: 'user', content: [{ text: 'hi' }] }],
    });
    expect(converse.status).toBe(503);
    expect(String(converse.headers['x-amzn-errortype'])).toMatch(/^ServiceUnavailableException/);
    expect(converse.body).toMatchObject({ message: expect.stringMatching(/store is unavailable/) });

    const readiness = await ready();
    expect(readiness.status).toBe(503);
    expect(readiness.body.checks.store).not.toBe('ok');
    expect(await spoolWaiting()).toBeGreaterThan(0);

    await proxy.restore();
    await nothingLost();
    expect((await ready()).status).toBe(200);
  });

  it('answers in bounded time while Postgres stalls, and works again (no hung lookup) once it is back', async () => {
    await chat(knownKey);
    proxy.stall();
    await chat(MASTER); // usage commit times out → spooled
    await chat(knownKey); // lookup times out → stale answer
    const readiness = await ready(); // bounded by readyTimeoutMs
    expect(readiness.status).toBe(503);
    expect(readiness.body.checks.store).toMatch(/timed out/);
    await proxy.restore();
    await chat(knownKey);
    await chat(MASTER);
    await nothingLost();
  });
});
