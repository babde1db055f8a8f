import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Billing } from '../../src/billing/index.js';
import type { Database } from '../../src/store/index.js';
import {
  billingTargets,
  clauseTotals,
  expectReconciled,
  micros,
  startBilling,
  T0,
  testClock,
  testConfig,
  usageEvent,
} from './helpers.js';

/** The cases of ../shared/design/billing.md, on SQLite and on Postgres (10 and 5's multi-process part live in their own files). */

const targets = await billingTargets();

describe.each(targets)('billing cases on $name', (target) => {
  let database: Database;
  let billing: Billing;
  const clock = testClock();

  beforeEach(async () => {
    clock.set(T0);
    database = await target.open();
    billing = await startBilling(database, testConfig(), clock);
  });

  afterEach(async () => {
    await billing.flush();
    // Case 11 after every test: balanced ledger, statements and rollups reconcile.
    await expectReconciled(billing, database);
    if (target.name === 'sqlite') await database.close();
  });

  it('1: the same request id twice gives one revenue transaction and one accrual', async () => {
    const event = usageEvent({ inputTokens: 1000 });
    const [first, second] = await Promise.all([
      billing.record(event),
      billing.record({ ...event }),
    ]);
    const third = await billing.record({ ...event, latencyMs: 999 });
    expect(first.status).toBe('posted');
    expect(second.status).toBe('duplicate');
    expect(third.status).toBe('duplicate');
    const transactions = await billing.transactions(event.requestId);
    expect(transactions).toHaveLength(1);
    expect(transactions[0]!.revenue).toBe(1000n);
    expect(transactions[0]!.share).toBe(200n);
    expect(await clauseTotals(billing, 'azure')).toEqual({ basis: 1000n, accrued: 200n });
    // Same id, different payload: refused, nothing posted.
    await expect(billing.record({ ...event, inputTokens: 5 })).rejects.toMatchObject({
      status: 409,
    });
    expect(await billing.transactions(event.requestId)).toHaveLength(1);
  });

  it('2: a request that failed over from Azure to Bedrock is charged once, to Bedrock', async () => {
    const event = usageEvent({
      deployment: 'bedrock-west',
      upstreamModel: 'unit-1:0',
      partner: 'aws',
      attempts: 2,
      attemptLog: [
        { provider: 'azure-east', status: 503, errorClass: 'overloaded', ms: 30 },
        { provider: 'bedrock-west', status: 200, errorClass: null, ms: 80 },
      ],
      inputTokens: 1000,
    });
    await billing.record(event);
    const [transaction] = await billing.transactions(event.requestId);
    expect(transaction!.revenue).toBe(1000n);
    expect(transaction!.cost).toBe(250n); // bedrock's cost, not azure's
    expect(transaction!.entries).toContainEqual({ account: 'share_payable:aws', amount: -100n });
    expect(transaction!.entries.some((entry) => entry.account.includes('azure'))).toBe(false);
    expect(await clauseTotals(billing, 'azure')).toEqual({ basis: 0n, accrued: 0n });
    const [row] = await billing.report({ from: T0, to: T0 + 1, groupBy: ['partner', 'cloud'] });
    expect(row).toMatchObject({
      dimensions: { partner: 'aws', cloud: 'bedrock-west' },
      requests: 1,
      revenue: 1000n,
      cost: 250n,
      share: 100n,
      margin: 650n,
    });
  });

  it('3: 10,000 events of 1 µ$ at 20% accrue exactly 2,000 µ$, in any order, concurrently', async () => {
    const events = Array.from({ length: 10_000 }, (_, index) =>
      usageEvent({ inputTokens: 1, createdAt: T0 + ((index * 7919) % 10_000) }),
    );
    await Promise.all(events.map((event) => billing.record(event)));
    expect(await clauseTotals(billing, 'azure')).toEqual({ basis: 10_000n, accrued: 2_000n });
  });

  it('4: the cap is reached in the middle of an event: only the headroom accrues, later events nothing', async () => {
    await billing.putAgreement('azure', {
      rate: '0.20',
      cap: '0.000010',
      currency: 'USD',
      basis: 'net',
      clawback: 'reverse',
    });
    const outcomes = [];
    for (const tokens of [30, 30, 30])
      outcomes.push(await billing.record(usageEvent({ inputTokens: tokens })));
    expect(outcomes.map((outcome) => (outcome.status === 'posted' ? outcome.share : null))).toEqual(
      [6n, 4n, 0n],
    );
    const clause = (await billing.clauses()).find(
      (candidate) => candidate.partner === 'azure' && candidate.status === 'active',
    )!;
    expect({ basis: clause.basisTotal, accrued: clause.accruedTotal }).toEqual({
      basis: 90n,
      accrued: 10n,
    });
  });

  it('5: concurrent writers (several billing instances, many connections) never pass the cap', async () => {
    await billing.putAgreement('azure', {
      rate: '0.30',
      cap: '0.005',
      currency: 'USD',
      basis: 'gross',
      clawback: 'reverse',
    });
    const others = [
      billing,
      ...(await Promise.all([1, 2, 3].map(() => startBilling(database, testConfig(), clock)))),
    ];
    const events = Array.from({ length: 2_000 }, (_, index) =>
      usageEvent({ inputTokens: 7 + (index % 13) }),
    );
    await Promise.all(events.map((event, index) => others[index % others.length]!.record(event)));
    const basis = events.reduce((sum, event) => sum + BigInt(event.inputTokens), 0n);
    const clause = (await billing.clauses()).find(
      (candidate) => candidate.partner === 'azure' && candidate.status === 'active',
    )!;
    expect(clause.basisTotal).toBe(basis);
    const expected = (basis * 300_000n) / 1_000_000n;
    expect(clause.accruedTotal).toBe(expected < 5_000n ? expected : 5_000n);
  });

  it('6: an event at 23:59:59.999 before the end accrues; one at the end instant does not; streams follow their start', async () => {
    const last = await billing.record(
      usageEvent({ createdAt: Date.parse('2030-12-31T23:59:59.999Z'), inputTokens: 100 }),
    );
    const after = await billing.record(
      usageEvent({ createdAt: Date.parse('2031-01-01T00:00:00.000Z'), inputTokens: 100 }),
    );
    // A stream that began before the end and finished after it: its start decides.
    const stream = await billing.record(
      usageEvent({
        createdAt: Date.parse('2030-12-31T23:59:50Z'),
        latencyMs: 60_000,
        stream: true,
        inputTokens: 100,
      }),
    );
    expect(
      [last, after, stream].map((outcome) => (outcome.status === 'posted' ? outcome.share : null)),
    ).toEqual([20n, 0n, 20n]);
    expect(await clauseTotals(billing, 'azure')).toEqual({ basis: 200n, accrued: 40n });
  });

  it('7: a late event for a closed period becomes an adjustment in the open one; the closed statement does not change', async () => {
    await billing.record(
      usageEvent({ createdAt: Date.parse('2026-10-10T00:00:00Z'), inputTokens: 1000 }),
    );
    clock.set('2026-11-02T00:00:00Z');
    await expect(billing.closePeriod('2026-11')).rejects.toMatchObject({ status: 400 });
    const closed = await billing.closePeriod('2026-10');
    expect(closed.closed).toBe(true);
    const before = await billing.statement('partner', 'azure', '2026-10');
    const customerBefore = await billing.statement('customer', 'acme', '2026-10');
    expect(before.status).toBe('final');
    expect(before.totals['accrued']).toBe('0.0002');

    const late = usageEvent({
      createdAt: Date.parse('2026-10-31T23:59:59.999Z'),
      inputTokens: 500,
    });
    await billing.record(late);
    const [transaction] = await billing.transactions(late.requestId);
    expect(transaction).toMatchObject({ period: '2026-11', adjustsPeriod: '2026-10' });
    expect(await billing.statement('partner', 'azure', '2026-10')).toEqual(before);
    expect(await billing.statement('customer', 'acme', '2026-10')).toEqual(customerBefore);
    const november = await billing.statement('partner', 'azure', '2026-11');
    expect(november.status).toBe('draft');
    expect(november.lines).toEqual([
      {
        kind: 'usage',
        model: 'unit',
        cloud: 'azure-east',
        adjusts_period: '2026-10',
        transactions: 1,
        amount: '0.0005',
        accrued: '0.0001',
        // The late event's tokens, on the adjustment line that books it.
        input_tokens: late.inputTokens,
        cached_input_tokens: 0,
        cache_write_tokens: 0,
        cache_write_1h_tokens: 0,
        output_tokens: 0,
      },
    ]);
    expect(november.totals['adjustments']).toBe('0.0001');
    expect((await billing.closePeriod('2026-10')).closed).toBe(false);
  });

  it('8: a price change mid-period prices each event by when it happened, not when it arrived', async () => {
    const usage = {
      model: 'gpt-oss-120b',
      inputTokens: 1_000_000,
      cachedInputTokens: 200_000,
      outputTokens: 100_000,
    };
    const later = usageEvent({ ...usage, createdAt: Date.parse('2026-10-20T00:00:00Z') });
    const earlier = usageEvent({ ...usage, createdAt: Date.parse('2026-10-19T23:59:59.999Z') });
    clock.set('2026-10-21T00:00:00Z');
    const [a, b] = [await billing.record(later), await billing.record(earlier)];
    // Old: 0.8M × 0.15 + 0.2M × 0.075 + 0.1M × 0.60 = 0.195 $; new: 0.8M × 0.10 + 0.2M × 0.05 + 0.1M × 0.40 = 0.13 $.
    expect(a.status === 'posted' && a.revenue).toBe(130_000n);
    expect(b.status === 'posted' && b.revenue).toBe(195_000n);
  });

  it('9: refunds after the cap follow the clawback policy; the basis never goes negative; pre-agreement revenue leaves the clause alone', async () => {
    await billing.putAgreement('azure', {
      rate: '0.20',
      cap: '0.000100',
      currency: 'USD',
      from: Date.parse('2026-10-01'),
      basis: 'net',
      clawback: 'reverse',
    });
    const clauseId = () =>
      billing
        .clauses()
        .then(
          (all) =>
            all.find((clause) => clause.partner === 'azure' && clause.status === 'active')!.id,
        );
    const id = await clauseId();
    const events = [usageEvent({ inputTokens: 400 }), usageEvent({ inputTokens: 400 })];
    for (const event of events) await billing.record(event);
    expect(await clauseTotals(billing, id)).toEqual({ basis: 800n, accrued: 100n }); // capped (160 → 100)
    // A refund that leaves the share above the cap claws nothing back.
    expect((await billing.refund({ requestId: events[0]!.requestId, amount: 100n })).share).toBe(
      0n,
    );
    expect(await clauseTotals(billing, id)).toEqual({ basis: 700n, accrued: 100n });
    // One that takes it below the cap claws back down to the formula.
    expect((await billing.refund({ requestId: events[0]!.requestId })).share).toBe(-20n);
    expect(await clauseTotals(billing, id)).toEqual({ basis: 400n, accrued: 80n });
    await expect(
      billing.refund({ requestId: events[0]!.requestId, amount: 1n }),
    ).rejects.toMatchObject({ status: 400 });

    // Revenue from before the agreement: refunding it leaves the clause untouched.
    const early = usageEvent({ createdAt: Date.parse('2026-09-30T23:00:00Z'), inputTokens: 1000 });
    await billing.record(early);
    expect(await clauseTotals(billing, id)).toEqual({ basis: 400n, accrued: 80n });
    expect((await billing.refund({ requestId: early.requestId })).share).toBe(0n);
    expect(await clauseTotals(billing, id)).toEqual({ basis: 400n, accrued: 80n });

    // clawback: none keeps what was accrued; the basis still falls, never below zero.
    await billing.putAgreement('azure', {
      rate: '0.20',
      cap: '0.000100',
      currency: 'USD',
      from: Date.parse('2026-10-01'),
      basis: 'net',
      clawback: 'none',
    });
    expect((await billing.refund({ requestId: events[1]!.requestId })).share).toBe(0n);
    expect(await clauseTotals(billing, id)).toEqual({ basis: 0n, accrued: 80n });
    // Gross basis: a refund does not touch the clause at all.
    const aws = usageEvent({ deployment: 'bedrock-west', partner: 'aws', inputTokens: 1000 });
    await billing.record(aws);
    await billing.refund({ requestId: aws.requestId });
    expect(await clauseTotals(billing, 'aws')).toEqual({ basis: 1000n, accrued: 100n });
  });

  it('12: a $50,000,000,000 cap and huge totals overflow nothing; money survives JSON round trips', async () => {
    await billing.putAgreement('azure', {
      rate: '0.20',
      cap: '50000000000',
      currency: 'USD',
      basis: 'gross',
      clawback: 'reverse',
    });
    // Each event: 10^12 tokens at 1 µ$ = $1,000,000; 300 of them = $300M of basis... scaled up by a $1,000/M price.
    const big = testConfig({
      models: {
        huge: {
          price: { input: '1000', output: '1000' },
          deployments: [{ provider: 'azure-east', model: 'huge' }],
        },
      },
    });
    const hugeBilling = await startBilling(database, big, clock);
    const events = Array.from({ length: 300 }, () =>
      usageEvent({ model: 'huge', inputTokens: 1_000_000_000_000 }),
    );
    await Promise.all(events.map((event) => hugeBilling.record(event)));
    const clause = (await billing.clauses()).find(
      (candidate) => candidate.partner === 'azure' && candidate.status === 'active',
    )!;
    expect(clause.basisTotal).toBe(300_000_000_000n * 1_000_000n); // $300B in µ$
    expect(clause.accruedTotal).toBe(50_000_000_000n * 1_000_000n); // exactly the cap
    const statement = await billing.statement('partner', 'azure', '2026-10');
    const roundTripped = JSON.parse(JSON.stringify(statement)) as typeof statement;
    expect(roundTripped.totals).toEqual({
      basis: '300000000000',
      accrued: '50000000000',
      adjustments: '0',
    });
    expect(micros(roundTripped.totals['accrued']!)).toBe(50_000_000_000_000_000n);
    const [row] = await billing.report({ from: 0, to: T0 + 3_600_000 });
    expect(row!.revenue).toBe(300_000_000_000_000_000n);
  });

  it('13: changing the primary partner later does not re-attribute past revenue', async () => {
    await billing.record(usageEvent({ inputTokens: 1000 }));
    const before = await billing.statement('partner', 'azure', '2026-10');
    const swapped = testConfig({
      partners: {
        azure: {
          primary: false,
          revenueShare: { rate: '0.20', from: '2019-07-22', until: '2031-01-01', basis: 'net' },
        },
        aws: { primary: true, revenueShare: { rate: '0.10', basis: 'gross' } },
      },
    });
    const after = await startBilling(database, swapped, clock);
    await after.record(
      usageEvent({ deployment: 'bedrock-west', partner: 'aws', inputTokens: 1000 }),
    );
    expect(await after.statement('partner', 'azure', '2026-10')).toEqual(before);
    const byPartner = await after.report({ from: T0, to: T0 + 1, groupBy: ['partner'] });
    expect(byPartner.map((row) => [row.dimensions.partner, row.revenue, row.share])).toEqual([
      ['aws', 1000n, 100n],
      ['azure', 1000n, 200n],
    ]);
  });

  it('failed requests with zero tokens post nothing, but their usage row and counts exist', async () => {
    const failed = usageEvent({
      status: 'error',
      httpStatus: 503,
      errorCode: 'upstream_overloaded',
      inputTokens: 0,
    });
    const aborted = usageEvent({ status: 'aborted', httpStatus: 499, inputTokens: 0 });
    expect((await billing.record(failed)).status).toBe('recorded');
    expect((await billing.record(aborted)).status).toBe('recorded');
    expect(await billing.transactions(failed.requestId)).toEqual([]);
    const [row] = await billing.report({ from: T0, to: T0 + 1 });
    expect(row).toMatchObject({ requests: 2, errors: 1, revenue: 0n });
  });
});
