import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Billing, burnDown } from '../../src/billing/index.js';
import type { Config } from '../../src/config/index.js';
import type { Database } from '../../src/store/index.js';
import { billingTargets, startBilling, T0, testClock, testConfig, usageEvent } from './helpers.js';

/**
 * The commitment burn-down's ledger query on SQLite and on Postgres: consumed is the upstream
 * cost booked on the partner's providers inside the period, to the µUSD, and nothing else
 * (other partners, the period before). `unit` on azure-east costs 0.5 µUSD per token.
 */

const targets = await billingTargets();

describe.each(targets)('commitment burn-down on $name', (target) => {
  let database: Database;
  let billing: Billing;
  let config: Config;
  const clock = testClock();

  beforeEach(async () => {
    clock.set(T0);
    database = await target.open();
    config = testConfig({
      partners: {
        azure: {
          primary: true,
          revenueShare: { rate: '0.20', basis: 'net' },
          commitment: { spend: '0.001' },
        },
        aws: { revenueShare: { rate: '0.10' }, commitment: { spend: '0.0005' } },
      },
    });
    billing = await startBilling(database, config, clock);
  });

  afterEach(async () => {
    await billing.flush();
    if (target.name === 'sqlite') await database.close();
  });

  it('sums the cost booked on each partner’s providers in the period, exactly', async () => {
    const september = Date.parse('2026-09-30T23:59:59Z');
    const aws = { deployment: 'bedrock-west', upstreamModel: 'unit-1:0', partner: 'aws' };
    const events = [
      usageEvent({ inputTokens: 100 }),
      usageEvent({ inputTokens: 200, outputTokens: 2 }),
      usageEvent({ inputTokens: 301 }),
      usageEvent({ inputTokens: 400, createdAt: september }),
      usageEvent({ inputTokens: 1000, ...aws }),
    ];
    for (const event of events) expect((await billing.record(event)).status).toBe('posted');
    /** The cost the ledger booked for October's requests served by `deployment`. */
    const booked = async (deployment: string) => {
      let sum = 0n;
      for (const event of events)
        if (event.deployment === deployment && event.createdAt >= Date.parse('2026-10-01'))
          for (const transaction of await billing.transactions(event.requestId))
            sum += transaction.cost;
      return sum;
    };

    const rows = await burnDown(database, config, { at: T0 });
    const azure = rows.find((row) => row.partner === 'azure')!;
    const bedrock = rows.find((row) => row.partner === 'aws')!;
    expect(azure.period).toBe('2026-10');
    expect(azure.committed).toBe(1000n);
    expect(azure.consumed).toBe(await booked('azure-east'));
    expect(azure.consumed).toBeGreaterThanOrEqual(301n);
    expect(azure.remaining).toBe(1000n - azure.consumed);
    expect(bedrock.consumed).toBe(250n);
    expect(bedrock.consumed).toBe(await booked('bedrock-west'));
    // The month before holds only the September request.
    const before = await burnDown(database, config, { at: september, partner: 'azure' });
    expect(before.map((row) => row.consumed)).toEqual([200n]);
  });
});
