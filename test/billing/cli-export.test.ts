import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBilling } from '../../src/billing/index.js';
import { registerBillingCommands } from '../../src/cli/billing-commands.js';
import { loadConfigFile } from '../../src/config/index.js';
import { createDatabase, migrate } from '../../src/store/index.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import { testConfig, usageEvent } from './fixtures/events.js';

/**
 * `switchyard statements export` over a store named by a config file: two partners and two
 * customers over two months (October closed, November open), on SQLite and, when reachable, on
 * Postgres.
 */

const dir = mkdtempSync(join(tmpdir(), 'switchyard-billing-export-'));
const pg = await pgTestUrl();

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pg?.drop();
});
// Refused exports set process.exitCode; it must not leak into the test run's own exit code.
afterEach(() => {
  process.exitCode = undefined;
});

/** Writes a config for `store` and books the two months into it; returns the config path. */
async function seed(name: string, store: string): Promise<string> {
  const configPath = join(dir, `${name}.yaml`);
  writeFileSync(
    configPath,
    [
      `store: ${store}`,
      'partners:',
      '  azure: { primary: true, revenueShare: { rate: "0.20", basis: net } }',
      '  aws: { revenueShare: { rate: "0.10", basis: gross } }',
      'providers:',
      '  azure-east: { type: azure-openai, partner: azure, baseUrl: "https://example.openai.azure.com", apiKey: k }',
      '  bedrock-west: { type: bedrock, partner: aws, region: us-west-2, apiKey: k }',
      'models:',
      '  unit:',
      '    price: { input: "1", output: "1" }',
      '    deployments: [{ provider: azure-east, model: unit }, { provider: bedrock-west, model: unit }]',
      '',
    ].join('\n'),
  );
  const config = loadConfigFile(configPath);
  const database = await createDatabase(config.store);
  try {
    await migrate(database);
    const billing = createBilling({
      config,
      database,
      clock: () => Date.parse('2026-12-05T00:00:00Z'),
    });
    await billing.start();
    const aws = { deployment: 'bedrock-west', partner: 'aws', upstreamModel: 'unit' };
    await billing.record(
      usageEvent({
        createdAt: Date.parse('2026-10-10T10:00:00Z'),
        inputTokens: 1_000_000,
        // Cache reads and writes: priced as input here (no cache prices), carried as tokens.
        cachedInputTokens: 200_000,
        cacheWriteTokens: 300_000,
        cacheWrite1hTokens: 100_000,
        tenantId: 'acme',
      }),
    );
    await billing.record(
      usageEvent({
        createdAt: Date.parse('2026-10-12T10:00:00Z'),
        inputTokens: 300_000,
        tenantId: 'globex',
        ...aws,
      }),
    );
    await billing.record(
      usageEvent({
        createdAt: Date.parse('2026-11-10T10:00:00Z'),
        inputTokens: 1_500_000,
        tenantId: 'acme',
        ...aws,
      }),
    );
    await billing.record(
      usageEvent({
        createdAt: Date.parse('2026-11-11T10:00:00Z'),
        inputTokens: 500_000,
        tenantId: 'globex',
      }),
    );
    await billing.flush();
    await billing.closePeriod('2026-10');
  } finally {
    await database.close();
  }
  return configPath;
}

/** Runs the CLI; progress goes to a non-TTY stream of its own. */
async function run(
  ...args: string[]
): Promise<{ out: string; err: string; progress: string; exitCode: number }> {
  const captured = { out: '', err: '', progress: '' };
  const progress = new Writable({
    write(chunk, _encoding, callback) {
      captured.progress += String(chunk);
      callback();
    },
  });
  const program = new Command('switchyard').exitOverride();
  registerBillingCommands(program, {
    out: (chunk) => (captured.out += chunk),
    err: (chunk) => (captured.err += chunk),
    progress,
  });
  await program.parseAsync(['node', 'switchyard', ...args]);
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { ...captured, exitCode };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const stores: Array<[string, () => string | undefined]> = [
  ['sqlite', () => `sqlite:${join(dir, 'store.db')}`],
  ['postgres', () => pg?.url],
];

for (const [name, storeUrl] of stores) {
  describe.skipIf(name === 'postgres' && !pg)(`statements export (${name})`, () => {
    let configPath = '';
    beforeAll(async () => {
      configPath = await seed(name, storeUrl()!);
    });

    it('writes every statement of two months as CSV and JSON equal to `statement --csv/--json`, with a manifest of their hashes', async () => {
      const out = join(dir, `${name}-all`);
      const result = await run(
        'statements',
        'export',
        '--config',
        configPath,
        '--period',
        '2026-10',
        '--to-period',
        '2026-11',
        '--out',
        out,
        '--format',
        'both',
        '--quiet',
      );
      expect(result.exitCode).toBe(0);
      expect(result.err).toBe('');

      const subjects = [
        ['partner', 'aws'],
        ['partner', 'azure'],
        ['customer', 'acme'],
        ['customer', 'globex'],
      ] as const;
      for (const period of ['2026-10', '2026-11']) {
        expect(readdirSync(join(out, period)).sort()).toEqual(
          subjects
            .flatMap(([kind, subject]) => [`${kind}-${subject}.csv`, `${kind}-${subject}.json`])
            .sort(),
        );
        for (const [kind, subject] of subjects) {
          const csv = await run(
            'statement',
            '--config',
            configPath,
            `--${kind}`,
            subject,
            '--period',
            period,
            '--csv',
          );
          expect(readFileSync(join(out, period, `${kind}-${subject}.csv`), 'utf8')).toBe(csv.out);
          const json = await run(
            'statement',
            '--config',
            configPath,
            `--${kind}`,
            subject,
            '--period',
            period,
            '--json',
          );
          expect(readFileSync(join(out, period, `${kind}-${subject}.json`), 'utf8')).toBe(json.out);
        }
      }
      expect(readFileSync(join(out, '2026-10', 'customer-acme.csv'), 'utf8')).toMatch(
        /\r\ncustomer,acme,2026-10,final,total,,,,1,1,,sha256:[0-9a-f]{64},1000000,200000,300000,100000,0\r\n/,
      );
      expect(readFileSync(join(out, '2026-10', 'partner-aws.csv'), 'utf8')).toMatch(
        /\r\npartner,aws,2026-10,final,usage,unit,bedrock-west,,1,0\.3,0\.03,sha256:[0-9a-f]{64},300000,0,0,0,0\r\n/,
      );

      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
      expect(manifest).toMatchObject({
        object: 'statement_export',
        period_unit: 'month',
        periods: ['2026-10', '2026-11'],
      });
      expect(manifest.files).toHaveLength(16);
      for (const file of manifest.files) {
        const body = readFileSync(join(out, file.file), 'utf8');
        expect(file.sha256).toBe(sha256(body));
        const statement = JSON.parse(
          readFileSync(join(out, file.file.replace(/\.csv$/, '.json')), 'utf8'),
        );
        expect(file.entries_hash).toBe(statement.entries.hash);
        expect(file.status).toBe(file.period === '2026-10' ? 'closed' : 'open');
      }
      expect(
        manifest.files.find((file: { file: string }) => file.file === '2026-11/partner-aws.csv'),
      ).toMatchObject({
        kind: 'partner',
        subject: 'aws',
        status: 'open',
        totals: { basis: '1.5', accrued: '0.15' },
      });
      // No temporary files are left behind.
      expect(readdirSync(out).sort()).toEqual(['2026-10', '2026-11', 'manifest.json']);
    });

    it('prints a table of the files, or the manifest with --json; --partners and --customers pick the subjects', async () => {
      const table = await run(
        'statements',
        'export',
        '--config',
        configPath,
        '--period',
        '2026-11',
        '--partners',
        'azure',
        '--out',
        join(dir, `${name}-table`),
        '--quiet',
      );
      const lines = table.out.trim().split('\n');
      expect(lines[0]).toMatch(
        /^FILE\s+PERIOD\s+STATEMENT\s+SUBJECT\s+STATUS\s+AMOUNT\s+ACCRUED\s+ENTRIES$/,
      );
      expect(lines[1]).toMatch(
        /^2026-11\/partner-azure\.csv\s+2026-11\s+partner\s+azure\s+open\s+0\.5\s+0\.1\s+\d+$/,
      );
      expect(lines).toHaveLength(4);

      const json = await run(
        'statements',
        'export',
        '--config',
        configPath,
        '--period',
        '2026-10',
        '--customers',
        'globex',
        '--format',
        'json',
        '--out',
        join(dir, `${name}-json`),
        '--json',
      );
      expect(json.progress).toBe('');
      const listed = JSON.parse(json.out);
      expect(listed.files.map((file: { file: string }) => file.file)).toEqual([
        '2026-10/customer-globex.json',
      ]);
      expect(listed.files[0]).toMatchObject({ status: 'closed', totals: { net: '0.3' } });
    });

    it('reports progress on a non-TTY stream as lines, and none with --quiet', async () => {
      const loud = await run(
        'statements',
        'export',
        '--config',
        configPath,
        '--period',
        '2026-10',
        '--to-period',
        '2026-11',
        '--out',
        join(dir, `${name}-loud`),
      );
      const lines = loud.progress.trim().split('\n');
      expect(lines[0]).toMatch(/^export \[░+\]\s+0%\s+0\/8/);
      expect(lines.some((line) => /^export \[█+\] 100%\s+8\/8/.test(line))).toBe(true);
      expect(lines.at(-1)).toMatch(/done in \d+:\d{2}$/);
      const quiet = await run(
        'statements',
        'export',
        '--config',
        configPath,
        '--period',
        '2026-10',
        '--to-period',
        '2026-11',
        '--out',
        join(dir, `${name}-quiet`),
        '--quiet',
      );
      expect(quiet.progress).toBe('');
      expect(existsSync(join(dir, `${name}-quiet`, 'manifest.json'))).toBe(true);
    });

    it('refuses an unknown partner or a bad period id with exit code 1 and writes nothing', async () => {
      const out = join(dir, `${name}-refused`);
      const unknown = await run(
        'statements',
        'export',
        '--config',
        configPath,
        '--period',
        '2026-11',
        '--partners',
        'azure,gcp',
        '--out',
        out,
      );
      expect(unknown.exitCode).toBe(1);
      expect(unknown.err).toBe('error: unknown partner gcp (the config has azure, aws)\n');
      expect(unknown.progress).toBe('');
      expect(existsSync(out)).toBe(false);

      const badPeriod = await run(
        'statements',
        'export',
        '--config',
        configPath,
        '--period',
        '2026-13',
        '--out',
        out,
      );
      expect(badPeriod.exitCode).toBe(1);
      expect(badPeriod.err).toBe('error: not a period: "2026-13" (expected YYYY-MM)\n');
      const backwards = await run(
        'statements',
        'export',
        '--config',
        configPath,
        '--period',
        '2026-11',
        '--to-period',
        '2026-10',
        '--out',
        out,
      );
      expect(backwards.exitCode).toBe(1);
      expect(backwards.err).toBe('error: --to-period 2026-10 is before --period 2026-11\n');
      expect(existsSync(out)).toBe(false);
    });

    it('refuses a non-empty directory unless --overwrite', async () => {
      const out = join(dir, `${name}-busy`);
      mkdirSync(out);
      writeFileSync(join(out, 'notes.txt'), 'keep me\n');
      const refused = await run(
        'statements',
        'export',
        '--config',
        configPath,
        '--period',
        '2026-11',
        '--out',
        out,
      );
      expect(refused.exitCode).toBe(1);
      expect(refused.err).toBe(
        `error: ${out} is not empty: pass --overwrite to write into it (files of the same name are replaced)\n`,
      );
      expect(readdirSync(out)).toEqual(['notes.txt']);

      const overwritten = await run(
        'statements',
        'export',
        '--config',
        configPath,
        '--period',
        '2026-11',
        '--out',
        out,
        '--overwrite',
        '--quiet',
      );
      expect(overwritten.exitCode).toBe(0);
      expect(readdirSync(out).sort()).toEqual(['2026-11', 'manifest.json', 'notes.txt']);
      expect(readdirSync(join(out, '2026-11'))).toHaveLength(4);
    });

    it('keeps `switchyard statement --partner` working beside the export', async () => {
      const text = await run(
        'statement',
        '--config',
        configPath,
        '--partner',
        'azure',
        '--period',
        '2026-10',
      );
      expect(text.out).toContain('partner statement azure 2026-10 (final, USD)');
    });
  });
}

if (!pg) it.skip(PG_SKIP_MESSAGE, () => undefined);

describe('billing.customers(period)', () => {
  it('lists the tenants with charges, refunds or credits booked in the period, sorted', async () => {
    const database = await createDatabase('sqlite::memory:');
    try {
      await migrate(database);
      let now = Date.parse('2026-11-20T00:00:00Z');
      const billing = createBilling({ config: testConfig(), database, clock: () => now });
      await billing.start();
      await billing.record(
        usageEvent({ createdAt: Date.parse('2026-10-05T00:00:00Z'), tenantId: 'acme' }),
      );
      await billing.record(
        usageEvent({ createdAt: Date.parse('2026-11-05T00:00:00Z'), tenantId: 'zeta' }),
      );
      await billing.record(
        usageEvent({ createdAt: Date.parse('2026-11-06T00:00:00Z'), tenantId: 'globex' }),
      );
      await billing.flush();
      await billing.credit({ tenantId: 'initech', amount: 1_000n });
      expect(await billing.customers('2026-10')).toEqual(['acme']);
      expect(await billing.customers('2026-11')).toEqual(['globex', 'initech', 'zeta']);
      expect(await billing.customers('2026-09')).toEqual([]);
      now = Date.parse('2026-12-02T00:00:00Z');
      await billing.closePeriod('2026-11');
      // The same tenants the close froze customer statements for.
      const frozen = await database.db
        .withTables<{ billing_statements: { kind: string; subject: string; period: string } }>()
        .selectFrom('billing_statements')
        .select('subject')
        .where('kind', '=', 'customer')
        .where('period', '=', '2026-11')
        .execute();
      expect(frozen.map((row) => row.subject).sort()).toEqual(await billing.customers('2026-11'));
      await expect(billing.customers('2026-W48')).rejects.toThrow('not a period');
    } finally {
      await database.close();
    }
  });
});
