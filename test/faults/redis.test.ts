import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { adminClient, chat, chatBody } from '../access/helpers.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { redisTestUrl, uniquePrefix } from '../helpers/redis.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * Redis behind a breakable proxy, under a gateway: when Redis stalls (accepts, answers nothing)
 * or refuses, rate limits fall back to per-process memory windows and budgets answer their
 * documented 503, without waiting on Redis; when it comes back, shared counting resumes by
 * itself. (How long a request takes meanwhile is measured by scripts/chaos.ts, not asserted.)
 */

const redisUrl = await redisTestUrl();
const suite = redisUrl ? describe : describe.skip;
if (!redisUrl) console.warn('Redis not reachable: Redis fault tests skipped');

const MASTER = 'sk-master-redis-faults';

suite('gateway while Redis is away', () => {
  let proxy: TcpProxy;
  let emulator: Emulator;
  let gateway: RunningGateway;
  let limited: string;
  let budgeted: string;

  beforeAll(async () => {
    proxy = await startTcpProxy(redisUrl!);
    emulator = await startOpenAIEmulator({ flavor: 'openai' });
    gateway = await startGateway({
      redis: proxy.url(redisUrl!),
      redisPrefix: uniquePrefix('redis-faults'),
      redisCommandTimeoutMs: 200,
      auth: { masterKey: MASTER },
      providers: { up: { type: 'openai', baseUrl: `${emulator.url}/v1`, apiKey: 'sk-up' } },
      models: {
        priced: {
          price: { input: '1', output: '1' },
          deployments: [{ provider: 'up', model: 'gpt-4o-mini' }],
        },
      },
    });
    const admin = adminClient(gateway.url, MASTER);
    limited = (await admin.setup({ key: { limits: { rpm: 1000 } } })).secret;
    budgeted = (
      await admin.setup({ key: { budget: { amount_micros: '100000000', period: 'total' } } })
    ).secret;
  });
  afterAll(async () => {
    await gateway?.close();
    await emulator?.close();
    await proxy?.close();
  });

  const body = chatBody('priced', 3);
  const statuses = async () => [
    (await chat(gateway.url, limited, body)).status,
    (await chat(gateway.url, budgeted, body)).status,
  ];

  it('stall: limits fall back to memory, budgets answer 503 with retry-after; both recover', async () => {
    expect(await statuses()).toEqual([200, 200]);
    proxy.stall();
    const limitedAnswer = await chat(gateway.url, limited, body);
    expect(limitedAnswer.status).toBe(200);
    const budgetAnswer = await chat(gateway.url, budgeted, body);
    expect(budgetAnswer.status).toBe(503);
    expect(budgetAnswer.headers['retry-after']).toBeDefined();
    // Marked stalled: the next request does not wait for Redis at all, and still gets an answer.
    expect((await chat(gateway.url, limited, body)).status).toBe(200);
    await proxy.restore();
    await eventually(async () => expect(await statuses()).toEqual([200, 200]));
  });

  it('refuse: the same fallbacks at once, and recovery when Redis comes back', async () => {
    await proxy.refuse();
    await eventually(async () => expect(await statuses()).toEqual([200, 503]));
    await proxy.restore();
    await eventually(async () => expect(await statuses()).toEqual([200, 200]));
  });
});

/** Retries `check` for up to 15 s (reconnects and the watchdog run on their own timers). */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await check();
      return;
    } catch (error) {
      if (attempt >= 150) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
