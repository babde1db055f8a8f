import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { parsePeriod, periodOf } from '../../src/billing/periods.js';
import { registerBillingCommands } from '../../src/cli/billing-commands.js';
import { loadConfigFile, validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/index.js';
import { AZURE_KEY, call, type Clouds, startClouds } from '../helpers/gateway.js';

/**
 * `billing.period` (issue 8: "monthly periods (configurable)"): validated with the field's path,
 * carried from the config through createApp to billing, the admin billing API and the CLI; and
 * `partners.*.revenueShare.currency`, which must be USD.
 */

describe('billing config validation', () => {
  const problems = (raw: object) => {
    try {
      validateConfig(raw);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('expected a config error');
  };

  it('billing.period is month, week or day (default month), and errors name the field', () => {
    expect(validateConfig({}).billing).toEqual({
      period: 'month',
      costInBody: false,
      budgetMinOutputTokens: 16,
    });
    expect(validateConfig({ billing: { period: 'week' } }).billing.period).toBe('week');
    expect(problems({ billing: { period: 'fortnight' } })).toContain(
      'billing.period: expected month, week or day',
    );
    expect(problems({ billing: { periodUnit: 'day' } })).toMatch(/billing: .*"periodUnit"/);
  });

  it('a revenue share in any currency but USD is refused, naming the field', () => {
    expect(
      problems({ partners: { azure: { revenueShare: { rate: '0.20', currency: 'EUR' } } } }),
    ).toContain('partners.azure.revenueShare.currency: only USD is supported');
    expect(
      validateConfig({ partners: { azure: { revenueShare: { rate: '0.20', currency: 'usd' } } } })
        .partners['azure']!.revenueShare!.currency,
    ).toBe('usd');
  });
});

describe('weekly periods', () => {
  it('ISO week ids: Monday to Monday, the week-year of its Thursday, parsed back exactly', () => {
    expect(periodOf(Date.parse('2026-11-25T12:00:00Z'), 'week')).toEqual({
      id: '2026-W48',
      startsAt: Date.parse('2026-11-23T00:00:00Z'),
      endsAt: Date.parse('2026-11-30T00:00:00Z'),
    });
    expect(periodOf(Date.parse('2024-12-30T00:00:00Z'), 'week').id).toBe('2025-W01');
    expect(periodOf(Date.parse('2021-01-03T23:59:59.999Z'), 'week').id).toBe('2020-W53');
    expect(parsePeriod('2026-W53', 'week').startsAt).toBe(Date.parse('2026-12-28T00:00:00Z'));
    for (const bad of ['2025-W53', '2026-W00', '2026-11', '2026-W5'])
      expect(() => parsePeriod(bad, 'week')).toThrow(/expected YYYY-Www/);
  });
});

describe('billing.period: week through createApp, the admin billing API and the CLI', () => {
  const MASTER = 'sk-master-weekly-0123456789';
  const auth = { authorization: `Bearer ${MASTER}` };
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-weekly-'));
  const configPath = join(dir, 'switchyard.yaml');
  const clock = { now: Date.parse('2026-11-25T12:00:00Z') };
  let clouds: Clouds;
  let app: App;
  let url: string;

  beforeAll(async () => {
    clouds = await startClouds();
    writeFileSync(
      configPath,
      [
        `store: sqlite:${join(dir, 'store.db')}`,
        'logging: { level: silent }',
        `auth: { masterKey: ${MASTER} }`,
        'billing: { period: week }',
        'partners:',
        '  azure: { primary: true, revenueShare: { rate: "0.20", basis: gross } }',
        'providers:',
        `  azure-v1: { type: azure-openai, partner: azure, baseUrl: "${clouds.azure.url}", apiKey: ${AZURE_KEY} }`,
        'models:',
        '  gpt-4o-mini:',
        '    price: { input: "1", output: "2" }',
        '    deployments: [{ provider: azure-v1, model: gpt-4o-mini }]',
        '',
      ].join('\n'),
    );
    app = await createApp({
      config: loadConfigFile(configPath),
      logger: createLogger({ level: 'silent' }),
      clock: () => clock.now,
    });
    url = (await app.listen(0, '127.0.0.1')).url;
  });

  afterAll(async () => {
    await app?.close();
    await clouds?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const chat = () =>
    call(`${url}/v1/chat/completions`, {
      headers: auth,
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'say hello' }] },
    });

  it('books usage into ISO weeks, closes a week and serves its frozen statement; a month id is a clear 400', async () => {
    // Wednesday of 2026-W48, then Monday 01:00 of 2026-W49.
    expect((await chat()).status).toBe(200);
    clock.now = Date.parse('2026-11-30T01:00:00Z');
    expect((await chat()).status).toBe(200);

    const periods = await call(`${url}/admin/v1/billing/periods`, { headers: auth });
    expect(periods.status).toBe(200);
    expect(periods.body.unit).toBe('week');
    expect(periods.body.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: '2026-W48',
          starts_at: '2026-11-23T00:00:00.000Z',
          ends_at: '2026-11-30T00:00:00.000Z',
          status: 'open',
        }),
        expect.objectContaining({
          id: '2026-W49',
          starts_at: '2026-11-30T00:00:00.000Z',
          ends_at: '2026-12-07T00:00:00.000Z',
        }),
      ]),
    );

    const closed = await call(`${url}/admin/v1/billing/periods/2026-W48/close`, {
      method: 'POST',
      headers: auth,
      body: {},
    });
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ period: '2026-W48', closed: true });

    const statement = await call(`${url}/admin/v1/billing/statements/partner/azure/2026-W48`, {
      headers: auth,
    });
    expect(statement.status).toBe(200);
    expect(statement.body).toMatchObject({
      kind: 'partner',
      subject: 'azure',
      period: '2026-W48',
      status: 'final',
    });
    expect(
      statement.body.lines
        .filter((line: { kind: string }) => line.kind === 'usage')
        .map((line: { transactions: number }) => line.transactions),
    ).toEqual([1]);
    // The week still running is open, with the Monday request in it.
    const open = await call(`${url}/admin/v1/billing/statements/partner/azure/2026-W49`, {
      headers: auth,
    });
    expect(open.body).toMatchObject({
      period: '2026-W49',
      status: expect.not.stringMatching(/^final$/),
    });
    expect(open.body.entries.count).toBeGreaterThan(0);

    const monthly = await call(`${url}/admin/v1/billing/statements/partner/azure/2026-11`, {
      headers: auth,
    });
    expect(monthly.status).toBe(400);
    expect(monthly.body.error).toMatchObject({ code: 'invalid_request', param: 'period' });
    expect(monthly.body.error.message).toContain('expected YYYY-Www');
  });

  it('switchyard statement --period 2026-W48 reads the week from the config (and --period-unit overrides it)', async () => {
    let text = '';
    const run = async (...args: string[]) => {
      text = '';
      const program = new Command('switchyard')
        .exitOverride()
        .configureOutput({ writeErr: () => {} });
      registerBillingCommands(program, {
        out: (chunk) => (text += chunk),
        err: (chunk) => (text += chunk),
      });
      await program.parseAsync(['node', 'switchyard', ...args]);
      return text;
    };
    const json = JSON.parse(
      await run(
        'statement',
        '--config',
        configPath,
        '--partner',
        'azure',
        '--period',
        '2026-W48',
        '--json',
      ),
    );
    expect(json).toMatchObject({
      kind: 'partner',
      subject: 'azure',
      period: '2026-W48',
      status: 'final',
    });
    await expect(
      run(
        'statement',
        '--config',
        configPath,
        '--partner',
        'azure',
        '--period',
        '2026-W48',
        '--period-unit',
        'day',
      ),
    ).rejects.toThrow(/expected YYYY-MM-DD/);
    await expect(
      run(
        'statement',
        '--config',
        configPath,
        '--partner',
        'azure',
        '--period',
        '2026-W48',
        '--period-unit',
        'fortnight',
      ),
    ).rejects.toThrow(/expected month, week, day/);
  });
});
