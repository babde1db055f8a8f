import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { adminClient, send } from './helpers.js';

/** Limit and budget refusals in each surface's own error shape. */

const MASTER = 'sk-master-surfaces-test';
let emulator: Emulator;
let gateway: RunningGateway;
let admin: ReturnType<typeof adminClient>;

beforeAll(async () => {
  emulator = await startOpenAIEmulator({ flavor: 'openai' });
  gateway = await startGateway({
    auth: { masterKey: MASTER },
    providers: { up: { type: 'openai', baseUrl: `${emulator.url}/v1`, apiKey: 'sk-up' } },
    models: {
      metered: {
        price: { input: '0', output: '1' },
        deployments: [{ provider: 'up', model: 'gpt-4o-mini' }],
      },
    },
  });
  admin = adminClient(gateway.url, MASTER);
});
afterAll(async () => {
  await gateway?.close();
  await emulator?.close();
});

const messages = {
  model: 'metered',
  max_tokens: 10,
  messages: [
    { role: 'user', content: 'say one two three four five six seven eight nine ten eleven twelve' },
  ],
};
const converse = {
  messages: [
    {
      role: 'user',
      content: [{ text: 'say one two three four five six seven eight nine ten eleven twelve' }],
    },
  ],
  inferenceConfig: { maxTokens: 10 },
};

describe('refusals per surface', () => {
  it('Anthropic Messages: 402 billing_error for a budget, 429 rate_limit_error with retry-after for a limit', async () => {
    const budgeted = await admin.setup({
      key: { budget: { amount_micros: '10', period: 'total' } },
    });
    expect(
      (await send(`${gateway.url}/v1/messages`, 'POST', budgeted.secret, messages)).status,
    ).toBe(200);
    const refused = await send(`${gateway.url}/v1/messages`, 'POST', budgeted.secret, messages);
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({
      type: 'error',
      error: { type: 'billing_error', message: expect.stringMatching(/Budget exceeded/) },
    });

    const limited = await admin.setup({ key: { limits: { rpm: 1 } } });
    expect(
      (await send(`${gateway.url}/v1/messages`, 'POST', limited.secret, messages)).status,
    ).toBe(200);
    const throttled = await send(`${gateway.url}/v1/messages`, 'POST', limited.secret, messages);
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.type).toBe('rate_limit_error');
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('Bedrock Converse with a virtual key as a bearer API key: ServiceQuotaExceededException, ThrottlingException', async () => {
    const budgeted = await admin.setup({
      key: { budget: { amount_micros: '10', period: 'total' } },
    });
    expect(
      (await send(`${gateway.url}/model/metered/converse`, 'POST', budgeted.secret, converse))
        .status,
    ).toBe(200);
    const refused = await send(
      `${gateway.url}/model/metered/converse`,
      'POST',
      budgeted.secret,
      converse,
    );
    expect(refused.headers['x-amzn-errortype']).toMatch(/ServiceQuotaExceededException/);
    expect(refused.body.message).toMatch(/Budget exceeded/);

    const limited = await admin.setup({ key: { limits: { rpm: 1 } } });
    expect(
      (await send(`${gateway.url}/model/metered/converse`, 'POST', limited.secret, converse))
        .status,
    ).toBe(200);
    const throttled = await send(
      `${gateway.url}/model/metered/converse`,
      'POST',
      limited.secret,
      converse,
    );
    expect(throttled.status).toBe(429);
    expect(throttled.headers['x-amzn-errortype']).toMatch(/ThrottlingException/);
  });
});
