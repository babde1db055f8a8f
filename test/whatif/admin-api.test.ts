import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningGateway, startGateway } from '../helpers/gateway.js';
import { usageEvent } from '../billing/fixtures/events.js';
import { ledgerSnapshot } from './helpers.js';

/** `POST /admin/v1/billing/whatif`: the dashboard's what-if, over the gateway's own store and config. */

const MASTER = 'sk-whatif-admin-master-0123456789';
const NOV = Date.parse('2026-11-10T10:00:00Z');
const URL_PATH = '/admin/v1/billing/whatif';

let gateway: RunningGateway;

beforeAll(async () => {
  gateway = await startGateway({
    auth: { masterKey: MASTER },
    partners: {
      azure: { primary: true, revenueShare: { rate: '0.20' } },
      aws: { revenueShare: { rate: '0.10' } },
    },
    providers: {
      'azure-east': {
        type: 'azure-openai',
        partner: 'azure',
        baseUrl: 'https://example.openai.azure.com',
        apiKey: 'k',
      },
      'bedrock-west': { type: 'bedrock', partner: 'aws', region: 'us-west-2', apiKey: 'k' },
    },
    models: {
      unit: {
        price: { input: '1', output: '1' },
        deployments: [
          { provider: 'azure-east', model: 'unit' },
          { provider: 'bedrock-west', model: 'unit-1:0' },
        ],
      },
    },
  });
  for (let index = 0; index < 4; index += 1)
    await gateway.app.billing.record(
      usageEvent({ requestId: `a${index}`, createdAt: NOV + index, inputTokens: 1000 }),
    );
  await gateway.app.billing.flush();
});

afterAll(async () => {
  await gateway?.close();
});

const master = { authorization: `Bearer ${MASTER}` };
const window = { from: '2026-11-01', to: '2026-12-01' };

describe('POST /admin/v1/billing/whatif', () => {
  it('answers the what-if as JSON and as CSV, and writes nothing', async () => {
    const before = await ledgerSnapshot(gateway.app.database);
    const agreements =
      'partners:\n  azure: { primary: true, revenueShare: { rate: "0.25", cap: "0.0007" } }\n';
    const answer = await call(`${gateway.url}${URL_PATH}`, {
      headers: master,
      body: { agreements, ...window },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.object).toBe('whatif');
    expect(answer.body.total.requests).toBe(4);
    expect(answer.body.total.baseline.accruals).toEqual({ azure: '0.0008' });
    // 25% of 4,000 µUSD is 1,000, capped at 700.
    expect(answer.body.total.alternative.accruals).toEqual({ azure: '0.0007' });
    expect(answer.body.total.difference.margin).toBe('0.0001');

    const csv = await call(`${gateway.url}${URL_PATH}`, {
      headers: master,
      body: { agreements, ...window, format: 'csv' },
    });
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.text).toContain('2026-11,accrual azure,0.0008,0.0007,-0.0001');
    expect(await ledgerSnapshot(gateway.app.database)).toBe(before);
  });

  it('refuses without the master key and explains bad input in the OpenAI error shape', async () => {
    const anonymous = await call(`${gateway.url}${URL_PATH}`, {
      headers: { authorization: 'Bearer sk-not-a-key' },
      body: { agreements: '' },
    });
    expect([401, 403]).toContain(anonymous.status);
    expect(anonymous.body.error.message).toEqual(expect.any(String));

    const badYaml = await call(`${gateway.url}${URL_PATH}`, {
      headers: master,
      body: { agreements: 'partners:\n  azure: { revenueShare: { rate: "much" } }\n' },
    });
    expect(badYaml.status).toBe(400);
    expect(badYaml.body.error.param).toBe('agreements');
    expect(badYaml.body.error.message).toContain('partners.azure.revenueShare.rate');

    const missing = await call(`${gateway.url}${URL_PATH}`, { headers: master, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.error.param).toBe('agreements');

    const badWindow = await call(`${gateway.url}${URL_PATH}`, {
      headers: master,
      body: { agreements: '', from: '2026-12-01', to: '2026-11-01' },
    });
    expect(badWindow.status).toBe(400);
    expect(badWindow.body.error.param).toBe('from');
  });
});
