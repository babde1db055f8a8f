import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costMicros, parsePrice } from '../../src/billing/prices.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { call, type RunningGateway, startGateway } from '../helpers/gateway.js';

/**
 * Prompt-cache writes have prices of their own (`price.cacheWrite`, `price.cacheWrite1h`) beside
 * cache reads. Checked against the providers' published rates: Anthropic (Claude Sonnet 4.5:
 * input $3, 5-minute write $3.75 = 1.25×, 1-hour write $6 = 2×, read $0.30 = 0.1×, output $15 per
 * 1M tokens) and Amazon Bedrock (Claude 3.7 Sonnet on Bedrock: input $3, cache write $3.75,
 * cache read $0.30, output $15).
 */

const ANTHROPIC = {
  input: '3',
  cachedInput: '0.3',
  cacheWrite: '3.75',
  cacheWrite1h: '6',
  output: '15',
};
const BEDROCK = { input: '3', cachedInput: '0.3', cacheWrite: '3.75', output: '15' };

describe('cache-write prices', () => {
  it("Anthropic's multipliers: 5-minute write 1.25× input, 1-hour write 2×, read 0.1×", () => {
    const price = parsePrice(ANTHROPIC);
    expect(price.cacheWrite * 100n).toBe(price.input * 125n);
    expect(price.cacheWrite1h).toBe(price.input * 2n);
    expect(price.cachedInput * 10n).toBe(price.input);
    // 10 000 input tokens: 1 000 fresh, 2 000 read, 7 000 written (3 000 of them for an hour).
    const usage = {
      inputTokens: 10_000,
      cachedInputTokens: 2_000,
      cacheWriteTokens: 7_000,
      cacheWrite1hTokens: 3_000,
      outputTokens: 500,
      reasoningTokens: 0,
    };
    // 1000 × $3 + 2000 × $0.30 + 4000 × $3.75 + 3000 × $6 + 500 × $15 per 1M tokens, in µUSD:
    expect(costMicros(usage, price)).toBe(3_000n + 600n + 15_000n + 18_000n + 7_500n);
  });

  it('without cacheWrite, writes are priced as input (as before); cacheWrite1h defaults to cacheWrite', () => {
    const plain = parsePrice({ input: '3', output: '15' });
    expect(plain.cacheWrite).toBe(plain.input);
    expect(plain.cacheWrite1h).toBe(plain.input);
    expect(parsePrice(BEDROCK).cacheWrite1h).toBe(parsePrice(BEDROCK).cacheWrite);
  });

  it('a usage block claiming more cache tokens than input never prices a token twice', () => {
    const price = parsePrice(ANTHROPIC);
    const usage = {
      inputTokens: 100,
      cachedInputTokens: 80,
      cacheWriteTokens: 80,
      cacheWrite1hTokens: 200,
      outputTokens: 0,
      reasoningTokens: 0,
    };
    // 80 read + the 20 tokens left, written (for an hour, capped to the writes): 80 × $0.30 +
    // 20 × $6 per 1M tokens = 24 + 120 µUSD.
    expect(costMicros(usage, price)).toBe(144n);
  });
});

describe('cache writes through Bedrock, metered and booked', () => {
  let upstream: FakeUpstream;
  let gateway: RunningGateway;
  beforeAll(async () => {
    upstream = await startFakeUpstream();
    upstream.script([
      {
        body: {
          output: { message: { role: 'assistant', content: [{ text: 'cached' }] } },
          stopReason: 'end_turn',
          usage: {
            inputTokens: 1_000,
            cacheReadInputTokens: 2_000,
            cacheWriteInputTokens: 40_000,
            outputTokens: 500,
            totalTokens: 43_500,
          },
          metrics: { latencyMs: 10 },
        },
      },
    ]);
    gateway = await startGateway({
      auth: { masterKey: 'sk-cache-master-0123' },
      partners: { aws: { primary: true } },
      providers: {
        bedrock: {
          type: 'bedrock',
          partner: 'aws',
          region: 'us-east-1',
          baseUrl: upstream.url,
          accessKeyId: 'AKIDCACHE',
          secretAccessKey: 'cache-secret',
        },
      },
      models: {
        claude: {
          price: BEDROCK,
          deployments: [{ provider: 'bedrock', model: 'anthropic.claude-3-7-sonnet' }],
        },
      },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('the usage row carries cache reads and writes; the ledger prices writes at cacheWrite', async () => {
    const answer = await call(`${gateway.url}/v1/chat/completions`, {
      headers: { authorization: 'Bearer sk-cache-master-0123' },
      body: { model: 'claude', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.usage.prompt_tokens_details).toMatchObject({
      cached_tokens: 2_000,
      cache_write_tokens: 40_000,
    });
    const requestId = String(answer.headers['x-request-id']);
    const row = await gateway.app.usage.get(requestId);
    expect(row).toMatchObject({
      inputTokens: 43_000,
      cachedInputTokens: 2_000,
      cacheWriteTokens: 40_000,
    });
    // 1000 × $3 + 2000 × $0.30 + 40 000 × $3.75 + 500 × $15 per 1M tokens, in µUSD.
    const [posted] = await gateway.app.billing.transactions(requestId);
    expect(posted!.revenue).toBe(3_000n + 600n + 150_000n + 7_500n);
    expect(answer.headers['x-switchyard-cost']).toBe('0.1611');
  });

  it('reports sum cache reads and writes, from the raw rows and from the rollups alike', async () => {
    const answer = await call(`${gateway.url}/v1/chat/completions`, {
      headers: { authorization: 'Bearer sk-cache-master-0123' },
      body: { model: 'claude', messages: [{ role: 'user', content: 'hi again' }] },
    });
    expect(answer.status).toBe(200);
    const row = await gateway.app.usage.get(String(answer.headers['x-request-id']));
    const at = row!.createdAt;
    const day = 86_400_000;
    // Around the request only (raw rows), and over days either side (hourly and daily rollups).
    const ranges = [
      { from: at - 1, to: at + 1 },
      { from: at - 3 * day - 12_345, to: at + 3 * day + 6_789 },
    ];
    const [raw, rolled] = await Promise.all(
      ranges.map((range) => gateway.app.billing.report({ ...range, groupBy: ['model'] })),
    );
    expect(raw).toHaveLength(1);
    expect(raw![0]).toMatchObject({
      requests: 1,
      cachedInputTokens: 2_000,
      cacheWriteTokens: 40_000,
      cacheWrite1hTokens: 0,
    });
    // Both requests of this suite, summed by the rollups written with the ledger.
    expect(rolled![0]).toMatchObject({
      requests: 2,
      cachedInputTokens: 4_000,
      cacheWriteTokens: 80_000,
    });

    // The admin API shows the same sums.
    const from = new Date(ranges[1]!.from).toISOString();
    const to = new Date(ranges[1]!.to).toISOString();
    const api = await fetch(
      `${gateway.url}/admin/v1/billing/usage?from=${from}&to=${to}&group_by=model`,
      { headers: { authorization: 'Bearer sk-cache-master-0123' } },
    );
    expect(api.status).toBe(200);
    const data = ((await api.json()) as { data: Array<Record<string, unknown>> }).data;
    expect(data[0]).toMatchObject({
      model: 'claude',
      cached_input_tokens: 4_000,
      cache_write_tokens: 80_000,
      cache_write_1h_tokens: 0,
    });
  });
});
