import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { createDatabase, type Database, migrate } from '../../src/store/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import { http } from '../runtime/helpers.js';
import { waitFor } from './helpers.js';

/**
 * Operators' view of the webhook outbox, over real sockets on SQLite (and Postgres when
 * reachable): a delivery the receiver refuses ends `failed`, shows in
 * `GET /admin/v1/webhooks/deliveries` and in `switchyard_webhook_deliveries` /
 * `switchyard_webhook_oldest_pending_seconds`; `POST …/{id}/retry` sends it again, the receiver
 * verifies it with the openai SDK's `webhooks.unwrap()`, and list and metrics follow.
 */

const KEY = 'sk-webhook-admin-tenant-0123456789';
const MASTER = 'sk-master-webhook-admin-tests';
const SECRET = `whsec_${Buffer.from('switchyard-webhook-admin-secret-0123456789').toString('base64')}`;
const verifier = new OpenAI({ apiKey: 'unused', webhookSecret: SECRET });

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver: `fail` answers 500, `hang` holds the request until `release()`, `ok` answers 200. */
async function startReceiver() {
  const received: Received[] = [];
  const held: ServerResponse[] = [];
  let mode: 'fail' | 'hang' | 'ok' = 'fail';
  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      received.push({ headers: incoming.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (mode === 'hang') held.push(response);
      else response.writeHead(mode === 'ok' ? 200 : 500).end(mode);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks?token=url-token-123`,
    received,
    held,
    set mode(next: 'fail' | 'hang' | 'ok') {
      mode = next;
    },
    release() {
      for (const response of held.splice(0)) response.writeHead(200).end('ok');
    },
    async close() {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A chat model that answers every request. */
async function startModel() {
  const server = createServer((incoming, response) => {
    incoming.resume();
    incoming.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1,
          model: 'm',
          choices: [
            { index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' },
          ],
          usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let model: Awaited<ReturnType<typeof startModel>>;
let workdir: string;
const pgDatabase = await pgTestUrl();
if (!pgDatabase) console.warn(PG_SKIP_MESSAGE);

beforeAll(async () => {
  model = await startModel();
  workdir = mkdtempSync(join(tmpdir(), 'switchyard-webhook-admin-'));
});
afterAll(async () => {
  await model?.close();
  rmSync(workdir, { recursive: true, force: true });
  await pgDatabase?.drop();
});

const stores: Array<{ name: string; open: () => Promise<Database> }> = [
  { name: 'sqlite', open: () => createDatabase(`sqlite:${join(workdir, 'store.db')}`) },
];
if (pgDatabase) stores.push({ name: 'postgres', open: () => createDatabase(pgDatabase.url) });

describe.each(stores)('webhook deliveries for operators on $name', ({ open }) => {
  let database: Database;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let app: App;
  let url: string;
  // The collector reads the store at most every 15 s; the test moves this clock past that instead of waiting.
  let offset = 0;

  beforeAll(async () => {
    database = await open();
    await migrate(database);
    receiver = await startReceiver();
    const config = validateConfig(
      {
        store: 'sqlite::memory:',
        logging: { level: 'warn' },
        auth: { masterKey: MASTER },
        partners: { openai: { primary: true } },
        keys: [{ key: KEY, name: 'w', tenant: 'tenant-w', project: 'project-w' }],
        providers: {
          fake: {
            type: 'openai',
            partner: 'openai',
            baseUrl: `${model.url}/v1`,
            apiKey: 'sk-fake',
          },
        },
        models: { fake: { deployments: [{ provider: 'fake', model: 'm' }] } },
        routing: { retries: 0 },
        runtime: {
          tools: { leaseMs: 2000, workerIntervalMs: 60_000, allowPrivateNetworks: true },
          // Two quick attempts, then `failed`; a long timeout keeps the lease of a held attempt past the clock's jumps.
          webhooks: [
            {
              url: receiver.url,
              secret: '${SWY_TEST_WEBHOOK_SECRET}',
              maxAttempts: 2,
              backoffMs: 50,
              maxBackoffMs: 100,
              timeoutMs: 30_000,
            },
          ],
        },
      },
      { SWY_TEST_WEBHOOK_SECRET: SECRET },
    );
    app = await createApp({
      config,
      database,
      clock: () => Date.now() + offset,
      logger: createLogger({ level: 'warn' }),
    });
    url = (await app.listen(0, '127.0.0.1')).url;
  });
  afterAll(async () => {
    await app?.close();
    await receiver?.close();
    await database?.close();
  });

  const admin = (path: string, method = 'GET') =>
    http(`${url}/admin/v1/webhooks/deliveries${path}`, { key: MASTER, method });
  /** Scrapes /metrics after moving the clock past the collector's store refresh. */
  const scrape = async () => {
    offset += 16_000;
    const text = (await http(`${url}/metrics`, { key: MASTER })).text;
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    return {
      pending: value('switchyard_webhook_deliveries{status="pending"}'),
      delivered: value('switchyard_webhook_deliveries{status="delivered"}'),
      failed: value('switchyard_webhook_deliveries{status="failed"}'),
      skipped: value('switchyard_webhook_deliveries{status="skipped"}'),
      oldestPending: value('switchyard_webhook_oldest_pending_seconds'),
      attempts: Object.fromEntries(
        ['delivered', 'retry', 'failed'].map((outcome) => [
          outcome,
          value(`switchyard_webhook_attempts_total{outcome="${outcome}"}`) || 0,
        ]),
      ),
    };
  };

  it('lists a failed delivery, counts it, retries it on request and the receiver gets it signed', {
    timeout: 30_000,
  }, async () => {
    expect(await scrape()).toEqual({
      pending: 0,
      delivered: 0,
      failed: 0,
      skipped: 0,
      oldestPending: 0,
      attempts: { delivered: 0, retry: 0, failed: 0 },
    });

    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 });
    const created = await client.responses.create({
      model: 'fake',
      input: 'hello',
      background: true,
    });
    const failed = await waitFor(async () => {
      const page = (await admin(`?status=failed&response_id=${created.id}`)).json();
      return page.data.length === 1 ? page.data[0] : undefined;
    }, 15_000);
    expect(receiver.received).toHaveLength(2);
    expect(failed).toMatchObject({
      object: 'webhook.delivery',
      response_id: created.id,
      tenant_id: 'tenant-w',
      type: 'response.completed',
      status: 'failed',
      attempts: 2,
      next_attempt_at: null,
      last_status: 500,
      last_error: 'HTTP 500',
      delivered_at: null,
    });
    expect(failed.id).toBe(receiver.received[0]!.headers['webhook-id']);
    expect(Math.abs(failed.created_at - Date.now() / 1000)).toBeLessThan(60);
    expect(Object.keys(failed).sort()).toEqual([
      'attempts',
      'created_at',
      'delivered_at',
      'endpoint',
      'id',
      'last_error',
      'last_status',
      'next_attempt_at',
      'object',
      'response_id',
      'status',
      'tenant_id',
      'type',
    ]);

    // Filters and pages; no URL (nor its token) and no secret in the answer.
    const all = await admin('');
    expect(all.status).toBe(200);
    expect(all.json()).toMatchObject({ object: 'list', last_id: failed.id, has_more: false });
    expect(all.text).not.toContain('127.0.0.1');
    expect(all.text).not.toContain('url-token-123');
    expect(all.text).not.toContain(SECRET.slice('whsec_'.length));
    expect((await admin('?status=delivered')).json().data).toEqual([]);
    expect((await admin('?tenant=someone-else')).json().data).toEqual([]);
    expect((await admin('?tenant=tenant-w&limit=1')).json()).toMatchObject({
      data: [{ id: failed.id }],
      has_more: false,
      last_id: failed.id,
    }); // exact: the only delivery fills the page and nothing follows
    expect((await admin(`?after=${failed.id}`)).json()).toMatchObject({
      data: [],
      has_more: false,
      last_id: null,
    });
    for (const bad of [
      '?status=lost',
      '?limit=0',
      '?limit=101',
      '?limit=ten',
      '?after=evt_unknown',
      '?tenant=',
    ]) {
      const answer = await admin(bad);
      expect(answer.status, bad).toBe(400);
      expect(answer.json().error).toMatchObject({
        type: 'invalid_request_error',
        code: 'invalid_request',
      });
    }

    // Two attempts (maxAttempts: 2): one retried, the second gave up.
    expect(await scrape()).toEqual({
      pending: 0,
      delivered: 0,
      failed: 1,
      skipped: 0,
      oldestPending: 0,
      attempts: { delivered: 0, retry: 1, failed: 1 },
    });

    // The retry is held by the receiver: pending, and the oldest pending delivery's age shows.
    receiver.mode = 'hang';
    offset += 16_000; // past the last store read, so the next scrape reads again
    const retried = await admin(`/${failed.id}/retry`, 'POST');
    expect(retried.status).toBe(200);
    expect(retried.json()).toMatchObject({
      id: failed.id,
      status: 'pending',
      attempts: 2,
      last_status: 500,
    });
    expect(Math.abs(retried.json().next_attempt_at - (Date.now() + offset) / 1000)).toBeLessThan(5);
    await waitFor(() => receiver.held.length === 1, 10_000);
    const during = await scrape();
    expect(during).toMatchObject({ pending: 1, failed: 0, delivered: 0 });
    // Queued before the clock moved 48 s (three jumps of 16 s): an age, not a timestamp.
    expect(during.oldestPending).toBeGreaterThanOrEqual(48);
    expect(during.oldestPending).toBeLessThan(120);
    expect((await admin(`/${failed.id}/retry`, 'POST')).status).toBe(409); // pending already

    receiver.mode = 'ok';
    receiver.release();
    const delivered = await waitFor(async () => {
      const page = (await admin('?status=delivered')).json();
      return page.data.length === 1 ? page.data[0] : undefined;
    });
    expect(delivered).toMatchObject({
      id: failed.id,
      attempts: 3,
      last_status: 200,
      last_error: null,
      next_attempt_at: null,
    });
    expect(delivered.delivered_at).toBeGreaterThanOrEqual(delivered.created_at);
    expect(receiver.received).toHaveLength(3);
    const hook = receiver.received[2]!;
    const event = (await verifier.webhooks.unwrap(
      hook.body,
      hook.headers as Record<string, string>,
    )) as OpenAI.Webhooks.UnwrapWebhookEvent;
    expect(event).toMatchObject({
      id: failed.id,
      type: 'response.completed',
      data: { id: created.id },
    });
    expect((await admin('?status=failed')).json().data).toEqual([]);
    expect(await scrape()).toEqual({
      pending: 0,
      delivered: 1,
      failed: 0,
      skipped: 0,
      oldestPending: 0,
      attempts: { delivered: 1, retry: 1, failed: 1 },
    });

    // A delivered one is not sent again; an unknown id is 404; both in the OpenAI error shape.
    const again = await admin(`/${failed.id}/retry`, 'POST');
    expect(again.status).toBe(409);
    expect(again.json().error.message).toContain('delivered');
    const unknown = await admin('/evt_unknown/retry', 'POST');
    expect(unknown.status).toBe(404);
    expect(unknown.json().error).toMatchObject({ type: 'not_found_error', code: 'not_found' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(receiver.received).toHaveLength(3);
  });

  it('needs the master key', async () => {
    for (const [method, path] of [
      ['GET', ''],
      ['POST', '/evt_unknown/retry'],
    ] as const) {
      const bare = await request(`${url}/admin/v1/webhooks/deliveries${path}`, { method });
      expect(bare.statusCode, `${method} ${path}`).toBe(401);
      expect(((await bare.body.json()) as { error: { type: string } }).error.type).toBe(
        'authentication_error',
      );
      const tenant = await http(`${url}/admin/v1/webhooks/deliveries${path}`, { key: KEY, method });
      expect(tenant.status).toBe(403);
    }
  });
});
