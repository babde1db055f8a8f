import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { waitFor } from '../agent/helpers.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { redisTestUrl, uniquePrefix } from '../helpers/redis.js';

/**
 * Reserved capacity (issue 18 item 3) over real sockets: an emulated Azure provisioned (PTU)
 * deployment first, pay-as-you-go OpenAI behind it, clients on the openai SDK with its own
 * retries off, so any 429 that reached a client would fail the test.
 * - the PTU answers 429 (its minute is used): the gateway spills to pay-as-you-go at once, the
 *   breaker of the PTU deployment stays closed, and the next requests skip the PTU;
 * - the gateway's own tokens-per-minute window of the deployment fills: requests spill without
 *   the PTU being called at all;
 * - two replicas sharing Redis fill one window together: the tokens served by reserved capacity
 *   never pass `reservedTpm` across both.
 */

const AZURE_KEY = 'azure-ptu-key-0123456789';
const OPENAI_KEY = 'sk-payg-0123456789';
const MASTER = 'sk-master-commitments-0123456789';
/** Prompt of ~25 emulator tokens; with max_tokens 20 each request takes < 50 tokens. */
const PROMPT =
  'say one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen';

let azure: Emulator;
let payg: Emulator;
const gateways: RunningGateway[] = [];

beforeAll(async () => {
  azure = await startOpenAIEmulator({
    flavor: 'azure',
    apiKey: AZURE_KEY,
    // 100 tokens per minute: two or three requests, then 429.
    ptu: { 'gpt-4o-mini-ptu': 100 },
  });
  payg = await startOpenAIEmulator({ flavor: 'openai', apiKey: OPENAI_KEY });
});
afterAll(async () => {
  await Promise.all(gateways.map((gateway) => gateway.close()));
  await azure?.close();
  await payg?.close();
});

function config(model: string, upstream: string, reservedTpm: number, extra: object = {}) {
  return {
    auth: { masterKey: MASTER },
    partners: { azure: { name: 'Azure' }, openai: { name: 'OpenAI' } },
    providers: {
      'azure-ptu': {
        type: 'azure-openai' as const,
        partner: 'azure',
        baseUrl: azure.url,
        apiKey: AZURE_KEY,
        apiVersion: '2024-10-21',
      },
      payg: {
        type: 'openai' as const,
        partner: 'openai',
        baseUrl: `${payg.url}/v1`,
        apiKey: OPENAI_KEY,
      },
    },
    models: {
      [model]: {
        deployments: [
          { provider: 'azure-ptu', model: upstream, reservedTpm },
          { provider: 'payg', model: 'gpt-4o-mini' },
        ],
      },
    },
    // No retries: spilling over must not need one.
    routing: { retries: 0 },
    ...extra,
  };
}

async function ask(gateway: RunningGateway, model: string) {
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: MASTER, maxRetries: 0 });
  const { data, response } = await client.chat.completions
    .create({ model, max_tokens: 20, messages: [{ role: 'user', content: PROMPT }] })
    .withResponse();
  return { completion: data, deployment: response.headers.get('x-switchyard-deployment') };
}

describe('reserved capacity (reservedTpm) on the sandbox Azure PTU', () => {
  it('an upstream 429 from the PTU spills to pay-as-you-go at once, without opening its breaker', async () => {
    const gateway = await startGateway(config('ptu-429', 'gpt-4o-mini-ptu', 1_000_000));
    gateways.push(gateway);
    azure.requests = 0;
    const served: string[] = [];
    // Until the PTU's minute is used and a request lands on pay-as-you-go.
    for (let i = 0; i < 10 && !served.includes('payg'); i++) {
      const { completion, deployment } = await ask(gateway, 'ptu-429');
      expect(completion.choices[0]!.message.content).toBeTruthy();
      served.push(deployment!);
    }
    expect(served[0]).toBe('azure-ptu');
    expect(served.at(-1)).toBe('payg');
    const onPtu = served.filter((name) => name === 'azure-ptu').length;
    // The PTU saw every request it served plus the one it refused with 429.
    expect(azure.requests).toBe(onPtu + 1);

    const events = await waitFor(async () => {
      const all = await gateway.app.usage.list({ model: 'ptu-429' });
      return all.length === served.length ? all : undefined;
    });
    const spilled = events.find((event) => event.deployment === 'payg')!;
    expect(spilled.attemptLog.map((attempt) => [attempt.provider, attempt.status])).toEqual([
      ['azure-ptu', 429],
      ['payg', 200],
    ]);
    expect(spilled.httpStatus).toBe(200);
    // Expected spill-over, not a failure: the breaker did not count it.
    const health = gateway.app.health.get('azure-ptu/gpt-4o-mini-ptu');
    expect(health.state).toBe('closed');
    expect(health.consecutiveFailures).toBe(0);
    expect(health.recent.filter(Boolean)).toHaveLength(0);

    // Known full now (retry-after-ms): the next requests go to pay-as-you-go first.
    const before = azure.requests;
    for (let i = 0; i < 3; i++) expect((await ask(gateway, 'ptu-429')).deployment).toBe('payg');
    expect(azure.requests).toBe(before);
  }, 60_000);

  it('a used-up tokens-per-minute window spills before the PTU is called, and no 429 reaches the client', async () => {
    // The gateway's window (90 tokens) is smaller than what the upstream would take.
    const gateway = await startGateway(config('ptu-tpm', 'gpt-4o-mini-big', 90));
    gateways.push(gateway);
    azure.requests = 0;
    const served: Array<{ deployment: string; id: string }> = [];
    for (let i = 0; i < 8; i++) {
      const { completion, deployment } = await ask(gateway, 'ptu-tpm');
      served.push({ deployment: deployment!, id: completion.id });
    }
    const onPtu = served.filter((item) => item.deployment === 'azure-ptu');
    expect(onPtu.length).toBeGreaterThan(0);
    expect(served.some((item) => item.deployment === 'payg')).toBe(true);
    // Every Azure call was one it served: nothing was refused upstream.
    expect(azure.requests).toBe(onPtu.length);
    const events = await waitFor(async () => {
      const all = await gateway.app.usage.list({ model: 'ptu-tpm' });
      return all.length === served.length ? all : undefined;
    });
    let reservedTokens = 0;
    for (const event of events) {
      expect(event.httpStatus).toBe(200);
      if (event.deployment === 'payg') {
        // Spilled without an attempt on the PTU.
        expect(event.attemptLog.map((attempt) => attempt.provider)).toEqual(['payg']);
        expect(event.attempts).toBe(1);
      } else reservedTokens += event.inputTokens + event.outputTokens;
    }
    expect(reservedTokens).toBeGreaterThan(0);
    expect(reservedTokens).toBeLessThanOrEqual(90);
  }, 60_000);

  it('two replicas sharing Redis fill one window: reserved tokens never pass reservedTpm across both', async (context) => {
    const redis = await redisTestUrl();
    if (!redis) {
      context.skip();
      return;
    }
    const shared = { redis, redisPrefix: uniquePrefix('commitments') };
    const first = await startGateway(config('ptu-shared', 'gpt-4o-mini-shared', 120, shared));
    const second = await startGateway(config('ptu-shared', 'gpt-4o-mini-shared', 120, shared));
    gateways.push(first, second);
    const served: Array<{ gateway: RunningGateway; deployment: string; id: string }> = [];
    // Concurrent pairs, one request on each replica.
    for (let i = 0; i < 5; i++) {
      const pair = await Promise.all(
        [first, second].map(async (gateway) => ({
          gateway,
          ...(await ask(gateway, 'ptu-shared')),
        })),
      );
      for (const item of pair)
        served.push({
          gateway: item.gateway,
          deployment: item.deployment!,
          id: item.completion.id,
        });
    }
    const reserved = served.filter((item) => item.deployment === 'azure-ptu');
    expect(reserved.length).toBeGreaterThan(0);
    expect(served.some((item) => item.deployment === 'payg')).toBe(true);
    let tokens = 0;
    for (const gateway of [first, second]) {
      const events = await waitFor(async () => {
        const all = await gateway.app.usage.list({ model: 'ptu-shared' });
        return all.length === served.filter((item) => item.gateway === gateway).length
          ? all
          : undefined;
      });
      for (const event of events)
        if (event.deployment === 'azure-ptu') tokens += event.inputTokens + event.outputTokens;
    }
    // Each replica alone would admit up to 120; together they share the one window.
    expect(tokens).toBeGreaterThan(0);
    expect(tokens).toBeLessThanOrEqual(120);
  }, 60_000);
});
