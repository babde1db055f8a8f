import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/index.js';
import { scaledToDecimal } from '../../src/core/money.js';
import {
  call,
  cloudProviders,
  type Clouds,
  type RunningGateway,
  startClouds,
  startGateway,
} from '../helpers/gateway.js';
import { streamRequest } from '../helpers/sse.js';

/**
 * Billing wired into the running gateway: every answered request is metered into the ledger
 * before the client gets the end of the answer (case 2 end to end: a failover is charged once,
 * to the cloud that served), and the /admin/v1/billing API over HTTP.
 */

const MASTER = 'sk-master-billing-0123456789';
let clouds: Clouds;
let gateway: RunningGateway;
const auth = { authorization: `Bearer ${MASTER}` };

beforeAll(async () => {
  clouds = await startClouds();
  const providers = cloudProviders(clouds);
  const config: ConfigInput = {
    auth: { masterKey: MASTER },
    partners: {
      azure: { primary: true, revenueShare: { rate: '0.20', basis: 'net' } },
      openai: { revenueShare: { rate: '0.10', cap: '0.000050', basis: 'gross' } },
    },
    providers: { 'azure-v1': providers['azure-v1'], openai: providers.openai },
    models: {
      'gpt-4o-mini': {
        price: { input: '1', output: '2' },
        deployments: [
          { provider: 'azure-v1', model: 'gpt-4o-mini', cost: { input: '0.5', output: '1' } },
          { provider: 'openai', model: 'gpt-4o-mini', cost: { input: '0.25', output: '0.5' } },
        ],
      },
    },
  };
  gateway = await startGateway(config);
});

afterAll(async () => {
  await gateway?.close();
  await clouds?.close();
});

const chat = (stream = false) =>
  call(`${gateway.url}/v1/chat/completions`, {
    headers: auth,
    body: {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'say hello from the gateway' }],
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    },
  });

describe('billing through the gateway and the admin API', () => {
  it('charges a request when it is answered, to the cloud that served it (failover)', async () => {
    const answer = await chat();
    expect(answer.status).toBe(200);
    const requestId = String(answer.headers['x-request-id']);
    const { prompt_tokens: input, completion_tokens: output } = answer.body.usage as {
      prompt_tokens: number;
      completion_tokens: number;
    };
    // Committed before the answer ended: no waiting needed.
    const ledger = await call(
      `${gateway.url}/admin/v1/billing/requests/${requestId}/transactions`,
      { headers: auth },
    );
    expect(ledger.body.data).toHaveLength(1);
    const revenue = BigInt(input) * 1n + BigInt(output) * 2n; // µ$ (1 and 2 $ per 1M tokens)
    expect(ledger.body.data[0]).toMatchObject({
      id: `u:${requestId}`,
      kind: 'usage',
      revenue: scaledToDecimal(revenue, 6),
    });
    expect(
      ledger.body.data[0].entries.map((entry: { account: string }) => entry.account),
    ).toContain('share_payable:azure');

    clouds.azure.setDown(true);
    try {
      const failover = await chat(true);
      expect(failover.status).toBe(200);
      const id = String(failover.headers['x-request-id']);
      const [transaction] = (
        await call(`${gateway.url}/admin/v1/billing/requests/${id}/transactions`, { headers: auth })
      ).body.data;
      const accounts = transaction.entries.map((entry: { account: string }) => entry.account);
      expect(accounts).toEqual(expect.arrayContaining(['cost:openai', 'share_payable:openai']));
      expect(accounts.some((account: string) => account.includes('azure'))).toBe(false);
    } finally {
      clouds.azure.setDown(false);
    }
    const report = await call(
      `${gateway.url}/admin/v1/billing/usage?group_by=partner,cloud&from=0`,
      { headers: auth },
    );
    expect(report.status).toBe(200);
    expect(
      report.body.data
        .map((row: { partner: string; cloud: string; requests: number }) => [
          row.partner,
          row.cloud,
          row.requests,
        ])
        .sort(),
    ).toEqual([
      ['azure', 'azure-v1', 1],
      ['openai', 'openai', 1],
    ]);
  });

  it('serves statements as JSON and CSV, refunds, credits, reversals, agreements, balances and a ledger check', async () => {
    const answer = await chat();
    const requestId = String(answer.headers['x-request-id']);
    const period = new Date().toISOString().slice(0, 7);

    const refund = await call(`${gateway.url}/admin/v1/billing/refunds`, {
      headers: auth,
      body: { request_id: requestId, amount: '0.000001', id: 'rf-api-1' },
    });
    expect(refund.status).toBe(201);
    expect(refund.body).toMatchObject({ id: 'r:rf-api-1', created: true, revenue: '-0.000001' });
    expect(
      (
        await call(`${gateway.url}/admin/v1/billing/refunds`, {
          headers: auth,
          body: { request_id: requestId, amount: '0.000001', id: 'rf-api-1' },
        })
      ).status,
    ).toBe(200);
    const badAmount = await call(`${gateway.url}/admin/v1/billing/refunds`, {
      headers: auth,
      body: { request_id: requestId, amount: 0.5 },
    });
    expect(badAmount.status).toBe(400);
    const credit = await call(`${gateway.url}/admin/v1/billing/credits`, {
      headers: auth,
      body: { tenant_id: 'default', amount_micros: '5' },
    });
    expect(credit.status).toBe(201);
    const reversal = await call(
      `${gateway.url}/admin/v1/billing/transactions/${encodeURIComponent(credit.body.id)}/reverse`,
      { headers: auth, body: {} },
    );
    expect(reversal.body).toMatchObject({ created: true, revenue: '0.000005' });

    const statement = await call(
      `${gateway.url}/admin/v1/billing/statements/partner/azure/${period}`,
      { headers: auth },
    );
    expect(statement.body).toMatchObject({
      object: 'statement',
      kind: 'partner',
      subject: 'azure',
      period,
      status: 'draft',
      currency: 'USD',
    });
    expect(statement.body.entries.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    const csv = await call(
      `${gateway.url}/admin/v1/billing/statements/customer/default/${period}?format=csv`,
      { headers: auth },
    );
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.text.split('\r\n')[0]).toBe(
      'statement,subject,period,status,line,model,cloud,adjusts_period,transactions,amount_usd,accrued_usd,hash,input_tokens,cached_input_tokens,cache_write_tokens,cache_write_1h_tokens,output_tokens',
    );
    expect(csv.text).toContain(',total,');
    const early = await call(`${gateway.url}/admin/v1/billing/periods/${period}/close`, {
      headers: auth,
      body: {},
    });
    expect(early.status).toBe(400);

    const agreements = await call(`${gateway.url}/admin/v1/billing/agreements`, { headers: auth });
    expect(
      agreements.body.data.map((clause: { id: string; rate: string }) => [clause.id, clause.rate]),
    ).toEqual([
      ['azure', '0.2'],
      ['openai', '0.1'],
    ]);
    const put = await call(`${gateway.url}/admin/v1/billing/agreements/openai`, {
      method: 'PUT',
      headers: auth,
      body: { rate: '0.10', cap: '1000', basis: 'gross' },
    });
    expect(put.body).toMatchObject({
      change: 'updated',
      agreement: { cap: '1000', source: 'admin' },
    });
    const invalid = await call(`${gateway.url}/admin/v1/billing/agreements/openai`, {
      method: 'PUT',
      headers: auth,
      body: { rate: 0.1 },
    });
    expect(invalid.status).toBe(400);

    const balances = await call(`${gateway.url}/admin/v1/billing/balances`, { headers: auth });
    expect(balances.body.total).toBe('0');
    const check = await call(`${gateway.url}/admin/v1/billing/check`, { headers: auth });
    expect(check.body).toMatchObject({ balanced: true, unbalanced_transactions: [] });
    const anonymous = await call(`${gateway.url}/admin/v1/billing/check`);
    expect(anonymous.status).toBe(401);
  });

  it('a streamed answer is metered before its last byte reaches the client', async () => {
    const answer = await streamRequest(
      `${gateway.url}/v1/chat/completions`,
      {
        model: 'gpt-4o-mini',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'count to three' }],
      },
      auth,
    );
    expect(answer.done).toBe(true);
    const requestId = String(answer.headers['x-request-id']);
    const ledger = await call(
      `${gateway.url}/admin/v1/billing/requests/${requestId}/transactions`,
      { headers: auth },
    );
    expect(ledger.body.data).toHaveLength(1);
  });
});
