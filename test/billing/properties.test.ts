import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accrue, legs, shareOf } from '../../src/billing/index.js';
import { parsePeriod, periodOf } from '../../src/billing/periods.js';
import { GatewayError } from '../../src/errors/index.js';
import {
  billingTargets,
  clauseTotals,
  expectReconciled,
  startBilling,
  testClock,
  testConfig,
  usageEvent,
} from './helpers.js';

/** Property tests: the running-total rule, conservation of every posting, and whole ledgers under random operations. */

const money = (max: bigint) => fc.bigInt({ min: 0n, max });
const rate = fc.bigInt({ min: 0n, max: 1_000_000n });
const cap = fc.option(money(10_000_000n), { nil: null });

describe('the running-total rule', () => {
  it('in any order, accruals sum to min(cap, floor(rate × basis)), never negative, never past the cap', () => {
    fc.assert(
      fc.property(
        fc.array(money(5_000_000n), { maxLength: 60 }),
        rate,
        cap,
        (revenues, ratePpm, capValue) => {
          const terms = { ratePpm, cap: capValue };
          for (const order of [
            revenues,
            [...revenues].reverse(),
            [...revenues].sort((a, b) => (a < b ? -1 : 1)),
          ]) {
            let state = { basis: 0n, accrued: 0n };
            let posted = 0n;
            for (const revenue of order) {
              const step = accrue(state, terms, revenue, 'up');
              expect(step.delta >= 0n).toBe(true);
              posted += step.delta;
              state = { basis: step.basis, accrued: step.accrued };
              if (capValue !== null) expect(state.accrued <= capValue).toBe(true);
            }
            const basis = revenues.reduce((sum, value) => sum + value, 0n);
            expect(posted).toBe(shareOf(basis, terms));
            expect(state).toEqual({ basis, accrued: shareOf(basis, terms) });
          }
        },
      ),
    );
  });

  it('with refunds clawed back, accrued = min(cap, floor(rate × basis)) after every step and the basis stays ≥ 0', () => {
    const operation = fc.oneof(
      money(1_000_000n).map((amount) => ({ amount })),
      money(1_500_000n).map((amount) => ({ amount: -amount })),
    );
    fc.assert(
      fc.property(
        fc.array(operation, { maxLength: 80 }),
        rate,
        cap,
        (operations, ratePpm, capValue) => {
          const terms = { ratePpm, cap: capValue };
          let state = { basis: 0n, accrued: 0n };
          for (const { amount } of operations) {
            state = accrue(state, terms, amount, amount >= 0n ? 'up' : 'down');
            expect(state.basis >= 0n).toBe(true);
            expect(state.accrued).toBe(shareOf(state.basis, terms));
          }
        },
      ),
    );
  });

  it('3: 1,000,000 events of 1 µ$ at 20% accrue exactly 200,000 µ$', () => {
    let state = { basis: 0n, accrued: 0n, delta: 0n };
    let posted = 0n;
    for (let index = 0; index < 1_000_000; index++) {
      state = accrue(state, { ratePpm: 200_000n, cap: null }, 1n, 'up');
      posted += state.delta;
    }
    expect({ posted, accrued: state.accrued }).toEqual({ posted: 200_000n, accrued: 200_000n });
  });

  it('12: a $50,000,000,000 cap and 10^12 events overflow nothing', () => {
    const capMicros = 50_000_000_000n * 1_000_000n;
    // 10^12 events of 1 µ$, then 10^12 events of $1: totals far beyond 2^53, exact in BigInt.
    let state = accrue(
      { basis: 0n, accrued: 0n },
      { ratePpm: 200_000n, cap: capMicros },
      1_000_000_000_000n,
      'up',
    );
    expect(state.accrued).toBe(200_000_000_000n);
    state = accrue(
      state,
      { ratePpm: 200_000n, cap: capMicros },
      1_000_000_000_000n * 1_000_000n,
      'up',
    );
    expect(state).toEqual({
      basis: 1_000_001_000_000_000_000n,
      accrued: capMicros,
      delta: capMicros - 200_000_000_000n,
    });
    expect(BigInt(JSON.parse(JSON.stringify({ v: String(state.basis) })).v)).toBe(state.basis);
  });
});

describe('postings', () => {
  it('every posting nets to zero', () => {
    const amount = fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n });
    fc.assert(
      fc.property(
        amount,
        amount,
        fc.array(fc.record({ partner: fc.constantFrom('azure', 'aws'), amount }), { maxLength: 4 }),
        (revenue, cost, accruals) => {
          const posted = legs({ tenantId: 't', provider: 'p', revenue, cost, accruals });
          expect(posted.reduce((sum, leg) => sum + leg.amount, 0n)).toBe(0n);
          expect(posted.every((leg) => leg.amount !== 0n)).toBe(true);
        },
      ),
    );
  });

  it('periods: every instant falls in exactly one period, which parses back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.constantFrom('month' as const, 'week' as const, 'day' as const),
        (at, unit) => {
          const period = periodOf(at, unit);
          expect(period.startsAt <= at && at < period.endsAt).toBe(true);
          expect(parsePeriod(period.id, unit)).toEqual(period);
        },
      ),
    );
  });
});

const targets = await billingTargets();

type Operation =
  | {
      kind: 'usage';
      tokens: number;
      aws: boolean;
      day: number;
      model: 'unit' | 'gpt-oss-120b';
      failed: boolean;
    }
  | { kind: 'refund'; pick: number; percent: number | null }
  | { kind: 'credit'; amount: number }
  | { kind: 'reverse'; pick: number }
  | { kind: 'close' };

const operations = fc.array(
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('usage' as const),
        tokens: fc.integer({ min: 0, max: 50_000 }),
        aws: fc.boolean(),
        day: fc.integer({ min: 0, max: 40 }),
        model: fc.constantFrom('unit' as const, 'gpt-oss-120b' as const),
        failed: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('refund' as const),
        pick: fc.nat(),
        percent: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('credit' as const),
        amount: fc.integer({ min: 1, max: 10_000 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('reverse' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const) }) },
  ),
  { minLength: 1, maxLength: 30 },
);

describe.each(targets)('random operations on $name', (target) => {
  it('keep the ledger at zero, statements reconciled, frozen statements unchanged and accrued = min(cap, floor(rate × basis))', async () => {
    await fc.assert(
      fc.asyncProperty(operations, async (ops: Operation[]) => {
        const database = await target.open();
        const clock = testClock(Date.parse('2026-10-20T00:00:00Z'));
        const billing = await startBilling(database, testConfig(), clock);
        const requests: string[] = [];
        const transactions: string[] = [];
        let frozen: string | undefined;
        try {
          for (const op of ops) {
            if (op.kind === 'usage') {
              const event = usageEvent({
                createdAt: Date.parse('2026-10-01T00:00:00Z') + op.day * 86_400_000,
                model: op.model,
                inputTokens: op.tokens,
                outputTokens: op.tokens % 7,
                status: op.failed && op.tokens % 2 === 0 ? 'error' : 'ok',
                ...(op.aws
                  ? { deployment: 'bedrock-west', upstreamModel: 'unit-1:0', partner: 'aws' }
                  : {}),
              });
              const outcome = await billing.record(event);
              if (outcome.status === 'posted') {
                requests.push(event.requestId);
                transactions.push(outcome.transactionId);
              }
            } else if (op.kind === 'refund' && requests.length > 0) {
              const requestId = requests[op.pick % requests.length]!;
              const remaining = (await billing.transactions(requestId)).reduce(
                (sum, transaction) => sum + transaction.revenue,
                0n,
              );
              if (remaining <= 0n) continue;
              const amount =
                op.percent === null ? undefined : (remaining * BigInt(op.percent) + 99n) / 100n;
              transactions.push(
                (await billing.refund({ requestId, ...(amount === undefined ? {} : { amount }) }))
                  .transactionId,
              );
            } else if (op.kind === 'credit') {
              await billing.credit({ tenantId: 'acme', amount: BigInt(op.amount) });
            } else if (op.kind === 'reverse' && transactions.length > 0) {
              await billing
                .reverse({ transactionId: transactions[op.pick % transactions.length]! })
                .catch((error: unknown) => {
                  if (!(error instanceof GatewayError && error.status === 409)) throw error;
                });
            } else if (op.kind === 'close' && frozen === undefined) {
              clock.set('2026-11-15T00:00:00Z');
              await billing.closePeriod('2026-10');
              frozen = JSON.stringify(await billing.statement('partner', 'azure', '2026-10'));
            }
          }
          await expectReconciled(billing, database);
          if (frozen !== undefined)
            expect(JSON.stringify(await billing.statement('partner', 'azure', '2026-10'))).toBe(
              frozen,
            );
          for (const id of ['azure', 'aws']) {
            const totals = await clauseTotals(billing, id);
            expect(totals.basis >= 0n).toBe(true);
            expect(totals.accrued).toBe(
              shareOf(totals.basis, { ratePpm: id === 'azure' ? 200_000n : 100_000n, cap: null }),
            );
          }
        } finally {
          if (target.name === 'sqlite') await database.close();
        }
      }),
      { numRuns: target.name === 'sqlite' ? 25 : 8 },
    );
  }, 180_000);
});
