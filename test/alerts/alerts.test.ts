import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { waitFor } from '../agent/helpers.js';
import { adminClient, chat, chatBody } from '../access/helpers.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

/**
 * Alerts (config `alerts`) reach a real receiver on loopback as signed webhooks through the
 * delivery outbox: budget thresholds (50/80/100%), a partner's revenue share reaching its cap
 * and a licence nearing its end; one endpoint takes the standard event body, another the
 * Slack-compatible `{text}`. Every delivery's signature is checked with the openai SDK.
 */

const MASTER = 'sk-master-alerts-0123456789';
const SECRET = `whsec_${Buffer.from('switchyard-alerts-test-secret-0123456789').toString('base64')}`;
const verifier = new OpenAI({ apiKey: 'unused', webhookSecret: SECRET });
const DAY = 86_400_000;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const received: Received[] = [];
let receiver: ReturnType<typeof createServer>;
let receiverUrl: string;
let emulator: Emulator;
let gateway: RunningGateway;
let admin: ReturnType<typeof adminClient>;
const licenceEnds = Date.now() + 5 * DAY;

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: request.url ?? '/',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      // The first Slack delivery is refused once: the outbox retries it with the same id.
      const slackCount = received.filter((item) => item.path === '/slack').length;
      response.writeHead(request.url === '/slack' && slackCount === 1 ? 503 : 200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  emulator = await startOpenAIEmulator({ flavor: 'openai' });
  gateway = await startGateway({
    auth: { masterKey: MASTER },
    partners: {
      acme: {
        primary: true,
        revenueShare: { rate: '0.5', cap: '0.000010' },
        license: { until: new Date(licenceEnds).toISOString() },
      },
    },
    providers: {
      up: { type: 'openai', partner: 'acme', baseUrl: `${emulator.url}/v1`, apiKey: 'sk-up' },
    },
    models: {
      // 1 µUSD per output token, input free: max_tokens 10 costs exactly 10 µUSD.
      metered: {
        price: { input: '0', output: '1' },
        deployments: [{ provider: 'up', model: 'x' }],
      },
    },
    runtime: { tools: { allowPrivateNetworks: true, workerIntervalMs: 100 } },
    alerts: {
      webhooks: [
        { url: `${receiverUrl}/standard`, secret: SECRET },
        {
          url: `${receiverUrl}/slack`,
          secret: SECRET,
          format: 'slack',
          events: ['budget.threshold'],
          backoffMs: 50,
        },
      ],
    },
  });
  admin = adminClient(gateway.url, MASTER);
});
afterAll(async () => {
  await gateway?.close();
  await emulator?.close();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

const at = (path: string) => received.filter((item) => item.path === path);
const verified = async (item: Received) =>
  (await verifier.webhooks.unwrap(
    item.body,
    item.headers as Record<string, string>,
  )) as unknown as {
    id: string;
    type: string;
    data: Record<string, unknown>;
  };

describe('alerts', () => {
  it('budget thresholds 50/80/100% go out once each, signed, in both formats; partner cap and licence on check', async () => {
    const { key, secret } = await admin.setup({
      key: { budget: { amount_micros: '40', period: 'month', mode: 'soft' } },
    });
    for (let i = 0; i < 5; i++)
      expect((await chat(gateway.url, secret, chatBody('metered', 10))).status).toBe(200);

    // The licence alert went out at start (the first check); budget alerts as spend crossed.
    const budgetHooks = async () => {
      const all = await Promise.all(at('/standard').map(verified));
      return all.filter((event) => event.type === 'budget.threshold');
    };
    const events = await waitFor(async () => {
      const found = await budgetHooks();
      return found.length >= 3 ? found : undefined;
    });
    expect(events.map((event) => event.data['percent']).sort()).toEqual([100, 50, 80]);
    expect(events.find((event) => event.data['percent'] === 50)!.data).toMatchObject({
      level: 'key',
      id: key.id,
      bucket: `key ${key.id}`,
      spent_micros: '20',
      limit_micros: '40',
    });

    // Slack format: `{text}`, still signed; the refused first attempt was retried with its id.
    const slack = await waitFor(() => {
      const ok = at('/slack');
      return new Set(ok.map((item) => item.headers['webhook-id'])).size >= 3 && ok.length >= 4
        ? ok
        : undefined;
    });
    const refusedId = slack[0]!.headers['webhook-id'];
    expect(slack.filter((item) => item.headers['webhook-id'] === refusedId)).toHaveLength(2);
    for (const item of slack) {
      await verified(item);
      expect(Object.keys(JSON.parse(item.body))).toEqual(['text']);
    }
    expect(slack.map((item) => JSON.parse(item.body).text as string)).toContainEqual(
      expect.stringMatching(new RegExp(`^Budget alert: key ${key.id} reached 80%`)),
    );

    // Partner cap (the 50% share of 50 µUSD hit the 10 µUSD cap) and licence (5 days left).
    // Accruals are posted by billing in the background: check until the cap shows.
    const raised = await waitFor(async () => {
      const found = await gateway.app.alerts.check();
      return found.some((alert) => alert.type === 'partner.share_cap') ? found : undefined;
    });
    expect(raised.map((alert) => alert.type).sort()).toEqual([
      'licence.ending',
      'partner.share_cap',
    ]);
    await gateway.app.alerts.check();
    await waitFor(() => (at('/standard').length >= 5 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Raised at start and by two checks, sent once each; the Slack endpoint does not take them.
    expect(at('/standard')).toHaveLength(5);
    expect(await budgetHooks()).toHaveLength(3);
    const later = (await Promise.all(at('/standard').map(verified))).filter(
      (event) => event.type !== 'budget.threshold',
    );
    expect(later.find((event) => event.type === 'partner.share_cap')!.data).toMatchObject({
      partner: 'acme',
      percent: 100,
      accrued_micros: '10',
      cap_micros: '10',
    });
    expect(later.find((event) => event.type === 'licence.ending')!.data).toMatchObject({
      partner: 'acme',
      days: 7,
      ends_at: new Date(licenceEnds).toISOString(),
    });
    expect(at('/slack').some((item) => JSON.parse(item.body).text.includes('icence'))).toBe(false);

    // The admin list shows them with the rest of the outbox.
    // An alert's key stands in the response_id column (one row per key and endpoint).
    const list = await admin.call(
      'GET',
      `/webhooks/deliveries?response_id=${encodeURIComponent(`licence:acme:${licenceEnds}:7`)}`,
    );
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ type: 'licence.ending', status: 'delivered' });
  }, 60_000);
});
