import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBilling } from '../../src/billing/index.js';
import { registerBillingCommands } from '../../src/cli/billing-commands.js';
import { loadConfigFile } from '../../src/config/index.js';
import { createDatabase, migrate } from '../../src/store/index.js';
import { usageEvent } from './fixtures/events.js';

/** `switchyard usage` and `switchyard statement` over a SQLite store named by a config file. */

const dir = mkdtempSync(join(tmpdir(), 'switchyard-billing-cli-'));
const configPath = join(dir, 'switchyard.yaml');

beforeAll(async () => {
  writeFileSync(
    configPath,
    [
      `store: sqlite:${join(dir, 'store.db')}`,
      'partners:',
      '  azure: { primary: true, revenueShare: { rate: "0.20", basis: net } }',
      'providers:',
      '  azure-east: { type: azure-openai, partner: azure, baseUrl: "https://example.openai.azure.com", apiKey: k }',
      'models:',
      '  unit:',
      '    price: { input: "1", output: "1" }',
      '    deployments: [{ provider: azure-east, model: unit }]',
      '',
    ].join('\n'),
  );
  const config = loadConfigFile(configPath);
  const database = await createDatabase(config.store);
  await migrate(database);
  const billing = createBilling({
    config,
    database,
    clock: () => Date.parse('2026-12-05T00:00:00Z'),
  });
  await billing.start();
  await billing.record(
    usageEvent({
      createdAt: Date.parse('2026-11-10T10:00:00Z'),
      inputTokens: 1_500_000,
      // Cache reads and writes (priced as input here: the model has no cache prices).
      cachedInputTokens: 400_000,
      cacheWriteTokens: 600_000,
      cacheWrite1hTokens: 200_000,
      tenantId: 'acme',
    }),
  );
  await billing.record(
    usageEvent({
      createdAt: Date.parse('2026-11-11T10:00:00Z'),
      inputTokens: 500_000,
      tenantId: 'globex',
    }),
  );
  await billing.closePeriod('2026-11');
  await database.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<string> {
  let text = '';
  const program = new Command('switchyard').exitOverride();
  registerBillingCommands(program, {
    out: (chunk) => (text += chunk),
    err: (chunk) => (text += chunk),
  });
  await program.parseAsync(['node', 'switchyard', ...args]);
  return text;
}

describe('billing CLI', () => {
  it('switchyard statement --partner azure --period 2026-11 prints the frozen statement (table, CSV, JSON)', async () => {
    const text = await run(
      'statement',
      '--config',
      configPath,
      '--partner',
      'azure',
      '--period',
      '2026-11',
    );
    expect(text).toContain('partner statement azure 2026-11 (final, USD)');
    // Both requests' tokens: input, cache read, cache write, output.
    expect(text).toMatch(
      /usage\s+unit\s+azure-east\s+-\s+2\s+2\s+0\.4\s+2000000\s+400000\s+600000\s+0\n/,
    );
    expect(text).toContain('accrued: 0.4');
    const csv = await run(
      'statement',
      '--config',
      configPath,
      '--partner',
      'azure',
      '--period',
      '2026-11',
      '--csv',
    );
    expect(csv.split('\r\n')[1]).toMatch(
      /^partner,azure,2026-11,final,usage,unit,azure-east,,2,2,0\.4,sha256:[0-9a-f]{64},2000000,400000,600000,200000,0$/,
    );
    const json = JSON.parse(
      await run(
        'statement',
        '--config',
        configPath,
        '--customer',
        'acme',
        '--period',
        '2026-11',
        '--json',
      ),
    );
    expect(json).toMatchObject({
      kind: 'customer',
      subject: 'acme',
      status: 'final',
      totals: { net: '1.5' },
    });
  });

  it('switchyard usage groups by dimensions over a range', async () => {
    const text = await run(
      'usage',
      '--config',
      configPath,
      '--from',
      '2026-11-01',
      '--to',
      '2026-12-01',
      '--group-by',
      'tenant,partner',
    );
    const lines = text.trim().split('\n');
    expect(lines[0]).toMatch(
      /^TENANT\s+PARTNER\s+REQUESTS\s+ERRORS\s+INPUT\s+CACHE READ\s+CACHE WRITE\s+OUTPUT\s+REVENUE\s+COST\s+SHARE\s+MARGIN$/,
    );
    expect(lines[1]).toMatch(
      /^acme\s+azure\s+1\s+0\s+1500000\s+400000\s+600000\s+0\s+1\.5\s+0\s+0\.3\s+1\.2$/,
    );
    const json = JSON.parse(
      await run(
        'usage',
        '--config',
        configPath,
        '--from',
        '2026-11-01',
        '--to',
        '2026-12-01',
        '--tenant',
        'globex',
        '--json',
      ),
    );
    expect(json.data).toEqual([
      {
        requests: 1,
        errors: 0,
        input_tokens: 500000,
        cached_input_tokens: 0,
        cache_write_tokens: 0,
        cache_write_1h_tokens: 0,
        output_tokens: 0,
        revenue: '0.5',
        cost: '0',
        share: '0.1',
        margin: '0.4',
      },
    ]);
  });
});
