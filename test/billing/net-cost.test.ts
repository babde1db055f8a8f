import { describe, expect, it } from 'vitest';
import { accrue, termsFromConfig } from '../../src/billing/agreements.js';
import { createBilling } from '../../src/billing/billing.js';
import {
  type ClauseStand,
  clauseLoader,
  createAccrualCache,
  createNetCostSource,
  marginalShare,
  priceOf,
} from '../../src/billing/net-cost.js';
import { costMicros, parsePrice } from '../../src/billing/prices.js';
import type { ClauseRecord } from '../../src/store/billing/rows.js';
import { createDatabase, migrate } from '../../src/store/index.js';
import { createCatalog } from '../../src/router/catalog.js';
import { createHealthTracker } from '../../src/router/health.js';
import type { NetCostFigure } from '../../src/router/net-cost.js';
import { createPolicy } from '../../src/router/policy.js';
import { T0, testConfig, usageEvent } from './helpers.js';

const FROM = Date.parse('2026-01-01T00:00:00Z');
const UNTIL = Date.parse('2027-01-01T00:00:00Z');

/** Azure's clause: 20 % of its own sales, capped at 100 µUSD, in 2026. */
function clause(basis: bigint, accrued: bigint, extra: { clouds?: string[] } = {}): ClauseStand {
  return {
    ...termsFromConfig('azure', {
      rate: '0.2',
      cap: '0.0001',
      currency: 'USD',
      from: FROM,
      until: UNTIL,
      basis: 'gross',
      clawback: 'reverse',
      ...extra,
    }),
    id: 'c1',
    basisTotal: basis,
    accruedTotal: accrued,
  };
}

const sale = (at = T0, partner: string | null = 'azure', deployment = 'azure-east') => ({
  partner,
  deployment,
  model: 'unit',
  at,
});

describe('the revenue share owed at the margin', () => {
  it('is the rate inside the window, below the cap', () => {
    expect(marginalShare(clause(0n, 0n), sale(), 100n)).toMatchObject({
      share: 20n,
      state: 'rate',
      accrued: 0n,
      cap: 100n,
      ratePpm: 200_000n,
    });
  });

  it('is only what is left below the cap on the sale that reaches it', () => {
    // 450 µUSD of basis and 90 accrued: 550 × 20 % = 110 is over the cap, so 10 is left.
    expect(marginalShare(clause(450n, 90n), sale(), 100n)).toMatchObject({
      share: 10n,
      state: 'reaches-cap',
    });
    // Landing exactly on the cap still pays the full rate.
    expect(marginalShare(clause(400n, 80n), sale(), 100n)).toMatchObject({
      share: 20n,
      state: 'reaches-cap',
    });
  });

  it('is zero once the cap is reached', () => {
    expect(marginalShare(clause(500n, 100n), sale(), 1_000_000n)).toMatchObject({
      share: 0n,
      state: 'cap-reached',
    });
  });

  it('is zero before `from` and from `until` on, the rate on the window’s last millisecond', () => {
    expect(marginalShare(clause(0n, 0n), sale(FROM - 1), 100n)).toMatchObject({
      share: 0n,
      state: 'before-window',
    });
    expect(marginalShare(clause(0n, 0n), sale(FROM), 100n)).toMatchObject({ share: 20n });
    expect(marginalShare(clause(0n, 0n), sale(UNTIL - 1), 100n)).toMatchObject({ share: 20n });
    expect(marginalShare(clause(0n, 0n), sale(UNTIL), 100n)).toMatchObject({
      share: 0n,
      state: 'after-window',
    });
  });

  it('does not apply to another partner’s sale unless the clause names that cloud', () => {
    expect(marginalShare(clause(0n, 0n), sale(T0, 'aws', 'bedrock-west'), 100n)).toBeUndefined();
    expect(
      marginalShare(
        clause(0n, 0n, { clouds: ['bedrock-west'] }),
        sale(T0, 'aws', 'bedrock-west'),
        100n,
      ),
    ).toMatchObject({ share: 20n });
  });

  it('predicts exactly what the ledger’s running totals post, sale after sale, across the cap', () => {
    let state = { basis: 0n, accrued: 0n };
    let seed = 7;
    for (let step = 0; step < 200; step++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const revenue = BigInt(seed % 13);
      const predicted = marginalShare(clause(state.basis, state.accrued), sale(), revenue)!;
      const booked = accrue(state, { ratePpm: 200_000n, cap: 100n }, revenue, 'up');
      expect(predicted.share).toBe(booked.delta);
      state = { basis: booked.basis, accrued: booked.accrued };
    }
    expect(state.accrued).toBe(100n);
  });
});

describe('pricing an estimate', () => {
  it('equals the ledger’s half-even bigint rating, also past 2^53', () => {
    const price = parsePrice({ input: '2.5', output: '10.000001' });
    for (const [inputTokens, outputTokens] of [
      [0, 0],
      [1, 1],
      [333, 777],
      [1_000_000, 3],
      [2 ** 40, 2 ** 40],
    ] as const) {
      const usage = { inputTokens, outputTokens, cachedInputTokens: 0, reasoningTokens: 0 };
      expect(priceOf({ inputTokens, outputTokens }, price)).toBe(
        costMicros(usage, price, 'half-even'),
      );
    }
  });
});

describe('accrual cache: two replicas on one store', () => {
  async function world() {
    const database = await createDatabase('sqlite::memory:');
    await migrate(database);
    const config = testConfig({
      partners: {
        azure: { primary: true, revenueShare: { rate: '0.20', cap: '0.000100' } },
        aws: {},
      },
    });
    const errors: unknown[] = [];
    const options = {
      load: clauseLoader(database),
      now: () => T0,
      onError: (e: unknown) => errors.push(e),
    };
    const here = createAccrualCache(options);
    const there = createAccrualCache(options);
    const billing = createBilling({
      config,
      database,
      clock: () => T0,
      onClauseTotals: here.apply,
    });
    await billing.start();
    await Promise.all([here.refresh(), there.refresh()]);
    return { database, config, billing, here, there, errors };
  }
  const accruedOf = (cache: ReturnType<typeof createAccrualCache>) =>
    cache.shares(sale(), 0n).map((figure) => figure.accrued);

  it('takes this replica’s bookings at once and the other replica’s at its next read', async () => {
    const { database, billing, here, there, errors } = await world();
    expect(accruedOf(here)).toEqual([0n]);
    await billing.record(usageEvent({ inputTokens: 250 })); // 250 µUSD revenue → 50 accrued
    expect(accruedOf(here)).toEqual([50n]);
    expect(accruedOf(there)).toEqual([0n]);
    await there.refresh();
    expect(accruedOf(there)).toEqual([50n]);
    await billing.record(usageEvent({ inputTokens: 1000 }));
    await there.refresh();
    expect(accruedOf(here)).toEqual([100n]);
    expect(there.shares(sale(), 500n)).toMatchObject([
      { accrued: 100n, share: 0n, state: 'cap-reached' },
    ]);
    expect(errors).toEqual([]);
    await database.close();
  });

  it('keeps a local booking that lands while an older read is in flight', async () => {
    const { database, billing } = await world();
    const stale = await clauseLoader(database)();
    let release!: (rows: ClauseRecord[]) => void;
    let calls = 0;
    // The first read answers at once; the second is held until after this replica books.
    const cache = createAccrualCache({
      load: () =>
        calls++ === 0
          ? Promise.resolve(stale)
          : new Promise<ClauseRecord[]>((resolve) => (release = resolve)),
      now: () => T0,
    });
    await cache.refresh();
    const reading = cache.refresh();
    await billing.record(usageEvent({ inputTokens: 250 }));
    cache.apply(
      (await clauseLoader(database)()).map((row) => ({
        id: row.id,
        basis: row.basisTotal,
        accrued: row.accruedTotal,
      })),
    );
    release(stale);
    await reading;
    expect(accruedOf(cache)).toEqual([50n]);
    await database.close();
  });

  it('keeps its figures when a read fails or times out, and says so', async () => {
    const errors: unknown[] = [];
    const cache = createAccrualCache({
      load: () => new Promise<ClauseRecord[]>(() => undefined),
      timeoutMs: 20,
      now: () => T0,
      onError: (error) => errors.push(error),
    });
    await cache.refresh();
    expect(cache.loadedAt).toBeUndefined();
    expect(cache.shares(sale(), 100n)).toEqual([]);
    expect(String(errors[0])).toMatch(/accrual refresh/);
  });
});

describe('lowest-net-cost ordering with live figures', () => {
  it('puts the partner owed a share behind a dearer cloud until its cap is reached', async () => {
    const database = await createDatabase('sqlite::memory:');
    await migrate(database);
    // Customer price 1 µUSD/token; Azure costs 0.5, Bedrock 0.6, OpenAI has no cost (last).
    const config = testConfig({
      partners: {
        azure: { primary: true, revenueShare: { rate: '0.20', cap: '0.000300' } },
        aws: {},
      },
      models: {
        unit: {
          price: { input: '1', output: '1' },
          deployments: [
            { provider: 'openai', model: 'unit' },
            { provider: 'azure-east', model: 'unit', cost: { input: '0.5', output: '0.5' } },
            { provider: 'bedrock-west', model: 'unit-1:0', cost: { input: '0.6', output: '0.6' } },
          ],
        },
      },
    });
    const cache = createAccrualCache({ load: clauseLoader(database), now: () => T0 });
    const billing = createBilling({
      config,
      database,
      clock: () => T0,
      onClauseTotals: cache.apply,
    });
    await billing.start();
    await cache.refresh();
    const policy = createPolicy({
      routing: config.routing,
      health: createHealthTracker(() => T0),
      netCost: createNetCostSource(config, cache),
    });
    const model = createCatalog(config).get('unit')!;
    const plan = (estimate = { inputTokens: 1000, outputTokens: 0 }) => {
      const figures = new Map<string, NetCostFigure>();
      const order = policy
        .plan({ model, now: T0, strategy: 'lowest-net-cost', estimate, figures })
        .map((deployment) => deployment.provider);
      return { order, figures };
    };
    // The configured strategy (primary-first) still applies without the rule's override.
    expect(policy.plan({ model, now: T0 }).map((d) => d.provider)[0]).toBe('azure-east');

    // 1000 tokens: Azure 500 + share 200 (cap 300 far) = 700 > Bedrock 600.
    let { order, figures } = plan();
    expect(order).toEqual(['bedrock-west', 'azure-east', 'openai']);
    expect(figures.get('azure-east/unit')).toMatchObject({
      cloud: 500n,
      revenue: 1000n,
      share: 200n,
      net: 700n,
    });
    expect(figures.get('openai/unit')).toMatchObject({ cloud: null, net: null });

    // Azure books 250 µUSD of share... capped at 300 after 1500 µUSD of revenue: 50 left.
    await billing.record(usageEvent({ inputTokens: 1250 }));
    ({ order, figures } = plan());
    expect(figures.get('azure-east/unit')).toMatchObject({ share: 50n, net: 550n });
    expect(order).toEqual(['azure-east', 'bedrock-west', 'openai']);

    // At the cap the share is zero.
    await billing.record(usageEvent({ inputTokens: 1000 }));
    ({ order, figures } = plan());
    expect(figures.get('azure-east/unit')).toMatchObject({ share: 0n, net: 500n });
    expect(figures.get('azure-east/unit')!.clauses[0]!.state).toBe('cap-reached');
    expect(order[0]).toBe('azure-east');
    await database.close();
  });
});
