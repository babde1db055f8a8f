import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { type Config, parseConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import {
  alternativeConfig,
  REFUSED,
  runWhatIf,
  type WhatIfReport,
} from '../../src/whatif/index.js';
import { adminClient } from '../access/helpers.js';
import { AZURE_KEY, type Clouds, OPENAI_KEY, startClouds } from '../helpers/gateway.js';
import { ledgerFigures, ledgerSnapshot } from './helpers.js';

/**
 * A what-if equals a real run: the same requests go through a Switchyard configured with the
 * original agreements (A) and one configured with the alternative agreements (B), on the
 * sandbox clouds. The what-if of A's stored usage under the alternative agreements must give
 * B's ledger to the µUSD (revenue, cost, every partner's accruals with a cap reached mid-run,
 * requests per deployment and refusals), its baseline must give A's ledger, and A's ledger must
 * be untouched by it.
 */

const MASTER = 'sk-whatif-master-0123456789';
const DAY = 86_400_000;

function originalYaml(clouds: Clouds): string {
  return `
store: "sqlite::memory:"
logging: { level: silent }
auth: { masterKey: ${MASTER} }
routing: { retries: 0 }
partners:
  azure: { primary: true, license: { exclusive: true }, revenueShare: { rate: "0.20" } }
  openai: { revenueShare: { rate: "0.05" } }
providers:
  azure: { type: azure-openai, partner: azure, baseUrl: "${clouds.azure.url}", apiKey: ${AZURE_KEY}, apiVersion: "2024-10-21" }
  openai: { type: openai, partner: openai, baseUrl: "${clouds.openai.url}/v1", apiKey: ${OPENAI_KEY} }
models:
  chat:
    price: { input: "2.5", output: "10" }
    deployments:
      - { provider: azure, model: gpt-4o-mini, cost: { input: "1", output: "4" } }
      - { provider: openai, model: gpt-4o-mini, cost: { input: "1.5", output: "5.25" } }
  azure-only:
    price: { input: "3", output: "12" }
    deployments:
      - { provider: azure, model: gpt-4o-mini, cost: { input: "1", output: "4" } }
`;
}

/** Azure's exclusive licence ended yesterday; OpenAI's share goes up with a cap that is reached
 * within the run; AWS is a new partner with a share of OpenAI's sales. */
function alternativeYaml(): string {
  const ended = new Date(Date.now() - DAY).toISOString();
  return `
partners:
  azure:
    primary: true
    license: { exclusive: true, until: "${ended}" }
    revenueShare: { rate: "0.20" }
  openai: { revenueShare: { rate: "0.10", cap: "0.00012" } }
  aws: { revenueShare: { rate: "0.03", clouds: [openai] } }
`;
}

const PROMPTS = Array.from(
  { length: 10 },
  (_, index) => `Tell me about the number ${index * 7 + 3} in ${index + 2} short sentences.`,
);

async function startFrom(config: Config): Promise<{ app: App; url: string; secret: string }> {
  const app = await createApp({ config, logger: createLogger({ level: 'silent' }) });
  const { url } = await app.listen(0, '127.0.0.1');
  const { secret } = await adminClient(url, MASTER).setup();
  return { app, url, secret };
}

/** The same traffic: every prompt to `chat`, three to `azure-only`. Returns refusals. */
async function traffic(url: string, secret: string): Promise<number> {
  const client = new OpenAI({
    baseURL: `${url}/v1`,
    apiKey: secret,
    maxRetries: 0,
    timeout: 60_000,
  });
  let refused = 0;
  const send = async (model: string, prompt: string) => {
    try {
      await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: prompt }],
      });
    } catch (error) {
      if (!(error instanceof OpenAI.APIError) || error.status === undefined) throw error;
      refused += 1;
    }
  };
  // One at a time: the order of the accruals (and so where the cap bites) is the order sent.
  for (const prompt of PROMPTS) await send('chat', prompt);
  for (const prompt of PROMPTS.slice(0, 3)) await send('azure-only', prompt);
  return refused;
}

const nonZero = (record: Record<string, bigint>) =>
  Object.fromEntries(Object.entries(record).filter(([, amount]) => amount !== 0n));

describe('what-if against a real run under the alternative agreements', () => {
  let clouds: Clouds;
  let original: { app: App; url: string; secret: string };
  let alternative: { app: App; url: string; secret: string };
  let current: Config;
  let altConfig: Config;
  let refusedByB = 0;

  beforeAll(async () => {
    clouds = await startClouds();
    current = parseConfig(originalYaml(clouds));
    altConfig = alternativeConfig(current, alternativeYaml());
    original = await startFrom(current);
    alternative = await startFrom(altConfig);
    expect(await traffic(original.url, original.secret)).toBe(0);
    refusedByB = await traffic(alternative.url, alternative.secret);
    await original.app.billing.flush();
    await alternative.app.billing.flush();
  }, 120_000);

  afterAll(async () => {
    await original?.app.close();
    await alternative?.app.close();
    await clouds?.close();
  });

  it('gives the alternative run’s ledger, its baseline the original’s, and writes nothing', async () => {
    const before = await ledgerSnapshot(original.app.database);
    const progress: Array<[number, number]> = [];
    const report: WhatIfReport = await runWhatIf({
      database: original.app.database,
      current,
      alternative: altConfig,
      from: Date.now() - DAY,
      to: Date.now() + DAY,
      pageSize: 4, // several pages, and a page boundary inside the run
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(await ledgerSnapshot(original.app.database)).toBe(before);

    const a = await ledgerFigures(original.app.database);
    const b = await ledgerFigures(alternative.app.database);
    const total = report.total;
    expect(total.requests).toBe(PROMPTS.length + 3);

    // Baseline = what A's ledger holds.
    expect(total.baseline.revenue).toBe(a.revenue);
    expect(total.baseline.cost).toBe(a.cost);
    expect(nonZero(total.baseline.accruals)).toEqual(a.accruals);

    // Alternative = what B's ledger holds, to the µUSD.
    expect(a.revenue).toBeGreaterThan(0n);
    expect(total.alternative.revenue).toBe(b.revenue);
    expect(total.alternative.cost).toBe(b.cost);
    expect(nonZero(total.alternative.accruals)).toEqual(b.accruals);
    expect(total.alternative.margin).toBe(
      b.revenue - b.cost - Object.values(b.accruals).reduce((x, y) => x + y, 0n),
    );
    // The cap bit mid-run: OpenAI's 10% would have been more than its cap of 120 µUSD.
    expect(b.accruals['openai']).toBe(120n);
    expect(total.alternative.revenue / 10n).toBeGreaterThan(120n);
    expect(b.accruals['aws']).toBeGreaterThan(0n);

    // Which deployments served: A all on Azure, B on OpenAI, azure-only refused.
    expect(total.baseline.served).toEqual({ 'azure/gpt-4o-mini': PROMPTS.length + 3 });
    const servedByB = await alternative.app.usage.summary();
    const servedCounts: Record<string, number> = {};
    for (const row of servedByB)
      if (row.deployment !== null && row.inputTokens > 0)
        servedCounts[`${row.deployment}/gpt-4o-mini`] =
          (servedCounts[`${row.deployment}/gpt-4o-mini`] ?? 0) + row.requests;
    expect(refusedByB).toBe(3);
    expect(total.alternative.served).toEqual({ ...servedCounts, [REFUSED]: refusedByB });
    expect(total.moved).toBe(PROMPTS.length + 3);

    // Progress was told about every page and ends at the total.
    expect(progress.at(-1)).toEqual([PROMPTS.length + 3, PROMPTS.length + 3]);
    expect(progress.length).toBeGreaterThan(3);
  });

  it('is reproducible: a second run gives the same report', async () => {
    const to = Date.now() + DAY;
    const run = () =>
      runWhatIf({ database: original.app.database, current, alternative: altConfig, from: 0, to });
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
  });

  it('with the current agreements as the alternative, changes nothing', async () => {
    const report = await runWhatIf({
      database: original.app.database,
      current,
      alternative: alternativeConfig(current, ''),
      from: 0,
      to: Date.now() + DAY,
    });
    expect(report.total.alternative).toEqual(report.total.baseline);
    expect(report.total.moved).toBe(0);
  });
});
