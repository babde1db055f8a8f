import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { registerAgreementsCommands } from '../../src/cli/agreements-commands.js';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import type { CoverageReport } from '../../src/router/coverage.js';

/**
 * `switchyard agreements coverage` over a config file, and `config check` on the new fields
 * (licence `apis` and `regions`, deployment `region`, tenant `regions`, `routing.coverageGuard`).
 */

const CONFIG = `
tenants:
  acme-eu: { regions: ["eu-*"] }
partners:
  azure:
    primary: true
    license: { from: "2019-07-22", until: "2027-01-15", exclusive: true, apis: [chat, responses, embeddings] }
    revenueShare: { rate: "0.20", cap: "50000", until: "2031-01-01" }
  aws:
    license: { from: "2026-02-27", until: "2032-01-01", apis: [stateful], regions: ["us-*"] }
  anthropic: {}
providers:
  azure-east: { type: azure-openai, partner: azure, baseUrl: "https://example.openai.azure.com" }
  bedrock-west: { type: bedrock, partner: aws, region: us-west-2 }
  bedrock-eu: { type: bedrock, partner: aws, region: eu-central-1 }
  anthropic: { type: anthropic, partner: anthropic }
models:
  gpt-oss-120b:
    deployments:
      - { provider: azure-east, model: gpt-oss-120b, region: eastus }
      - { provider: bedrock-west, model: "openai.gpt-oss-120b-1:0" }
      - { provider: bedrock-eu, model: "openai.gpt-oss-120b-1:0" }
  claude:
    deployments:
      - { provider: anthropic, model: claude-sonnet-4-5 }
routing: { coverageGuard: refuse }
`;

async function run(args: string[]): Promise<{ out: string; err: string; exitCode: number }> {
  let out = '';
  let err = '';
  const program = new Command('switchyard').exitOverride();
  registerAgreementsCommands(program, {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
  });
  process.exitCode = 0;
  await program.parseAsync(['node', 'switchyard', ...args]);
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, exitCode };
}

afterEach(() => {
  process.exitCode = 0;
});

describe('switchyard agreements coverage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coverage-'));
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(file, CONFIG);

  it('lists every model × partner × API × region with licence, share and end, as JSON', async () => {
    const { out, exitCode } = await run([
      'agreements',
      'coverage',
      '--config',
      file,
      '--at',
      '2026-12-01',
      '--json',
    ]);
    const report = JSON.parse(out) as CoverageReport;
    const row = (model: string, partner: string | null, api: string, region: string | null) =>
      report.rows.find(
        (item) =>
          item.model === model &&
          item.partner === partner &&
          item.api === api &&
          item.region === region,
      );
    // Azure's licence ends 2027-01-15: covered, ending within 90 days, share clause shown.
    expect(row('gpt-oss-120b', 'azure', 'chat', 'eastus')).toMatchObject({
      status: 'covered',
      ending: true,
      endsInDays: 45,
      share: { rate: '0.20', cap: '50000' },
      licence: { exclusive: true, apis: ['chat', 'responses', 'embeddings'] },
    });
    expect(row('gpt-oss-120b', 'azure', 'stateful', 'eastus')).toMatchObject({
      status: 'not_covered',
      reason: 'licence does not cover stateful',
    });
    expect(row('gpt-oss-120b', 'aws', 'stateful', 'us-west-2')).toMatchObject({
      status: 'covered',
      ending: false,
    });
    expect(row('gpt-oss-120b', 'aws', 'stateful', 'eu-central-1')).toMatchObject({
      status: 'not_covered',
      reason: 'licence does not cover region eu-central-1',
    });
    expect(row('gpt-oss-120b', 'aws', 'chat', 'us-west-2')).toMatchObject({
      status: 'not_covered',
    });
    expect(row('claude', 'anthropic', 'chat', null)).toMatchObject({
      status: 'gap',
      reason: 'anthropic has no licence',
    });
    expect(report.gaps).toEqual([
      { model: 'gpt-oss-120b', api: 'batch' },
      { model: 'claude', api: 'chat' },
      { model: 'claude', api: 'responses' },
      { model: 'claude', api: 'stateful' },
      { model: 'claude', api: 'batch' },
    ]);
    expect(exitCode).toBe(1);
  });

  it('prints a table that flags gaps and ends within 90 days', async () => {
    const { out } = await run(['agreements', 'coverage', '-c', file, '--at', '2026-12-01']);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^MODEL\s+PARTNER\s+API\s+REGION\s+STATUS\s+LICENCE\s+SHARE\s+ENDS/);
    expect(lines.find((line) => line.startsWith('claude') && line.includes(' chat '))).toContain(
      'GAP',
    );
    expect(lines.find((line) => line.includes('azure') && line.includes(' chat '))).toContain(
      '2027-01-15 ENDS IN 45d',
    );
    expect(out).toContain('gap: no agreement covers claude for chat requests');
  });

  it('the same licence is no longer ending when it is far away', async () => {
    const { out } = await run([
      'agreements',
      'coverage',
      '-c',
      file,
      '--at',
      '2026-03-01',
      '--json',
    ]);
    const report = JSON.parse(out) as CoverageReport;
    expect(report.rows.filter((row) => row.ending)).toEqual([]);
  });
});

describe('config check on the new fields', () => {
  const problemsOf = (text: string): string[] => {
    try {
      parseConfig(text, {});
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.problems.map((problem) => `${problem.path}: ${problem.message}`);
    }
  };

  it('accepts the example', () => {
    expect(problemsOf(CONFIG)).toEqual([]);
  });

  it('rejects unknown API kinds, empty region lists and a bad guard', () => {
    const problems = problemsOf(`
tenants:
  t1: { regions: [] }
partners:
  p: { license: { apis: [chat, agents] } }
routing: { coverageGuard: maybe }
`);
    expect(problems.join('\n')).toMatch(/partners\.p\.license\.apis\[1\]/);
    expect(problems.join('\n')).toMatch(/tenants\.t1\.regions/);
    expect(problems.join('\n')).toMatch(/routing\.coverageGuard/);
  });

  it('asks for a region on a deployment of a partner licensed in some regions only', () => {
    expect(
      problemsOf(`
partners:
  aws: { license: { regions: [us-west-2] } }
providers:
  compat: { type: openai-compatible, partner: aws, baseUrl: "https://example.com/v1" }
models:
  m:
    deployments:
      - { provider: compat, model: m }
`),
    ).toEqual([
      'models.m.deployments[0].region: partner "aws" is licensed in some regions only: give the deployment a region',
    ]);
  });
});
