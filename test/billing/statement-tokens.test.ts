import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Billing, Statement, StatementLine } from '../../src/billing/index.js';
import { statementCsv, statementId, TOKEN_FIELDS } from '../../src/billing/statements.js';
import type { Database, UsageEvent } from '../../src/store/index.js';
import { billingDb } from '../../src/store/billing/schema.js';
import {
  billingTargets,
  expectReconciled,
  startBilling,
  testClock,
  testConfig,
  usageEvent,
} from './helpers.js';

/**
 * Statement lines carry the token quantities of their usage transactions (issue 19 item 3): on
 * an Anthropic-priced model with cache reads and 5-minute and 1-hour cache writes, each line's
 * token sums equal those of the usage rows it books; refund, credit and reversal lines carry 0;
 * a late event's tokens ride on its adjustment line; the frozen statement keeps the fields and
 * its entry hash; a statement frozen before the fields existed is served without them.
 */

const targets = await billingTargets();

/** Claude Sonnet 4.5's published rates per 1M tokens (see cache-pricing.test.ts). */
const ANTHROPIC = {
  input: '3',
  cachedInput: '0.3',
  cacheWrite: '3.75',
  cacheWrite1h: '6',
  output: '15',
};

function config() {
  return testConfig({
    models: {
      unit: {
        price: { input: '1', output: '1' },
        deployments: [{ provider: 'azure-east', model: 'unit' }],
      },
      claude: {
        price: ANTHROPIC,
        deployments: [
          { provider: 'azure-east', model: 'claude-sonnet-4-5' },
          { provider: 'bedrock-west', model: 'anthropic.claude-sonnet-4-5' },
        ],
      },
    },
  });
}

const AWS = { deployment: 'bedrock-west', partner: 'aws', upstreamModel: 'anthropic.claude' };

function claude(overrides: Partial<UsageEvent>): UsageEvent {
  return usageEvent({
    model: 'claude',
    modelRequested: 'claude',
    upstreamModel: 'claude-sonnet-4-5',
    ...overrides,
  });
}

type Tokens = Record<(typeof TOKEN_FIELDS)[number], number>;

/** The token sums of usage events, as a statement line names them. */
function sums(events: UsageEvent[]): Tokens {
  return {
    input_tokens: events.reduce((total, event) => total + event.inputTokens, 0),
    cached_input_tokens: events.reduce((total, event) => total + event.cachedInputTokens, 0),
    cache_write_tokens: events.reduce((total, event) => total + (event.cacheWriteTokens ?? 0), 0),
    cache_write_1h_tokens: events.reduce(
      (total, event) => total + (event.cacheWrite1hTokens ?? 0),
      0,
    ),
    output_tokens: events.reduce((total, event) => total + event.outputTokens, 0),
  };
}

const ZERO = sums([]);

function tokensOf(line: StatementLine): Tokens {
  return Object.fromEntries(TOKEN_FIELDS.map((field) => [field, line[field]])) as Tokens;
}

function line(statement: Statement, kind: string, model: string, cloud = ''): StatementLine {
  const found = statement.lines.filter(
    (item) => item.kind === kind && item.model === model && item.cloud === cloud,
  );
  expect(found, `${kind} ${model} ${cloud} in ${statement.subject}`).toHaveLength(1);
  return found[0]!;
}

/** The statement's token sums over all lines, and the usage rows' sums for its request ids. */
async function statementAgainstRows(
  database: Database,
  statement: Statement,
  requestIds: string[],
): Promise<{ statement: Tokens; rows: Tokens }> {
  const rows = await billingDb(database)
    .selectFrom('usage_events')
    .select([
      'input_tokens',
      'cached_input_tokens',
      'cache_write_tokens',
      'cache_write_1h_tokens',
      'output_tokens',
    ])
    .where('request_id', 'in', requestIds)
    .execute();
  const fromRows = Object.fromEntries(
    TOKEN_FIELDS.map((field) => [
      field,
      rows.reduce((total, row) => total + Number(row[field]), 0),
    ]),
  ) as Tokens;
  const fromStatement = Object.fromEntries(
    TOKEN_FIELDS.map((field) => [
      field,
      statement.lines.reduce((total, item) => total + (item[field] ?? 0), 0),
    ]),
  ) as Tokens;
  return { statement: fromStatement, rows: fromRows };
}

describe.each(targets)('statement token quantities on $name', (target) => {
  let database: Database;
  let billing: Billing;
  const clock = testClock();

  beforeEach(async () => {
    clock.set('2026-10-15T12:00:00Z');
    database = await target.open();
    billing = await startBilling(database, config(), clock);
  });

  afterEach(async () => {
    await billing.flush();
    await expectReconciled(billing, database);
    if (target.name === 'sqlite') await database.close();
  });

  it('each line sums its usage rows; refunds, credits and reversals carry 0; the frozen statement keeps them', async () => {
    const october = Date.parse('2026-10-10T10:00:00Z');
    // acme on Azure: 10 000 input tokens, 2 000 read from cache, 7 000 written (3 000 for an hour).
    const acmeAzure = [
      claude({
        createdAt: october,
        inputTokens: 10_000,
        cachedInputTokens: 2_000,
        cacheWriteTokens: 7_000,
        cacheWrite1hTokens: 3_000,
        outputTokens: 500,
      }),
      claude({
        createdAt: october + 1,
        inputTokens: 4_000,
        cachedInputTokens: 3_500,
        outputTokens: 80,
      }),
    ];
    const acmeAws = [
      claude({
        createdAt: october + 2,
        inputTokens: 5_000,
        cacheWriteTokens: 4_000,
        outputTokens: 100,
        ...AWS,
      }),
    ];
    const globex = [
      claude({
        createdAt: october + 3,
        tenantId: 'globex',
        inputTokens: 3_000,
        cachedInputTokens: 1_000,
        cacheWriteTokens: 1_000,
        cacheWrite1hTokens: 1_000,
        outputTokens: 50,
      }),
    ];
    const plain = [usageEvent({ createdAt: october + 4, inputTokens: 100, outputTokens: 7 })];
    for (const event of [...acmeAzure, ...acmeAws, ...globex, ...plain]) {
      expect((await billing.record(event)).status).toBe('posted');
    }
    // Money moves that carry no tokens: a partial refund, a credit, a reversal.
    await billing.refund({ requestId: acmeAzure[0]!.requestId, amount: 1_000n });
    await billing.credit({ tenantId: 'acme', amount: 500n });
    await billing.reverse({ transactionId: `u:${plain[0]!.requestId}` });

    const acme = await billing.statement('customer', 'acme', '2026-10');
    expect(tokensOf(line(acme, 'usage', 'claude'))).toEqual(sums([...acmeAzure, ...acmeAws]));
    expect(tokensOf(line(acme, 'usage', 'unit'))).toEqual(sums(plain));
    expect(tokensOf(line(acme, 'refund', 'claude'))).toEqual(ZERO);
    expect(tokensOf(line(acme, 'credit', ''))).toEqual(ZERO);
    expect(tokensOf(line(acme, 'reversal', 'unit'))).toEqual(ZERO);
    const acmeIds = [...acmeAzure, ...acmeAws, ...plain].map((event) => event.requestId);
    const checked = await statementAgainstRows(database, acme, acmeIds);
    expect(checked.statement).toEqual(checked.rows);
    expect(checked.statement.cache_write_1h_tokens).toBeGreaterThan(0);

    const azure = await billing.statement('partner', 'azure', '2026-10');
    expect(tokensOf(line(azure, 'usage', 'claude', 'azure-east'))).toEqual(
      sums([...acmeAzure, ...globex]),
    );
    expect(tokensOf(line(azure, 'usage', 'unit', 'azure-east'))).toEqual(sums(plain));
    // The net-basis refund claws back Azure's share: a line of its own, without tokens.
    expect(tokensOf(line(azure, 'refund', 'claude', 'azure-east'))).toEqual(ZERO);
    expect(tokensOf(line(azure, 'reversal', 'unit', 'azure-east'))).toEqual(ZERO);
    const aws = await billing.statement('partner', 'aws', '2026-10');
    expect(aws.lines.map(tokensOf)).toEqual([sums(acmeAws)]);

    // The CSV carries the same figures, its total row their sums.
    const csv = statementCsv(acme).trimEnd().split('\r\n');
    expect(csv[0]!.split(',').slice(-TOKEN_FIELDS.length)).toEqual([...TOKEN_FIELDS]);
    const total = csv.at(-1)!.split(',');
    expect(total[4]).toBe('total');
    expect(total.slice(-TOKEN_FIELDS.length).map(Number)).toEqual(
      TOKEN_FIELDS.map((field) => checked.rows[field]),
    );

    // Closing freezes the lines with their tokens; the entry hash is computed as before.
    const draftHash = acme.entries.hash;
    clock.set('2026-11-02T00:00:00Z');
    expect((await billing.closePeriod('2026-10')).closed).toBe(true);
    const frozen = await billing.statement('customer', 'acme', '2026-10');
    expect(frozen.status).toBe('final');
    expect(frozen.lines).toEqual(acme.lines);
    expect(frozen.entries.hash).toBe(draftHash);

    // A late October event is booked in November as an adjustment line with its tokens.
    const late = claude({
      createdAt: Date.parse('2026-10-31T23:00:00Z'),
      inputTokens: 2_000,
      cacheWriteTokens: 1_500,
      cacheWrite1hTokens: 500,
      outputTokens: 10,
    });
    await billing.record(late);
    expect(await billing.statement('customer', 'acme', '2026-10')).toEqual(frozen);
    const november = await billing.statement('customer', 'acme', '2026-11');
    expect(november.lines).toHaveLength(1);
    expect(november.lines[0]).toMatchObject({ kind: 'usage', adjusts_period: '2026-10' });
    expect(tokensOf(november.lines[0]!)).toEqual(sums([late]));
    const azureNovember = await billing.statement('partner', 'azure', '2026-11');
    expect(azureNovember.lines.map(tokensOf)).toEqual([sums([late])]);
  });

  it('a statement frozen before lines carried tokens is served as stored, with empty token cells in CSV', async () => {
    const event = claude({
      createdAt: Date.parse('2026-10-10T10:00:00Z'),
      inputTokens: 1_000,
      cacheWriteTokens: 600,
      outputTokens: 20,
    });
    await billing.record(event);
    clock.set('2026-11-02T00:00:00Z');
    await billing.closePeriod('2026-10');
    // What a close before this change stored: the same statement, its lines without tokens.
    const db = billingDb(database);
    const id = statementId('customer', 'acme', '2026-10');
    const stored = await db
      .selectFrom('billing_statements')
      .select(['body', 'hash'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    const old = JSON.parse(stored.body) as Statement;
    expect(tokensOf(old.lines[0]!)).toEqual(sums([event]));
    for (const item of old.lines) for (const field of TOKEN_FIELDS) delete item[field];
    await db
      .updateTable('billing_statements')
      .set({ body: JSON.stringify(old) })
      .where('id', '=', id)
      .execute();

    const served = await billing.statement('customer', 'acme', '2026-10');
    expect(served).toEqual(old);
    expect(served.entries.hash).toBe(stored.hash);
    expect(Object.keys(served.lines[0]!)).not.toContain('input_tokens');
    const csv = statementCsv(served).trimEnd().split('\r\n');
    for (const row of csv.slice(1)) {
      expect(row.split(',').slice(-TOKEN_FIELDS.length)).toEqual(TOKEN_FIELDS.map(() => ''));
    }
  });
});
