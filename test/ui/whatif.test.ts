import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import {
  type SandboxClouds,
  sandboxConfig,
  sandboxRoutes,
  startSandboxClouds,
} from '../../src/sandbox/preset.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { call } from '../helpers/gateway.js';
import { CHROMIUM, CHROMIUM_ARGS, ensureChromium } from './chromium.js';

/** The What-if page in headless Chromium: paste or pick alternative agreements, run, read the differences. */

const MASTER_KEY = 'sk-master-whatif-ui-test-0000';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'ui');
const missing = ensureChromium();
if (missing) console.warn(`[what-if e2e] skipped: ${missing}`);

/** Azure's licence ended yesterday: the sandbox's gpt-4o-mini goes to OpenAI direct. */
function alternative(): string {
  const ended = new Date(Date.now() - 86_400_000).toISOString();
  return [
    'partners:',
    '  azure:',
    '    primary: true',
    `    license: { from: "2019-07-22", until: "${ended}" }`,
    '    revenueShare: { rate: "0.20", cap: "50000000000", from: "2019-07-22", until: "2031-01-01" }',
    '',
  ].join('\n');
}

describe.skipIf(missing !== undefined)('the What-if page', () => {
  let sandbox: SandboxClouds;
  let app: App;
  let url: string;
  let browser: Browser;
  let page: Page;
  const auth = { authorization: `Bearer ${MASTER_KEY}` };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    sandbox = await startSandboxClouds();
    const config = sandboxConfig(sandbox, { store: 'sqlite::memory:', masterKey: MASTER_KEY });
    app = await createApp({
      config,
      logger: createLogger({ level: 'silent' }),
      extraRoutes: () => sandboxRoutes(sandbox, MASTER_KEY),
    });
    url = (await app.listen(0, '127.0.0.1')).url;
    for (let i = 0; i < 4; i++) {
      const answer = await call(`${url}/v1/chat/completions`, {
        body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `what if ${i}` }] },
        headers: auth,
      });
      expect(answer.status).toBe(200);
    }
    await app.billing.flush();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
    await context.route('**/*', (route) =>
      route.request().url().startsWith(url) ? route.continue() : route.abort(),
    );
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await sandbox?.close();
  });

  const cell = (metric: string, column: number) =>
    page
      .locator('[data-period="total"] tr', { hasText: metric })
      .first()
      .locator('td')
      .nth(column)
      .textContent();

  it('runs a pasted what-if and shows the moved requests and the partner accruals', async () => {
    await page.goto(`${url}/ui`);
    await page.getByLabel('Master key').fill(MASTER_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'What-if' }).click();
    await page.getByLabel('Alternative agreements (YAML)').fill(alternative());
    await page.getByRole('button', { name: 'Run what-if' }).click();
    await page.locator('[data-period="total"]').waitFor({ timeout: 30_000 });
    expect(await cell('served sandbox-openai/gpt-4o-mini', 1)).toBe('0');
    expect(await cell('served sandbox-openai/gpt-4o-mini', 2)).toBe('4');
    expect(await cell('served sandbox-azure/gpt-4o-mini', 3)).toBe('-4');
    expect(await cell('accrual azure', 3)).toMatch(/^-0\.\d+$/);
    await page.screenshot({ path: join(ARTIFACTS, 'whatif.png'), fullPage: true });
  });

  it('takes the agreements from a picked file and reports an error in the file', async () => {
    await page.locator('input[type="file"]').setInputFiles({
      name: 'alt.yaml',
      mimeType: 'text/yaml',
      buffer: Buffer.from('partners:\n  azure: { revenueShare: { rate: "lots" } }\n'),
    });
    await expect
      .poll(() => page.getByLabel('Alternative agreements (YAML)').inputValue())
      .toContain('lots');
    await page.getByRole('button', { name: 'Run what-if' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('partners.azure.revenueShare.rate');
  });
});
