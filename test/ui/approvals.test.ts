import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentConfig,
  startMcpServer,
  startScriptedModel,
  type TestMcpServer,
} from '../agent/helpers.js';
import { call } from '../helpers/gateway.js';
import { MASTER_KEY, type RunningApp, startApp } from '../runtime/helpers.js';
import { CHROMIUM, CHROMIUM_ARGS, ensureChromium } from './chromium.js';

/** An agent run that waits for approval of an MCP tool call, approved from the dashboard. */

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'ui');
const missing = ensureChromium();

describe.skipIf(missing !== undefined)('approving a pending MCP tool call from /ui/runs', () => {
  let mcp: TestMcpServer;
  let model: Awaited<ReturnType<typeof startScriptedModel>>;
  let app: RunningApp;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    mcp = await startMcpServer();
    model = await startScriptedModel();
    app = await startApp(agentConfig(model.url, { maxOutputChars: 1000, maxSteps: 4 }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await model?.close();
    await mcp?.close();
  });

  it('shows the run step by step, approves, and the tool runs', async () => {
    const tools = [
      { type: 'mcp', server_label: 'calc', server_url: mcp.url, require_approval: 'always' },
    ];
    const first = await call(`${app.url}/v1/responses`, {
      body: { model: 'fake', input: 'CALL add {"a":1,"b":41}', tools, store: true },
      headers: { authorization: `Bearer ${MASTER_KEY}` },
    });
    expect(first.status).toBe(200);
    expect(first.body.output.map((item: { type: string }) => item.type)).toContain(
      'mcp_approval_request',
    );
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(`${app.url}/ui`);
    await page.getByLabel('Master key').fill(MASTER_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-stat="Requests"]').waitFor();
    await page.goto(`${app.url}/ui/runs?id=${first.body.id}`);
    const request = page.locator('[data-type="mcp_approval_request"]');
    await request.waitFor();
    expect(await request.textContent()).toContain('calc.add');
    await request.getByRole('button', { name: 'Approve' }).click();
    await expect
      .poll(() => request.textContent(), { timeout: 15_000 })
      .toMatch(/Approved: continued as resp_\w+ \(completed\)/);
    await page.screenshot({ path: join(ARTIFACTS, '09-approval.png'), fullPage: true });
    expect(mcp.calls.map((entry) => entry.name)).toEqual(['add']);
    await page.close();
  });
});
