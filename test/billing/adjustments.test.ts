import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Billing } from '../../src/billing/index.js';
import { createUsageRepository, type Database } from '../../src/store/index.js';
import {
  billingTargets,
  clauseTotals,
  expectReconciled,
  startBilling,
  T0,
  testClock,
  testConfig,
  usageEvent,
} from './helpers.js';

/** Refunds, credits, reversals, agreement changes and reports, on SQLite and Postgres. */

const targets = await billingTargets();

describe.each(targets)('adjustments and reports on $name', (target) => {
  let database: Database;
  let billing: Billing;
  const clock = testClock();

  beforeEach(async () => {
    clock.set(T0);
    database = await target.open();
    billing = await startBilling(database, testConfig(), clock);
  });

  afterEach(async () => {
    await expectReconciled(billing, database);
    if (target.name === 'sqlite') await database.close();
  });

  it('a refund with an id is idempotent; the same id with other terms is refused', async () => {
    const event = usageEvent({ inputTokens: 1000 });
    await billing.record(event);
    const first = await billing.refund({ requestId: event.requestId, amount: 300n, id: 'rf-1' });
    const again = await billing.refund({ requestId: event.requestId, amount: 300n, id: 'rf-1' });
    expect(first).toMatchObject({
      transactionId: 'r:rf-1',
      created: true,
      revenue: -300n,
      share: -60n,
    });
    expect(again).toMatchObject({ transactionId: 'r:rf-1', created: false });
    await expect(
      billing.refund({ requestId: event.requestId, amount: 200n, id: 'rf-1' }),
    ).rejects.toMatchObject({ status: 409 });
    await expect(billing.refund({ requestId: 'req_missing' })).rejects.toMatchObject({
      status: 404,
    });
    await expect(billing.refund({ requestId: event.requestId, amount: 0n })).rejects.toMatchObject({
      status: 400,
    });
    expect(await clauseTotals(billing, 'azure')).toEqual({ basis: 700n, accrued: 140n });
  });

  it('a credit reduces what the customer owes and touches no partner', async () => {
    await billing.record(usageEvent({ inputTokens: 1000 }));
    await billing.credit({ tenantId: 'acme', amount: 250n, memo: 'goodwill' });
    const statement = await billing.statement('customer', 'acme', '2026-10');
    expect(statement.totals).toMatchObject({
      charges: '0.001',
      credits: '-0.00025',
      net: '0.00075',
    });
    expect(await clauseTotals(billing, 'azure')).toEqual({ basis: 1000n, accrued: 200n });
  });

  it('a reversal undoes revenue, cost and accrual exactly once, dated at the original', async () => {
    const events = [usageEvent({ inputTokens: 3 }), usageEvent({ inputTokens: 3 })];
    for (const event of events) await billing.record(event);
    expect(await clauseTotals(billing, 'azure')).toEqual({ basis: 6n, accrued: 1n });
    // Reversing the first (which accrued 0) still recomputes: 20% of 3 is 0.
    const reversal = await billing.reverse({ transactionId: `u:${events[0]!.requestId}` });
    expect(reversal).toMatchObject({
      transactionId: `x:u:${events[0]!.requestId}`,
      revenue: -3n,
      share: -1n,
      created: true,
    });
    expect(await clauseTotals(billing, 'azure')).toEqual({ basis: 3n, accrued: 0n });
    expect((await billing.reverse({ transactionId: `u:${events[0]!.requestId}` })).created).toBe(
      false,
    );
    await expect(billing.reverse({ transactionId: reversal.transactionId })).rejects.toMatchObject({
      status: 400,
    });
    await expect(billing.refund({ requestId: events[0]!.requestId })).rejects.toMatchObject({
      status: 400,
    });
  });

  it('a usage transaction with refunds outstanding cannot be reversed until they are', async () => {
    const event = usageEvent({ inputTokens: 1000 });
    await billing.record(event);
    const refund = await billing.refund({ requestId: event.requestId, amount: 400n });
    await expect(billing.reverse({ transactionId: `u:${event.requestId}` })).rejects.toMatchObject({
      status: 409,
    });
    await billing.reverse({ transactionId: refund.transactionId });
    expect(await clauseTotals(billing, 'azure')).toEqual({ basis: 1000n, accrued: 200n });
    await billing.reverse({ transactionId: `u:${event.requestId}` });
    expect(await clauseTotals(billing, 'azure')).toEqual({ basis: 0n, accrued: 0n });
  });

  it('reversing a transaction of a closed period books an adjustment in the open one', async () => {
    const event = usageEvent({ inputTokens: 1000 });
    await billing.record(event);
    clock.set('2026-11-03T00:00:00Z');
    const { statements } = await billing.closePeriod('2026-10');
    expect(statements.map((statement) => statement.id).sort()).toEqual([
      'customer:acme:2026-10',
      'partner:aws:2026-10',
      'partner:azure:2026-10',
    ]);
    const reversal = await billing.reverse({ transactionId: `u:${event.requestId}` });
    expect(reversal.period).toBe('2026-11');
    const [, posted] = await billing.transactions(event.requestId);
    expect(posted).toMatchObject({
      kind: 'reversal',
      period: '2026-11',
      adjustsPeriod: '2026-10',
      effectiveAt: T0,
    });
    expect((await billing.statement('customer', 'acme', '2026-11')).totals).toMatchObject({
      reversals: '-0.001',
      adjustments: '-0.001',
      net: '-0.001',
    });
    expect((await billing.periods()).map((period) => [period.id, period.status])).toEqual([
      ['2026-10', 'closed'],
      ['2026-11', 'open'],
    ]);
  });

  it('changing a clause rate after it accrued starts a new version; past accruals stay', async () => {
    await billing.record(usageEvent({ inputTokens: 1000 }));
    expect(
      await billing.putAgreement('azure', {
        rate: '0.25',
        currency: 'USD',
        basis: 'net',
        clawback: 'reverse',
      }),
    ).toBe('versioned');
    await billing.record(usageEvent({ inputTokens: 1000 }));
    const clauses = await billing.clauses();
    expect(
      clauses
        .filter((clause) => clause.partner === 'azure')
        .map((clause) => [clause.id, clause.status, clause.accruedTotal]),
    ).toEqual([
      ['azure@2', 'active', 250n],
      ['azure', 'retired', 200n],
    ]);
    // A config change is skipped while the admin clause is active; removing it brings the config back.
    expect(await billing.start()).toMatchObject({ azure: 'skipped' });
    expect(await billing.removeAgreement('azure')).toBe('updated');
    expect(await billing.start()).toMatchObject({ azure: 'created' });
    expect(
      await billing.putAgreement('aws', {
        rate: '0.10',
        cap: '5',
        currency: 'USD',
        basis: 'gross',
        clawback: 'none',
      }),
    ).toBe('updated');
    await expect(
      billing.putAgreement('aws', {
        rate: '0.10',
        currency: 'EUR',
        basis: 'gross',
        clawback: 'none',
      }),
    ).rejects.toThrow(/only USD/);
  });

  it('reports group by any dimension and add partial hours at the edges from the raw rows', async () => {
    const hour = Date.parse('2026-10-15T12:00:00Z');
    const events = [
      usageEvent({ createdAt: hour - 1, inputTokens: 10, tenantId: 'acme' }),
      usageEvent({ createdAt: hour + 60_000, inputTokens: 20, tenantId: 'acme', keyId: null }),
      usageEvent({
        createdAt: hour + 3_600_000 + 5,
        inputTokens: 40,
        tenantId: 'globex',
        deployment: 'bedrock-west',
        partner: 'aws',
      }),
      usageEvent({
        createdAt: hour + 7_200_000 + 30,
        inputTokens: 80,
        tenantId: 'globex',
        status: 'error',
      }),
    ];
    for (const event of events) await billing.record(event);
    const total = async (from: number, to: number) =>
      (await billing.report({ from, to }))[0]?.revenue ?? 0n;
    expect(await total(hour, hour + 3_600_000)).toBe(20n);
    expect(await total(hour - 1, hour + 3_600_000 + 6)).toBe(70n);
    expect(await total(hour + 30_000, hour + 7_200_000 + 31)).toBe(140n);
    expect(await total(hour + 60_001, hour + 3_600_000 + 5)).toBe(0n);
    const byTenant = await billing.report({
      from: hour - 3_600_000,
      to: hour + 10_800_000,
      groupBy: ['tenant', 'partner'],
    });
    expect(
      byTenant.map((row) => [
        row.dimensions.tenant,
        row.dimensions.partner,
        row.requests,
        row.errors,
        row.revenue,
      ]),
    ).toEqual([
      ['globex', 'azure', 1, 1, 80n],
      ['globex', 'aws', 1, 0, 40n],
      ['acme', 'azure', 2, 0, 30n],
    ]);
    const keyless = await billing.report({
      from: 0,
      to: hour + 10_800_000,
      groupBy: ['key'],
      where: { key: '' },
    });
    expect(keyless).toMatchObject([{ dimensions: { key: '' }, requests: 1, revenue: 20n }]);
    await expect(
      billing.report({ from: 0, to: 1, groupBy: ['planet' as never] }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('text with quotes, backslashes, commas, braces and NULL survives the bulk insert', async () => {
    const odd = 'we,ird {"NULL"} \\ \' é';
    const event = usageEvent({
      tenantId: odd,
      keyId: 'NULL',
      metadata: { note: odd },
      attemptLog: [{ provider: odd, status: null, errorClass: null, ms: 1 }],
    });
    await billing.record(event);
    const stored = await createUsageRepository(database).get(event.requestId);
    expect(stored).toMatchObject({
      tenantId: odd,
      keyId: 'NULL',
      metadata: { note: odd },
      attemptLog: [{ provider: odd }],
    });
    expect((await billing.statement('customer', odd, '2026-10')).totals['net']).toBe('0.0001');
  });

  it('reports over any range (raw, hourly and daily pieces) equal the events in it', async () => {
    const start = Date.parse('2026-10-10T00:00:00Z');
    const events = Array.from({ length: 120 }, (_, index) =>
      usageEvent({
        createdAt: start + ((index * 7_919_993) % (4 * 86_400_000)),
        inputTokens: 1 + index,
        tenantId: index % 3 ? 'acme' : 'globex',
      }),
    );
    for (const event of events) await billing.record(event);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 * 86_400_000 }),
        fc.integer({ min: 1, max: 4 * 86_400_000 }),
        async (offset, length) => {
          const from = start - 3_600_000 + offset;
          const to = from + length;
          const rows = await billing.report({ from, to, groupBy: ['tenant'] });
          for (const tenant of ['acme', 'globex']) {
            const inRange = events.filter(
              (event) =>
                event.tenantId === tenant && event.createdAt >= from && event.createdAt < to,
            );
            const row = rows.find((item) => item.dimensions.tenant === tenant);
            expect(row?.requests ?? 0).toBe(inRange.length);
            expect(row?.revenue ?? 0n).toBe(
              inRange.reduce((sum, event) => sum + BigInt(event.inputTokens), 0n),
            );
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
