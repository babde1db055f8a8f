import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateTokens } from '../../src/access/estimate.js';
import type { ConfigInput } from '../../src/config/index.js';
import { scaledToDecimal } from '../../src/core/money.js';
import { type FakeRequest, type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { PG_SKIP_MESSAGE, type PgTestDatabase, pgTestUrl } from '../helpers/postgres.js';
import { redisTestUrl, uniquePrefix } from '../helpers/redis.js';
import { adminClient, type Answer, chat, send } from './helpers.js';

/**
 * A hard budget that cannot cover a request's worst case (no max_tokens: 4096 output tokens)
 * lowers the upstream's output limit to what its remainder buys, reserves exactly that, and
 * says so in `x-switchyard-budget-max-tokens`; it refuses (402, a payment error in each
 * surface's shape) only when the remainder cannot buy the input and 16 output tokens. Clamps
 * stay exact under concurrency, in one process and across replicas sharing Redis.
 */

const MASTER = 'sk-clamp-master-0123456789';
// 1 µUSD per input token, 2 per output token: costs are whole µUSD, with no rounding.
const PRICE = { input: '1', output: '2' };
const messages = [{ role: 'user', content: 'hi' }];
const INPUT = estimateTokens({ model: 'm', messages } as never, 'chat').inputTokens;

/** The fake cloud uses every token it was allowed (so spend shows any overdraw), slowly. */
function script(upstream: FakeUpstream, delayMs: number) {
  upstream.script((request: FakeRequest) => {
    const body = JSON.parse(request.body) as { max_completion_tokens?: number };
    const output = body.max_completion_tokens ?? 4096;
    return {
      headersDelayMs: delayMs,
      body: {
        id: 'chatcmpl-clamp',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [
          { index: 0, finish_reason: 'length', message: { role: 'assistant', content: 'x' } },
        ],
        usage: { prompt_tokens: INPUT, completion_tokens: output, total_tokens: INPUT + output },
      },
    };
  });
}

function config(upstream: FakeUpstream, extra: object = {}): ConfigInput {
  return {
    auth: { masterKey: MASTER },
    providers: { fake: { type: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-fake' } },
    models: { m: { price: PRICE, deployments: [{ provider: 'fake', model: 'm' }] } },
    ...extra,
  } as ConfigInput;
}

async function budgetKey(url: string, micros: number) {
  return adminClient(url, MASTER).setup({
    key: { budget: { amount_micros: String(micros), period: 'month', mode: 'hard' } },
  });
}

describe('budget clamping, one process', () => {
  let upstream: FakeUpstream;
  let gateway: RunningGateway;
  beforeAll(async () => {
    upstream = await startFakeUpstream();
    script(upstream, 0);
    gateway = await startGateway(config(upstream));
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('a $0.001 budget answers "hi" with the output its remainder buys, and says so', async () => {
    const { secret } = await budgetKey(gateway.url, 1000);
    upstream.requests.length = 0;
    const answer = await chat(gateway.url, secret, { model: 'm', messages });
    expect(answer.status).toBe(200);
    const lowered = Math.floor((1000 - INPUT) / 2);
    expect(answer.headers['x-switchyard-budget-max-tokens']).toBe(String(lowered));
    expect(JSON.parse(upstream.requests[0]!.body)).toMatchObject({
      max_completion_tokens: lowered,
    });
    // The cloud used all of it: spend reaches the limit and never passes it.
    expect(answer.headers['x-switchyard-cost']).toBe(
      scaledToDecimal(BigInt(INPUT + 2 * lowered), 6),
    );
  });

  it('a request that sets max_tokens is not clamped: refused if it cannot be covered', async () => {
    const { secret } = await budgetKey(gateway.url, 100);
    const answer = await chat(gateway.url, secret, { model: 'm', messages, max_tokens: 1000 });
    expect(answer.status).toBe(402);
  });

  it('refuses with 402 and a payment error type when the remainder cannot buy input + 16 tokens', async () => {
    const { secret } = await budgetKey(gateway.url, INPUT + 2 * 16 - 1);
    const openai = await chat(gateway.url, secret, { model: 'm', messages });
    expect(openai.status).toBe(402);
    expect(openai.body.error).toMatchObject({
      type: 'insufficient_quota',
      code: 'budget_exceeded',
    });
    expect(openai.body.error.message).toMatch(/16 output tokens/);
    const anthropic = await sendAnthropic(gateway.url, secret);
    expect(anthropic.status).toBe(402);
    expect(anthropic.body).toMatchObject({ type: 'error', error: { type: 'billing_error' } });
    // Exactly enough: admitted, with 16 output tokens.
    const { secret: enough } = await budgetKey(gateway.url, INPUT + 2 * 16);
    const admitted = await chat(gateway.url, enough, { model: 'm', messages });
    expect(admitted.status).toBe(200);
    expect(admitted.headers['x-switchyard-budget-max-tokens']).toBe('16');
  });

  it('concurrent clamps never reserve past the limit', async () => {
    script(upstream, 100);
    const { secret, key } = await budgetKey(gateway.url, 5000);
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => chat(gateway.url, secret, { model: 'm', messages })),
    );
    expectExact(answers, await spentOf(gateway, String(key.id)), 5000);
    script(upstream, 0);
  });
});

const redisUrl = await redisTestUrl();
const pg: PgTestDatabase | undefined = redisUrl ? await pgTestUrl() : undefined;
if (!redisUrl) console.warn('Redis not reachable: the replica clamp test is skipped.');
else if (!pg) console.warn(PG_SKIP_MESSAGE);

describe.skipIf(!redisUrl || !pg)('budget clamping, two replicas on one Redis', () => {
  let upstream: FakeUpstream;
  let replicas: RunningGateway[] = [];
  beforeAll(async () => {
    upstream = await startFakeUpstream();
    script(upstream, 100);
    const shared = { store: pg!.url, redis: redisUrl, redisPrefix: uniquePrefix('clamp') };
    replicas = [
      await startGateway(config(upstream, shared)),
      await startGateway(config(upstream, shared)),
    ];
  });
  afterAll(async () => {
    for (const replica of replicas) await replica.close();
    await upstream?.close();
    await pg?.drop();
  });

  it('concurrent clamps on both replicas never reserve past the limit', async () => {
    const { secret, key } = await budgetKey(replicas[0]!.url, 5000);
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        chat(replicas[i % 2]!.url, secret, { model: 'm', messages }),
      ),
    );
    expectExact(answers, await spentOf(replicas[1]!, String(key.id)), 5000);
  });
});

/**
 * Every answer is a clamped 200 or a 402; the clamped outputs, each used whole by the cloud,
 * add up to the spend, and the spend is within the limit (an overdraw would pass it).
 */
function expectExact(answers: Answer[], spent: bigint, limit: number) {
  const admitted = answers.filter((answer) => answer.status === 200);
  expect(admitted.length).toBeGreaterThan(0);
  for (const answer of answers) expect([200, 402]).toContain(answer.status);
  const booked = admitted.reduce((sum, answer) => {
    const lowered = Number(answer.headers['x-switchyard-budget-max-tokens']);
    expect(lowered).toBeGreaterThanOrEqual(16);
    return sum + INPUT + 2 * lowered;
  }, 0);
  expect(spent).toBe(BigInt(booked));
  expect(spent).toBeLessThanOrEqual(BigInt(limit));
}

async function spentOf(gateway: RunningGateway, keyId: string): Promise<bigint> {
  const levels = await gateway.app.access.admin.status('key', keyId);
  return levels.find((level) => level.kind === 'key')!.spend!.spentMicros;
}

/** A Messages call; Anthropic requires max_tokens, and 100 output tokens are beyond this budget. */
function sendAnthropic(url: string, key: string): Promise<Answer> {
  return send(`${url}/v1/messages`, 'POST', key, { model: 'm', max_tokens: 100, messages });
}
