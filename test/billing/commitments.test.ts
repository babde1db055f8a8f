import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burnDown, burnDownFigures, periodOf } from '../../src/billing/index.js';
import { registerCommitmentsCommand } from '../../src/cli/commitments-command.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import type { UsageEvent } from '../../src/store/index.js';
import { waitFor } from '../agent/helpers.js';
import { call, type RunningGateway, startGateway } from '../helpers/gateway.js';

/**
 * Committed spend (`partners.<id>.commitment`, issue 18 item 3): the burn-down read from the
 * ledger to the µUSD, its linear projection, routing that prefers a partner while its
 * commitment is open and stops once it is consumed, the admin API, the CLI, and the
 * `commitment.under_use` alert as a signed webhook.
 *
 * Deployment cost is 1 USD per 1M input tokens and 2 USD per 1M output tokens, so a request
 * books exactly `input + 2 × output` µUSD: the expected figures come from the usage events.
 */

const MASTER = 'sk-master-burn-down-0123456789';
const SECRET = `whsec_${Buffer.from('switchyard-commitments-test-secret-0123').toString('base64')}`;
const verifier = new OpenAI({ apiKey: 'unused', webhookSecret: SECRET });
const COST = { input: '1', output: '2' };

let emulator: Emulator;
let gateway: RunningGateway;
let receiver: ReturnType<typeof createServer>;
let dir: string;
let configPath: string;
const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  emulator = await startOpenAIEmulator({ flavor: 'openai' });
  dir = mkdtempSync(join(tmpdir(), 'switchyard-commitments-'));
  const provider = (partner: string) => ({
    type: 'openai' as const,
    partner,
    baseUrl: `${emulator.url}/v1`,
    apiKey: 'sk-up',
  });
  const config = {
    store: `sqlite:${join(dir, 'switchyard.db')}`,
    logging: { level: 'silent' as const },
    auth: { masterKey: MASTER },
    partners: {
      // 50 µUSD a day: two requests (about 33 µUSD each) consume it.
      acme: { commitment: { spend: '0.000050', period: 'day' as const, warnAfterPercent: 100 } },
      other: {},
      // $5 a month: far more than the test spends, so it will be under-used.
      big: { commitment: { spend: '5', warnAfterPercent: 0 } },
    },
    providers: {
      'other-cloud': provider('other'),
      'acme-cloud': provider('acme'),
      'big-cloud': provider('big'),
    },
    models: {
      // Config order puts the partner without a commitment first.
      m: {
        price: { input: '3', output: '6' },
        deployments: [
          { provider: 'other-cloud', model: 'gpt-4o-mini', cost: COST },
          { provider: 'acme-cloud', model: 'gpt-4o-mini', cost: COST },
        ],
      },
      b: {
        price: { input: '3', output: '6' },
        deployments: [{ provider: 'big-cloud', model: 'gpt-4o-mini', cost: COST }],
      },
    },
    alerts: {
      webhooks: [{ url: receiverUrl, secret: SECRET, backoffMs: 50 }],
      // No timer check during the test: it calls check() itself.
      checkIntervalMs: 3_600_000,
    },
    runtime: { tools: { allowPrivateNetworks: true, workerIntervalMs: 100 } },
  };
  configPath = join(dir, 'switchyard.yaml');
  writeFileSync(configPath, JSON.stringify(config));
  gateway = await startGateway(config);
});
afterAll(async () => {
  await gateway?.close();
  await emulator?.close();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function ask(model: string) {
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: MASTER, maxRetries: 0 });
  const { data, response } = await client.chat.completions
    .create({
      model,
      max_tokens: 20,
      messages: [{ role: 'user', content: 'count one two three four five six seven eight' }],
    })
    .withResponse();
  return { id: data.id, deployment: response.headers.get('x-switchyard-deployment') };
}

/** µUSD a usage event books at COST. */
const costOf = (event: UsageEvent) => BigInt(event.inputTokens) + 2n * BigInt(event.outputTokens);

/** Waits until the ledger holds `count` usage postings for `providers`, then returns their events. */
async function booked(providers: string[], count: number): Promise<UsageEvent[]> {
  return waitFor(async () => {
    const events = (await gateway.app.usage.list({ limit: 1000 })).filter(
      (event) => event.deployment !== null && providers.includes(event.deployment),
    );
    if (events.length !== count) return undefined;
    const rows = await burnDown(gateway.app.database, gateway.app.config, { at: Date.now() });
    const expected = events.reduce((sum, event) => sum + costOf(event), 0n);
    const partner = providers[0] === 'big-cloud' ? 'big' : 'acme';
    return rows.find((row) => row.partner === partner)?.consumed === expected ? events : undefined;
  });
}

describe('commitments: burn-down, projection, routing and alert', () => {
  it('fills an open commitment first, exactly to the µUSD, then routes pay-as-you-go once it is consumed', async () => {
    expect(gateway.app.commitments?.open('acme')).toBe(true);
    const first = await ask('m');
    expect(first.deployment).toBe('acme-cloud');
    let events = await booked(['acme-cloud'], 1);
    await gateway.app.commitments!.refresh();
    expect(gateway.app.commitments!.open('acme')).toBe(costOf(events[0]!) < 50n);

    // Two requests book more than 50 µUSD: after the refresh the commitment is closed.
    const second = await ask('m');
    expect(second.deployment).toBe('acme-cloud');
    events = await booked(['acme-cloud'], 2);
    const consumed = events.reduce((sum, event) => sum + costOf(event), 0n);
    expect(consumed).toBeGreaterThanOrEqual(50n);
    await gateway.app.commitments!.refresh();
    expect(gateway.app.commitments!.open('acme')).toBe(false);
    expect((await ask('m')).deployment).toBe('other-cloud');

    const at = Date.now();
    const [row] = await burnDown(gateway.app.database, gateway.app.config, {
      at,
      partner: 'acme',
    });
    const day = periodOf(at, 'day');
    expect(row).toMatchObject({
      partner: 'acme',
      period: day.id,
      unit: 'day',
      committed: 50n,
      consumed,
      remaining: 0n,
      shortfall: 0n,
      underUse: false,
      warn: false,
      providers: ['acme-cloud'],
    });
    // The other partner's cost does not count toward acme's commitment.
    expect(row!.projected).toBe(
      (consumed * BigInt(day.endsAt - day.startsAt)) / BigInt(at - day.startsAt),
    );
  }, 60_000);

  it('projects under-use, says so in the admin API and the CLI, and sends the alert webhook', async () => {
    for (let i = 0; i < 3; i++) expect((await ask('b')).deployment).toBe('big-cloud');
    const events = await booked(['big-cloud'], 3);
    const consumed = events.reduce((sum, event) => sum + costOf(event), 0n);
    const at = Date.now();
    const month = periodOf(at, 'month');
    const projected =
      (consumed * BigInt(month.endsAt - month.startsAt)) / BigInt(at - month.startsAt);

    // Admin API, at a fixed instant so the projection is exact.
    const answer = await call(
      `${gateway.url}/admin/v1/billing/commitments?partner=big&at=${new Date(at).toISOString()}`,
      { method: 'GET', headers: { authorization: `Bearer ${MASTER}` } },
    );
    expect(answer.status).toBe(200);
    expect(answer.body.data).toHaveLength(1);
    expect(answer.body.data[0]).toMatchObject({
      object: 'commitment_burn_down',
      partner: 'big',
      period: month.id,
      committed_micros: '5000000',
      consumed_micros: consumed.toString(),
      remaining_micros: (5_000_000n - consumed).toString(),
      projected_micros: projected.toString(),
      shortfall_micros: (5_000_000n - projected).toString(),
      under_use: true,
      warn: true,
    });
    const bad = await call(`${gateway.url}/admin/v1/billing/commitments?period=2026-13`, {
      method: 'GET',
      headers: { authorization: `Bearer ${MASTER}` },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('period');
    const anonymous = await call(`${gateway.url}/admin/v1/billing/commitments`, { method: 'GET' });
    expect(anonymous.status).toBe(401);

    // The CLI reads the same store through the config file.
    const out: string[] = [];
    const program = new Command().exitOverride();
    registerCommitmentsCommand(program, { out: (text) => out.push(text), err: () => {} });
    await program.parseAsync(
      ['commitments', '--config', configPath, '--json', '--at', new Date(at).toISOString()],
      { from: 'user' },
    );
    const cli = JSON.parse(out.join(''));
    const { object: _object, ...fromApi } = answer.body.data[0];
    expect(cli.data.find((item: { partner: string }) => item.partner === 'big')).toEqual(fromApi);
    out.length = 0;
    await program.parseAsync(
      [
        'commitments',
        '--config',
        configPath,
        '--partner',
        'big',
        '--at',
        new Date(at).toISOString(),
      ],
      { from: 'user' },
    );
    const text = out.join('');
    expect(text).toMatch(/^PARTNER\s+PERIOD/);
    expect(text).toContain('UNDER-USE');
    expect(text).toContain(`warning: big will under-use its ${month.id} commitment`);

    // The alert: raised by the check, delivered signed, once per partner and period.
    const raised = await gateway.app.alerts.check();
    const alert = raised.find((item) => item.type === 'commitment.under_use');
    expect(alert?.key).toBe(`commitment:big:${month.id}`);
    expect(alert?.data).toMatchObject({
      consumed_micros: consumed.toString(),
      committed_micros: '5000000',
    });
    // acme consumed its commitment (and waits for 100% of its day): no alert for it.
    expect(raised.filter((item) => item.type === 'commitment.under_use')).toHaveLength(1);
    const hook = await waitFor(async () => {
      for (const item of received) {
        const event = (await verifier.webhooks.unwrap(
          item.body,
          item.headers as Record<string, string>,
        )) as unknown as { type: string; data: Record<string, unknown> };
        if (event.type === 'commitment.under_use') return event;
      }
      return undefined;
    });
    // warnAfterPercent 0: the check at start already raised it (nothing consumed then); the
    // webhook outbox sends one alert per partner and period, whichever replica or check raises it.
    expect(hook.data).toMatchObject({
      partner: 'big',
      period: month.id,
      committed_micros: '5000000',
    });
    expect(BigInt(hook.data['consumed_micros'] as string)).toBeLessThanOrEqual(consumed);
    expect(BigInt(hook.data['projected_micros'] as string)).toBeLessThan(5_000_000n);
    await gateway.app.alerts.check();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const underUse = received.filter((item) => item.body.includes('commitment.under_use'));
    expect(underUse).toHaveLength(1);
  }, 60_000);

  it('projects linearly to the period end and warns only past warnAfterPercent', () => {
    const base = {
      partner: 'p',
      name: undefined,
      period: '2026-11',
      unit: 'month' as const,
      startsAt: Date.UTC(2026, 10, 1),
      endsAt: Date.UTC(2026, 11, 1),
      committed: 3_000_000n,
      consumed: 1_000_001n,
      providers: [],
    };
    // A third of November gone (10 of 30 days): 1,000,001 µUSD projects to 3,000,003.
    const third = burnDownFigures({
      ...base,
      at: Date.UTC(2026, 10, 11),
      warnAfterPercent: 10,
    });
    expect(third.projected).toBe(3_000_003n);
    expect(third.underUse).toBe(false);
    // Half gone: 2,000,002 projected, 999,998 short; warned past 10%, not before 60%.
    const half = { ...base, consumed: 1_000_001n, at: Date.UTC(2026, 10, 16) };
    expect(burnDownFigures({ ...half, warnAfterPercent: 10 })).toMatchObject({
      projected: 2_000_002n,
      shortfall: 999_998n,
      remaining: 1_999_999n,
      underUse: true,
      warn: true,
    });
    expect(burnDownFigures({ ...half, warnAfterPercent: 60 }).warn).toBe(false);
    // After the period: what was consumed is final.
    const after = burnDownFigures({ ...base, at: Date.UTC(2027, 0, 5), warnAfterPercent: 10 });
    expect(after).toMatchObject({ projected: 1_000_001n, elapsed: 1, warn: true });
  });
});
