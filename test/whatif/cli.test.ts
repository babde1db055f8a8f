import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBilling } from '../../src/billing/index.js';
import { registerWhatIfCommand } from '../../src/cli/whatif-command.js';
import { loadConfigFile } from '../../src/config/index.js';
import { createDatabase, migrate } from '../../src/store/index.js';
import { usageEvent } from '../billing/fixtures/events.js';
import { ledgerSnapshot } from './helpers.js';

/** `switchyard whatif` over a SQLite store named by a config file: table, JSON, CSV, progress, errors. */

const dir = mkdtempSync(join(tmpdir(), 'switchyard-whatif-cli-'));
const configPath = join(dir, 'switchyard.yaml');
const alternativePath = join(dir, 'alt.yaml');
const NOV = Date.parse('2026-11-10T10:00:00Z');

beforeAll(async () => {
  writeFileSync(
    configPath,
    [
      `store: sqlite:${join(dir, 'store.db')}`,
      'partners:',
      '  azure: { primary: true, license: { exclusive: true }, revenueShare: { rate: "0.20" } }',
      '  aws: { revenueShare: { rate: "0.10" } }',
      'providers:',
      '  azure-east: { type: azure-openai, partner: azure, baseUrl: "https://example.openai.azure.com", apiKey: k }',
      '  bedrock-west: { type: bedrock, partner: aws, region: us-west-2, apiKey: k }',
      'models:',
      '  unit:',
      '    price: { input: "1", output: "1" }',
      '    deployments:',
      '      - { provider: azure-east, model: unit, cost: { input: "0.5", output: "0.5" } }',
      '      - { provider: bedrock-west, model: unit-1:0, cost: { input: "0.25", output: "0.25" } }',
      '',
    ].join('\n'),
  );
  // Exclusivity ends and Azure's licence with it on 2026-11-10T12:00Z: the later rows move.
  writeFileSync(
    alternativePath,
    [
      'partners:',
      '  azure: { primary: true, license: { exclusive: true, until: "2026-11-10T12:00:00Z" }, revenueShare: { rate: "0.20" } }',
      '',
    ].join('\n'),
  );
  const config = loadConfigFile(configPath);
  const database = await createDatabase(config.store);
  await migrate(database);
  const billing = createBilling({ config, database, clock: () => Date.parse('2026-12-05') });
  await billing.start();
  for (let index = 0; index < 6; index += 1)
    await billing.record(
      usageEvent({
        requestId: `r${index}`,
        createdAt: NOV + index * 3_600_000,
        inputTokens: 1000 * (index + 1),
      }),
    );
  await billing.flush();
  await database.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  let out = '';
  let err = '';
  let progress = '';
  const program = new Command().exitOverride();
  registerWhatIfCommand(program, {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    progress: new Writable({
      write(chunk, _encoding, callback) {
        progress += String(chunk);
        callback();
      },
    }),
  });
  process.exitCode = undefined;
  await program.parseAsync(['node', 'switchyard', 'whatif', '--config', configPath, ...args]);
  const code = process.exitCode;
  process.exitCode = undefined;
  return { out, err, progress, code };
}

const WINDOW = ['--from', '2026-11-01', '--to', '2026-12-01'];

describe('switchyard whatif', () => {
  it('prints JSON with per-period figures, exact to the µUSD, and leaves the store as it was', async () => {
    const database = await createDatabase(`sqlite:${join(dir, 'store.db')}`);
    const before = await ledgerSnapshot(database);
    const { out, progress, code } = await run([
      '--agreements',
      alternativePath,
      ...WINDOW,
      '--json',
    ]);
    expect(await ledgerSnapshot(database)).toBe(before);
    await database.close();
    expect(code).toBeUndefined();
    const report = JSON.parse(out);
    expect(report.period_unit).toBe('month');
    expect(report.periods).toHaveLength(1);
    const november = report.periods[0];
    expect(november.period).toBe('2026-11');
    expect(november.requests).toBe(6);
    // Rows at 10:00 and 11:00 stay on Azure; 12:00 onwards the licence has ended.
    expect(november.moved).toBe(4);
    expect(november.baseline.served).toEqual({ 'azure-east/unit': 6 });
    expect(november.alternative.served).toEqual({
      'azure-east/unit': 2,
      'bedrock-west/unit-1:0': 4,
    });
    // 21,000 tokens at 1 µUSD; cost 3,000 × 0.5 + 18,000 × 0.25; shares 20% and 10%.
    expect(november.baseline).toMatchObject({ revenue: '0.021', cost: '0.0105', share: '0.0042' });
    expect(november.alternative).toMatchObject({
      revenue: '0.021',
      cost: '0.006',
      accruals: { azure: '0.0006', aws: '0.0018' },
      share: '0.0024',
      margin: '0.0126',
    });
    expect(november.difference).toEqual({
      revenue: '0',
      cost: '-0.0045',
      share: '-0.0018',
      margin: '0.0063',
    });
    expect(progress).toContain('whatif');
    expect(progress).toContain('6/6');
  });

  it('prints CSV and a table of differences', async () => {
    const csv = await run(['--agreements', alternativePath, ...WINDOW, '--csv', '--quiet']);
    const lines = csv.out.trim().split('\n');
    expect(lines[0]).toBe('period,metric,baseline,alternative,difference');
    expect(lines).toContain('2026-11,served bedrock-west/unit-1:0,0,4,+4');
    expect(lines).toContain('2026-11,accrual aws,0,0.0018,+0.0018');
    expect(lines).toContain('total,margin,0.0063,0.0126,+0.0063');
    expect(csv.progress).toBe('');

    const text = await run(['--agreements', alternativePath, ...WINDOW, '--quiet']);
    expect(text.out).toContain('6 requests');
    expect(text.out).toMatch(/2026-11\s+\S*\s*served bedrock-west\/unit-1:0\s+0\s+4\s+\+4/);
    expect(text.out).toMatch(/total\s+margin\s+0\.0063\s+0\.0126\s+\+0\.0063/);
  });

  it('reports a bad agreements file with the path of the bad field, exit code 1', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'partners:\n  azure: { revenueShare: { rate: "lots" } }\nroutes: {}\n');
    const result = await run(['--agreements', bad, ...WINDOW]);
    expect(result.code).toBe(1);
    expect(result.err).toContain('partners.azure.revenueShare.rate');
    expect(result.err).toContain('routes: not an agreements section');
    expect(result.out).toBe('');

    const missing = await run(['--agreements', join(dir, 'nope.yaml'), ...WINDOW]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('cannot read');
  });
});
