import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { waitFor } from '../agent/helpers.js';
import { call } from '../helpers/gateway.js';
import { CHROMIUM, CHROMIUM_ARGS, ensureChromium } from './chromium.js';

/**
 * The Routing page in headless Chromium with its own small gateway (lowest-net-cost, an emulated
 * Azure PTU deployment with reserved capacity in front of pay-as-you-go OpenAI): each
 * deployment's net cost with the revenue share behind it, and the reserved capacity state, as
 * /v1/routing reports them.
 */

const MASTER_KEY = 'sk-master-routing-ui-test-0000';
const AZURE_KEY = 'azure-ptu-routing-ui-0123456789';
const OPENAI_KEY = 'sk-payg-routing-ui-0123456789';
const PTU_KEY = 'azure-ptu/gpt-4o-mini-ptu';
const PROMPT =
  'say one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'ui');
const missing = ensureChromium();
if (missing) console.warn(`[routing e2e] skipped: ${missing}`);

interface DeploymentView {
  key: string;
  reserved_used_tokens: number | null;
  spilling_until: string | null;
  net_cost: { net_usd: string | null; shares: Array<{ partner: string; state: string }> } | null;
}

describe.skipIf(missing !== undefined)('the Routing page: net cost and reserved capacity', () => {
  let azure: Emulator;
  let payg: Emulator;
  let app: App;
  let url: string;
  let browser: Browser;
  let page: Page;
  const auth = { authorization: `Bearer ${MASTER_KEY}` };

  const deployments = async (): Promise<Map<string, DeploymentView>> => {
    const answer = await call(`${url}/v1/routing`, { method: 'GET', headers: auth });
    expect(answer.status).toBe(200);
    const model = answer.body.data.find((entry: { model: string }) => entry.model === 'reserved');
    return new Map(
      (model.deployments as DeploymentView[]).map((deployment) => [deployment.key, deployment]),
    );
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    azure = await startOpenAIEmulator({
      flavor: 'azure',
      apiKey: AZURE_KEY,
      ptu: { 'gpt-4o-mini-ptu': 100 },
    });
    payg = await startOpenAIEmulator({ flavor: 'openai', apiKey: OPENAI_KEY });
    const config = validateConfig({
      store: 'sqlite::memory:',
      logging: { level: 'silent' },
      auth: { masterKey: MASTER_KEY },
      partners: {
        azure: {
          name: 'Azure',
          revenueShare: { rate: '0.2', cap: '1000', from: '2020-01-01', until: '2100-01-01' },
        },
        openai: { name: 'OpenAI' },
      },
      providers: {
        'azure-ptu': {
          type: 'azure-openai',
          partner: 'azure',
          baseUrl: azure.url,
          apiKey: AZURE_KEY,
          apiVersion: '2024-10-21',
        },
        payg: {
          type: 'openai',
          partner: 'openai',
          baseUrl: `${payg.url}/v1`,
          apiKey: OPENAI_KEY,
        },
      },
      models: {
        reserved: {
          price: { input: '1000', output: '1000' },
          deployments: [
            {
              provider: 'azure-ptu',
              model: 'gpt-4o-mini-ptu',
              reservedTpm: 50_000,
              cost: { input: '100', output: '100' },
            },
            { provider: 'payg', model: 'gpt-4o-mini', cost: { input: '300', output: '300' } },
          ],
        },
      },
      routing: { strategy: 'lowest-net-cost', retries: 0 },
    });
    app = await createApp({ config, logger: createLogger({ level: 'silent' }) });
    url = (await app.listen(0, '127.0.0.1')).url;

    // Until the PTU's upstream minute is used and a request spills to pay-as-you-go.
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const served: string[] = [];
    for (let i = 0; i < 10 && !served.includes('payg'); i++) {
      const { response } = await client.chat.completions
        .create({
          model: 'reserved',
          max_tokens: 20,
          messages: [{ role: 'user', content: PROMPT }],
        })
        .withResponse();
      served.push(response.headers.get('x-switchyard-deployment')!);
    }
    expect(served[0]).toBe('azure-ptu');
    expect(served.at(-1)).toBe('payg');
    // The usage events have settled the reservations (the refused attempt's estimate given back).
    await waitFor(async () => {
      const events = await app.usage.list({ model: 'reserved' });
      return events.length === served.length ? events : undefined;
    });

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
    page = await context.newPage();
    await context.route('**/*', (route) =>
      route.request().url().startsWith(url) ? route.continue() : route.abort(),
    );
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await azure?.close();
    await payg?.close();
  });

  it('shows each deployment’s net cost with the revenue share, and the reserved capacity spilling', async () => {
    const view = await deployments();
    const ptu = view.get(PTU_KEY)!;
    expect(ptu.spilling_until).not.toBeNull();
    expect(ptu.reserved_used_tokens).toBeGreaterThan(0);
    expect(ptu.net_cost!.shares.map((share) => share.partner)).toEqual(['azure']);
    const net = ptu.net_cost!.net_usd!;
    expect(Number(net)).toBeGreaterThan(0);

    await page.goto(`${url}/ui`);
    await page.getByLabel('Master key').fill(MASTER_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Routing' }).click();
    const model = page.locator('[data-model="reserved"]');
    await model.waitFor();
    await expect.poll(() => page.locator('.head').textContent()).toContain('lowest-net-cost');

    // Net cost: the figure of /v1/routing, the cloud price and Azure's share at its rate.
    const cost = model.locator(`[data-net-cost="${PTU_KEY}"]`);
    await cost.waitFor();
    const costText = await cost.textContent();
    expect(costText).toContain(`$${Number(net).toFixed(2)}cloud $`);
    expect(costText).toContain('azure $');
    expect(await cost.locator('[data-share="azure"] .badge').textContent()).toBe('20.0%');
    expect(await model.locator('[data-net-cost]').count()).toBe(2);

    // Reserved capacity: the minute's tokens of 50k TPM, spilling after the upstream's 429.
    const reserved = model.locator(`[data-reserved="${PTU_KEY}"]`);
    const text = (await reserved.textContent()) ?? '';
    expect(text).toContain('/ 50.0k TPM');
    // The page shows what /v1/routing reports for this replica's minute.
    const used = Number(text.split(' / ')[0]!.replaceAll(',', ''));
    expect(used).toBe((await deployments()).get(PTU_KEY)!.reserved_used_tokens);
    expect(text).toContain('spilling until');
    expect(text).toContain('upstream 429');
    expect(await model.textContent()).toContain('pay-as-you-go');
    await page.screenshot({
      path: join(ARTIFACTS, 'routing-net-cost-reserved.png'),
      fullPage: true,
    });
  }, 60_000);
});
