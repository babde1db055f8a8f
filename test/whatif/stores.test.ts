import { describe, expect, it } from 'vitest';
import { alternativeConfig, NOT_SERVED, runWhatIf } from '../../src/whatif/index.js';
import {
  billingTargets,
  startBilling,
  testClock,
  testConfig,
  usageEvent,
} from '../billing/helpers.js';
import { ledgerFigures, ledgerSnapshot } from './helpers.js';

/**
 * A what-if over usage stored in SQLite and Postgres, worked by hand: Azure's licence ends on
 * 2026-11-01 (mid-window) and AWS's share goes from 10% to 15% with a 50 µUSD cap. Model `unit`
 * earns 1 µUSD per token; Azure costs 0.5 and Bedrock 0.25 µUSD per token.
 */

const OCT = Date.parse('2026-10-15T12:00:00Z');
const NOV = Date.parse('2026-11-10T12:00:00Z');

const ALTERNATIVE = `
partners:
  azure:
    primary: true
    license: { until: 2026-11-01 }
    revenueShare: { rate: "0.20", from: 2019-07-22, until: 2031-01-01, basis: net }
  aws: { revenueShare: { rate: "0.15", cap: "0.00005" } }
`;

function events() {
  return [
    usageEvent({ requestId: 'oct-1', createdAt: OCT, inputTokens: 100 }),
    usageEvent({ requestId: 'oct-2', createdAt: OCT, inputTokens: 200 }),
    usageEvent({ requestId: 'oct-3', createdAt: OCT + 1, inputTokens: 300 }),
    // Failed over from Azure to Bedrock: the replay skips Azure for it as the executor did.
    usageEvent({
      requestId: 'oct-4',
      createdAt: OCT + 2,
      inputTokens: 50,
      deployment: 'bedrock-west',
      upstreamModel: 'unit-1:0',
      partner: 'aws',
      attempts: 2,
      attemptLog: [
        { provider: 'azure-east', status: 503, errorClass: 'upstream_unavailable', ms: 4 },
        { provider: 'bedrock-west', status: 200, errorClass: null, ms: 9 },
      ],
    }),
    usageEvent({ requestId: 'nov-1', createdAt: NOV, inputTokens: 100 }),
    usageEvent({ requestId: 'nov-2', createdAt: NOV + 1, inputTokens: 400 }),
    // Every attempt failed: no deployment, no tokens.
    usageEvent({
      requestId: 'nov-3',
      createdAt: NOV + 2,
      inputTokens: 0,
      deployment: null,
      upstreamModel: null,
      partner: null,
      status: 'error',
      httpStatus: 503,
      errorCode: 'upstream_unavailable',
    }),
  ];
}

describe('what-if over stored usage', async () => {
  for (const target of await billingTargets()) {
    it(`${target.name}: per-period figures worked by hand, baseline = the ledger, ledger untouched`, async () => {
      const database = await target.open();
      try {
        const current = testConfig();
        const billing = await startBilling(database, current, testClock(NOV + 60_000));
        for (const event of events()) await billing.record(event);
        await billing.flush();
        const before = await ledgerSnapshot(database);

        const report = await runWhatIf({
          database,
          current,
          alternative: alternativeConfig(current, ALTERNATIVE),
          from: Date.parse('2026-10-01'),
          to: Date.parse('2026-12-01'),
          pageSize: 2, // pages end inside the instants OCT and NOV (ties read whole)
        });
        expect(await ledgerSnapshot(database)).toBe(before);

        expect(report.periods.map((period) => period.period)).toEqual(['2026-10', '2026-11']);
        const [october, november] = report.periods;
        expect(october!.requests).toBe(4);
        expect(october!.moved).toBe(0);
        expect(october!.baseline).toEqual({
          served: { 'azure-east/unit': 3, 'bedrock-west/unit-1:0': 1 },
          revenue: 650n,
          cost: 312n, // 600 × 0.5 + 50 × 0.25 = 12.5, half to even → 12
          accruals: { azure: 120n, aws: 5n },
          share: 125n,
          margin: 650n - 312n - 125n,
        });
        expect(october!.alternative).toEqual({
          ...october!.baseline,
          accruals: { azure: 120n, aws: 7n }, // floor(50 × 0.15)
          share: 127n,
          margin: 650n - 312n - 127n,
        });

        expect(november!.requests).toBe(3);
        expect(november!.moved).toBe(2);
        expect(november!.baseline).toEqual({
          served: { 'azure-east/unit': 2, [NOT_SERVED]: 1 },
          revenue: 500n,
          cost: 250n,
          accruals: { azure: 100n }, // basis 600 → 1100: 220 − 120
          share: 100n,
          margin: 150n,
        });
        expect(november!.alternative).toEqual({
          // Azure's licence has ended: Bedrock is next in config order.
          served: { 'bedrock-west/unit-1:0': 2, [NOT_SERVED]: 1 },
          revenue: 500n,
          cost: 125n,
          // AWS basis 50 → 150 → 550: 22 (+15), then 82 capped at 50 (+28).
          accruals: { aws: 43n },
          share: 43n,
          margin: 500n - 125n - 43n,
        });
        expect(report.total.alternative.accruals).toEqual({ azure: 120n, aws: 50n });

        // November alone: AWS's cap counts from November unless October counts toward it.
        const alone = await runWhatIf({
          database,
          current,
          alternative: alternativeConfig(current, ALTERNATIVE),
          from: Date.parse('2026-11-01'),
          to: Date.parse('2026-12-01'),
        });
        expect(alone.total.alternative.accruals).toEqual({ aws: 50n }); // 15, then 75 capped
        const withOctober = await runWhatIf({
          database,
          current,
          alternative: alternativeConfig(current, ALTERNATIVE),
          from: Date.parse('2026-11-01'),
          to: Date.parse('2026-12-01'),
          capsFrom: Date.parse('2026-10-01'),
        });
        expect(withOctober.periods.map((period) => period.period)).toEqual(['2026-11']);
        expect(withOctober.total.requests).toBe(3);
        expect(withOctober.total.alternative).toEqual(november!.alternative);
        expect(withOctober.total.baseline).toEqual(november!.baseline);

        // The baseline is what the ledger holds.
        const ledger = await ledgerFigures(database);
        expect(report.total.baseline.revenue).toBe(ledger.revenue);
        expect(report.total.baseline.cost).toBe(ledger.cost);
        expect(report.total.baseline.accruals).toEqual(ledger.accruals);
      } finally {
        if (target.name === 'sqlite') await database.close();
      }
    });
  }
});
