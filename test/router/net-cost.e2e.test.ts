import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database, migrate } from '../../src/store/index.js';
import { call, cloudProviders, type Clouds, startClouds } from '../helpers/gateway.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import { MASTER_KEY, type RunningApp, startApp, TENANT_A_KEY } from '../runtime/helpers.js';

/**
 * `lowest-net-cost` on the sandbox clouds with two Switchyard replicas on one Postgres.
 *
 * Model `gpt` runs on Azure (cloud price 100 USD/1M tokens) and OpenAI (300 USD/1M). Azure is
 * owed 50 % of the revenue (price 1000 USD/1M) of its own sales up to a cap of 0.1 USD. While
 * the cap is far, Azure's net cost per token is 100 + 500 = 600 µUSD·1M against OpenAI's 300,
 * so OpenAI serves; `gpt-azure` (Azure only) then books share from both replicas concurrently
 * until the cap is reached, after which Azure's marginal share is zero (net 100 < 300) and
 * both replicas send `gpt` to Azure: the replica that booked at once, the other one as soon
 * as it re-reads the clause totals from the shared store.
 */

const pgDatabase = await pgTestUrl();
const CAP_MICROS = 100_000n;

describe.skipIf(!pgDatabase)('lowest-net-cost across two replicas on Postgres', () => {
  let clouds: Clouds;
  let databases: Database[];
  let replicas: [RunningApp, RunningApp];
  const client = (index: 0 | 1) =>
    new OpenAI({ baseURL: `${replicas[index].url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
  const ask = async (index: 0 | 1, model: string) => {
    const { data, response } = await client(index)
      .chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Say hello in three words.' }],
        max_tokens: 40,
      })
      .withResponse();
    return { data, headers: response.headers };
  };
  const view = async (index: 0 | 1) => {
    const answer = await call(
      `${replicas[index].url}/v1/routing?input_tokens=20&output_tokens=40`,
      {
        headers: { authorization: `Bearer ${MASTER_KEY}` },
      },
    );
    expect(answer.status).toBe(200);
    return answer.body.data.find((entry: { model: string }) => entry.model === 'gpt');
  };
  const azureClause = async () => {
    const clauses = await replicas[0].app.billing.clauses();
    return clauses.find((clause) => clause.partner === 'azure' && clause.status === 'active')!;
  };

  beforeAll(async () => {
    clouds = await startClouds();
    databases = [await createDatabase(pgDatabase!.url), await createDatabase(pgDatabase!.url)];
    await migrate(databases[0]!);
    const providers = cloudProviders(clouds);
    const config = {
      partners: {
        azure: {
          revenueShare: { rate: '0.5', cap: '0.1', from: '2020-01-01', until: '2100-01-01' },
        },
        openai: {},
      },
      providers: { openai: providers.openai, 'azure-v1': providers['azure-v1'] },
      models: {
        gpt: {
          price: { input: '1000', output: '1000' },
          deployments: [
            { provider: 'openai', model: 'gpt-4o-mini', cost: { input: '300', output: '300' } },
            { provider: 'azure-v1', model: 'gpt-4o-mini', cost: { input: '100', output: '100' } },
          ],
        },
        'gpt-azure': {
          price: { input: '1000', output: '1000' },
          deployments: [
            { provider: 'azure-v1', model: 'gpt-4o-mini', cost: { input: '100', output: '100' } },
          ],
        },
      },
      routing: { strategy: 'lowest-net-cost' as const },
    };
    replicas = [
      await startApp(config, { database: databases[0]! }),
      await startApp(config, { database: databases[1]! }),
    ];
  });
  afterAll(async () => {
    await Promise.all(replicas?.map((replica) => replica.close()) ?? []);
    await Promise.all(databases?.map((database) => database.close()) ?? []);
    await clouds?.close();
    await pgDatabase?.drop();
  });

  it('flips the order from OpenAI to Azure when Azure’s share cap is reached mid-period', async () => {
    // Before: the share at the margin makes Azure dearer on both replicas.
    for (const index of [0, 1] as const) {
      const before = await ask(index, 'gpt');
      expect(before.headers.get('x-switchyard-deployment')).toBe('openai');
      const figures = before.headers.get('x-switchyard-net-costs')!;
      expect(figures.split(', ').map((part) => part.split(';')[0])).toEqual([
        'openai/gpt-4o-mini',
        'azure-v1/gpt-4o-mini',
      ]);
      expect(figures).toContain('azure:rate');
      expect(Number(before.headers.get('x-switchyard-net-cost'))).toBeGreaterThan(0);
      const routing = await view(index);
      expect(routing.order).toEqual(['openai/gpt-4o-mini', 'azure-v1/gpt-4o-mini']);
      const azure = routing.deployments.find(
        (d: { provider: string }) => d.provider === 'azure-v1',
      );
      expect(azure.net_cost.shares[0]).toMatchObject({
        partner: 'azure',
        state: 'rate',
        rate: '0.5',
      });
    }
    expect((await azureClause()).accruedTotal).toBe(0n);

    // Azure-only traffic from both replicas at once, while replica 1 keeps asking for `gpt`.
    const served: string[] = [];
    let capReached = false;
    const burst = async (index: 0 | 1) => {
      for (let round = 0; round < 40 && !capReached; round++) {
        await Promise.all(Array.from({ length: 3 }, () => ask(index, 'gpt-azure')));
        capReached = (await azureClause()).accruedTotal >= CAP_MICROS;
      }
    };
    const watcher = async () => {
      while (!capReached)
        served.push((await ask(1, 'gpt')).headers.get('x-switchyard-deployment')!);
    };
    await Promise.all([burst(0), burst(1), watcher()]);
    const clause = await azureClause();
    // The ledger never passes the cap, however the bookings of two replicas interleave.
    expect(clause.accruedTotal).toBe(CAP_MICROS);
    expect(served[0]).toBe('openai');

    // Replica 0 booked part of the accruals itself and re-reads the rest: once it sees the cap,
    // `gpt` goes to Azure. Both replicas get there within their refresh interval.
    for (const index of [0, 1] as const) {
      const deadline = Date.now() + 30_000;
      let routing = await view(index);
      while (routing.order[0] !== 'azure-v1/gpt-4o-mini' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        routing = await view(index);
      }
      expect(routing.order).toEqual(['azure-v1/gpt-4o-mini', 'openai/gpt-4o-mini']);
      const azure = routing.deployments.find(
        (d: { provider: string }) => d.provider === 'azure-v1',
      );
      expect(azure.net_cost.shares[0]).toMatchObject({
        state: 'cap-reached',
        share_usd: '0',
        accrued_usd: '0.1',
        cap_usd: '0.1',
      });
      const after = await ask(index, 'gpt');
      expect(after.headers.get('x-switchyard-deployment')).toBe('azure-v1');
      expect(after.headers.get('x-switchyard-net-costs')).toContain('azure:cap-reached');
    }
    expect((await azureClause()).accruedTotal).toBe(CAP_MICROS);
  });
});

if (!pgDatabase) it.skip(PG_SKIP_MESSAGE, () => undefined);

describe('the strategy rule action through the gateway (SQLite)', () => {
  let clouds: Clouds;
  let app: RunningApp;
  beforeAll(async () => {
    clouds = await startClouds();
    const providers = cloudProviders(clouds);
    app = await startApp({
      partners: {
        azure: { primary: true, revenueShare: { rate: '0.5' } },
        openai: {},
      },
      providers: { openai: providers.openai, 'azure-v1': providers['azure-v1'] },
      models: {
        gpt: {
          price: { input: '1000', output: '1000' },
          deployments: [
            { provider: 'openai', model: 'gpt-4o-mini', cost: { input: '300', output: '300' } },
            { provider: 'azure-v1', model: 'gpt-4o-mini', cost: { input: '100', output: '100' } },
          ],
        },
      },
      routing: { rules: [{ when: { tag: 'net' }, strategy: 'lowest-net-cost' as const }] },
    });
  });
  afterAll(async () => {
    await app?.close();
    await clouds?.close();
  });

  it('orders by net cost only the requests the rule matches', async () => {
    const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
    const send = (headers: Record<string, string>) =>
      client.chat.completions
        .create(
          { model: 'gpt', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 },
          { headers },
        )
        .withResponse();
    // No tag: primary-first sends it to Azure, and no net-cost figures are claimed.
    const plain = await send({});
    expect(plain.response.headers.get('x-switchyard-deployment')).toBe('azure-v1');
    expect(plain.response.headers.get('x-switchyard-net-cost')).toBeNull();
    // Tagged: Azure's 50 % share makes OpenAI the cheaper cloud for the operator.
    const tagged = await send({ 'x-switchyard-tags': 'net' });
    expect(tagged.response.headers.get('x-switchyard-deployment')).toBe('openai');
    const costs = tagged.response.headers.get('x-switchyard-net-costs')!;
    expect(costs).toMatch(/^openai\/gpt-4o-mini;net=[\d.]+;cloud=[\d.]+;share=0;state=none, /);
    expect(costs).toMatch(
      /azure-v1\/gpt-4o-mini;net=[\d.]+;cloud=[\d.]+;share=[\d.]+;state=azure:rate$/,
    );
    const net = Number(tagged.response.headers.get('x-switchyard-net-cost'));
    expect(net).toBeGreaterThan(0);
  });
});
