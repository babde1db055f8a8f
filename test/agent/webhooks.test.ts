import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { endpointKey } from '../../src/runtime/agent/webhook-endpoints.js';
import { signWebhook } from '../../src/runtime/agent/webhook-format.js';
import { createWebhookDispatcher } from '../../src/runtime/agent/webhooks.js';
import { createDatabase, type Database, migrate } from '../../src/store/index.js';
import {
  createWebhookDeliveryStore,
  type WebhookDelivery,
} from '../../src/store/webhooks/deliveries.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { closedPort } from '../fakes/upstream.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import { http, parseSse } from '../runtime/helpers.js';
import { spawnServe, type ServeProcess, waitFor } from './helpers.js';

/**
 * Webhooks of background responses (config `runtime.webhooks`), over real sockets: a receiver
 * on loopback checks every delivery with the `openai` SDK's `webhooks.unwrap()`; failures are
 * retried with the same `webhook-id`; the outbox survives restarts and kill -9; replicas on one
 * database deliver each event once; SQLite and Postgres. Also: a cancelled run ends its stream
 * with a terminal event the openai SDK's stream helper accepts.
 */

const KEY = 'sk-webhook-tenant-0123456789';
const SECRET = `whsec_${Buffer.from('switchyard-webhook-test-secret-0123456789').toString('base64')}`;
const verifier = new OpenAI({ apiKey: 'unused', webhookSecret: SECRET });

// --- a webhook receiver -------------------------------------------------------------------------

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver answers, in order (then 200): a status, or `hang` (never answers). */
type Answer = number | 'hang';

interface Receiver {
  url: string;
  received: Received[];
  /** Answers per path, consumed in order. */
  plan: Map<string, Answer[]>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const plan = new Map<string, Answer[]>();
  const hanging: ServerResponse[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      received.push({
        path,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const answer = plan.get(path)?.shift() ?? 200;
      if (answer === 'hang') {
        hanging.push(response);
        return;
      }
      response
        .writeHead(answer, { 'content-type': 'text/plain' })
        .end(answer === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    plan,
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// --- a chat model: "ok: <input>"; SLOW <ms> waits, LENGTH stops at the token limit, FAIL is a 400 ---

async function startModel(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        messages: Array<{ role: string; content: unknown }>;
      };
      const text = String(
        body.messages.filter((message) => message.role === 'user').at(-1)?.content ?? '',
      );
      if (text.includes('FAIL')) {
        response.writeHead(400, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: {
              message: 'the model refused on purpose',
              type: 'invalid_request_error',
              param: null,
              code: null,
            },
          }),
        );
        return;
      }
      const delay = Number(/SLOW (\d+)/.exec(text)?.[1] ?? 0);
      const timer = setTimeout(() => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            id: 'chatcmpl-1',
            object: 'chat.completion',
            created: 1,
            model: 'm',
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: `ok: ${text}` },
                finish_reason: text.includes('LENGTH') ? 'length' : 'stop',
              },
            ],
            usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
          }),
        );
      }, delay);
      response.on('close', () => clearTimeout(timer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// --- Switchyard ----------------------------------------------------------------------------------

let receiver: Receiver;
let model: Awaited<ReturnType<typeof startModel>>;
let workdir: string;
const pgDatabase = await pgTestUrl();
if (!pgDatabase) console.warn(PG_SKIP_MESSAGE);

beforeAll(async () => {
  receiver = await startReceiver();
  model = await startModel();
  workdir = mkdtempSync(join(tmpdir(), 'switchyard-webhooks-'));
});
afterAll(async () => {
  await receiver?.close();
  await model?.close();
  rmSync(workdir, { recursive: true, force: true });
  await pgDatabase?.drop();
});

interface Gateway {
  app: App;
  url: string;
  client: OpenAI;
  logs: () => string;
  close(): Promise<void>;
}

/** A Switchyard on `database` whose config names the secret as `${SWY_TEST_WEBHOOK_SECRET}`. */
async function startGateway(
  database: Database,
  webhooks: Array<Record<string, unknown>>,
  tools: Record<string, unknown> = { allowPrivateNetworks: true },
): Promise<Gateway> {
  const config = validateConfig(
    {
      store: 'sqlite::memory:',
      logging: { level: 'info' },
      auth: { masterKey: 'sk-master-webhook-tests' },
      partners: { openai: { primary: true } },
      keys: [{ key: KEY, name: 'w', tenant: 'tenant-w', project: 'project-w' }],
      providers: {
        fake: { type: 'openai', partner: 'openai', baseUrl: `${model.url}/v1`, apiKey: 'sk-fake' },
      },
      models: { fake: { deployments: [{ provider: 'fake', model: 'm' }] } },
      routing: { retries: 0 },
      runtime: {
        tools: { leaseMs: 2000, workerIntervalMs: 200, ...tools },
        webhooks: webhooks.map((hook) => ({ secret: '${SWY_TEST_WEBHOOK_SECRET}', ...hook })),
      },
    },
    { SWY_TEST_WEBHOOK_SECRET: SECRET },
  );
  let logs = '';
  const destination = new PassThrough();
  destination.on('data', (chunk: Buffer) => void (logs += chunk.toString()));
  const app = await createApp({
    config,
    database,
    logger: createLogger({ level: 'info', destination }),
  });
  const { url } = await app.listen(0, '127.0.0.1');
  return {
    app,
    url,
    client: new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 }),
    logs: () => logs,
    close: () => app.close(),
  };
}

const hooksAt = (path: string) => receiver.received.filter((hook) => hook.path === path);
let pathCounter = 0;
/** A fresh receiver path per test (the receiver is shared). */
const freshPath = () => `/hooks/${++pathCounter}`;

async function finished(client: OpenAI, id: string): Promise<OpenAI.Responses.Response> {
  return waitFor(async () => {
    const current = await client.responses.retrieve(id);
    return ['completed', 'failed', 'cancelled', 'incomplete'].includes(current.status ?? '')
      ? current
      : undefined;
  }, 20_000);
}

async function deliveries(database: Database, responseId: string): Promise<WebhookDelivery[]> {
  return createWebhookDeliveryStore(database).forResponse(responseId);
}

const stores: Array<{ name: string; open: () => Promise<Database> }> = [
  {
    name: 'sqlite',
    open: () =>
      createDatabase(
        `sqlite:${join(workdir, `store-${Date.now()}-${Math.random().toString(36).slice(2)}.db`)}`,
      ),
  },
];
if (pgDatabase) stores.push({ name: 'postgres', open: () => createDatabase(pgDatabase.url) });

describe.each(stores)('webhooks of background responses on $name', ({ open }) => {
  let database: Database;
  beforeAll(async () => {
    database = await open();
    await migrate(database);
  });
  afterAll(async () => {
    await database?.close();
  });

  it('POSTs a signed response.completed that the openai SDK verifies', async () => {
    const path = freshPath();
    const gateway = await startGateway(database, [{ url: `${receiver.url}${path}` }]);
    try {
      const created = await gateway.client.responses.create({
        model: 'fake',
        input: 'hello webhooks',
        background: true,
      });
      expect(created.status).toBe('queued');
      const done = await finished(gateway.client, created.id);
      expect(done.status).toBe('completed');
      const [hook] = await waitFor(() => (hooksAt(path).length >= 1 ? hooksAt(path) : undefined));

      // Standard Webhooks headers, checked by the SDK (HMAC-SHA256 over "id.timestamp.body").
      const event = (await verifier.webhooks.unwrap(
        hook!.body,
        hook!.headers as Record<string, string>,
      )) as OpenAI.Webhooks.UnwrapWebhookEvent;
      expect(event.type).toBe('response.completed');
      expect(event).toMatchObject({ object: 'event', data: { id: created.id } });
      expect(event.id).toMatch(/^evt_/);
      expect(hook!.headers['webhook-id']).toBe(event.id);
      expect(hook!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(Math.abs(Number(hook!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(
        30,
      );
      expect(Number.isInteger(event.created_at)).toBe(true);
      expect(Math.abs(event.created_at - Date.now() / 1000)).toBeLessThan(30);
      expect(Object.keys(JSON.parse(hook!.body) as object).sort()).toEqual([
        'created_at',
        'data',
        'id',
        'object',
        'type',
      ]);
      expect(hook!.headers['content-type']).toBe('application/json');

      // A changed body, a wrong secret or an old timestamp is refused.
      await expect(
        verifier.webhooks.verifySignature(
          hook!.body.replace(created.id, 'resp_forged'),
          hook!.headers as Record<string, string>,
        ),
      ).rejects.toThrow(/signature/);
      await expect(
        verifier.webhooks.verifySignature(
          hook!.body,
          hook!.headers as Record<string, string>,
          'whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==',
        ),
      ).rejects.toThrow(/signature/);
      const stale = Math.floor(Date.now() / 1000) - 3600;
      await expect(
        verifier.webhooks.verifySignature(hook!.body, {
          ...(hook!.headers as Record<string, string>),
          'webhook-timestamp': String(stale),
          'webhook-signature': signWebhook(SECRET, event.id, stale, hook!.body),
        }),
      ).rejects.toThrow(/too old/);

      // The secret is used to sign only.
      expect(JSON.stringify(hook)).not.toContain(SECRET);
      expect(JSON.stringify(hook)).not.toContain(SECRET.slice('whsec_'.length));
      const [row] = await deliveries(database, created.id);
      expect(row).toMatchObject({
        id: event.id,
        status: 'delivered',
        attempts: 1,
        lastStatus: 200,
        type: 'response.completed',
        tenantId: 'tenant-w',
        endpoint: endpointKey(`${receiver.url}${path}`),
      });
      // Exactly one delivery, even after the poller has run a few more times.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(hooksAt(path)).toHaveLength(1);
      // Foreground responses send no webhook.
      await gateway.client.responses.create({ model: 'fake', input: 'in the foreground' });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(hooksAt(path)).toHaveLength(1);
    } finally {
      await gateway.close();
    }
  });

  it('sends response.failed, response.incomplete and response.cancelled, filtered by events; a cancelled stream ends cleanly', {
    timeout: 30_000,
  }, async () => {
    const all = freshPath();
    const onlyCompleted = freshPath();
    const gateway = await startGateway(database, [
      { url: `${receiver.url}${all}` },
      { url: `${receiver.url}${onlyCompleted}`, events: ['response.completed'] },
    ]);
    try {
      const failed = await gateway.client.responses.create({
        model: 'fake',
        input: 'FAIL please',
        background: true,
      });
      const incomplete = await gateway.client.responses.create({
        model: 'fake',
        input: 'LENGTH please',
        background: true,
      });
      expect((await finished(gateway.client, failed.id)).status).toBe('failed');
      expect((await finished(gateway.client, incomplete.id)).status).toBe('incomplete');

      // Cancel a run while its model call is in flight; a follower of its stream (openai SDK) sees it end.
      const slow = await gateway.client.responses.create({
        model: 'fake',
        input: 'SLOW 5000',
        background: true,
      });
      await waitFor(async () =>
        (await gateway.client.responses.retrieve(slow.id)).status === 'in_progress'
          ? true
          : undefined,
      );
      const follower = gateway.client.responses.stream({ response_id: slow.id });
      const types: string[] = [];
      const following = (async () => {
        for await (const event of follower) types.push(event.type);
        return follower.finalResponse();
      })();
      const raw = http(`${gateway.url}/v1/responses/${slow.id}?stream=true`, { key: KEY });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const cancelled = await gateway.client.responses.cancel(slow.id);
      expect(cancelled.status).toBe('cancelled');
      const final = await following;
      expect(final.status).toBe('cancelled');
      expect(final.id).toBe(slow.id);
      expect(types.slice(0, 3)).toEqual([
        'response.created',
        'response.queued',
        'response.in_progress',
      ]);
      // The stream has no event type of its own for a cancel: it ends with response.failed carrying the cancelled Response.
      expect(types.at(-1)).toBe('response.failed');
      const events = parseSse((await raw).text).map((entry) => entry.data);
      expect(events.at(-1)).toMatchObject({
        type: 'response.failed',
        response: { id: slow.id, status: 'cancelled', error: null },
      });
      expect(events.map((entry) => entry['sequence_number'])).toEqual(
        events.map((_, index) => index),
      );
      expect(events.some((entry) => entry['type'] === 'error')).toBe(false);

      const types_ = async (path: string, count: number) => {
        const hooks = await waitFor(() =>
          hooksAt(path).length >= count ? hooksAt(path) : undefined,
        );
        return Promise.all(
          hooks.map(
            async (hook) =>
              (await verifier.webhooks.unwrap(
                hook.body,
                hook.headers as Record<string, string>,
              )) as OpenAI.Webhooks.UnwrapWebhookEvent,
          ),
        );
      };
      const events_ = await types_(all, 3);
      const byResponse = new Map(
        events_.map((event) => [(event.data as { id: string }).id, event.type]),
      );
      expect(byResponse).toEqual(
        new Map([
          [failed.id, 'response.failed'],
          [incomplete.id, 'response.incomplete'],
          [slow.id, 'response.cancelled'],
        ]),
      );
      // The endpoint that takes only response.completed got none of them.
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(hooksAt(onlyCompleted)).toHaveLength(0);
      expect(hooksAt(all)).toHaveLength(3);
      expect(await deliveries(database, slow.id)).toHaveLength(1);
    } finally {
      await gateway.close();
    }
  });

  it('retries 5xx answers and timeouts with the same webhook-id, then delivers', {
    timeout: 30_000,
  }, async () => {
    const path = freshPath();
    receiver.plan.set(path, [500, 'hang', 503]);
    const gateway = await startGateway(database, [
      { url: `${receiver.url}${path}`, timeoutMs: 400, backoffMs: 100, maxBackoffMs: 400 },
    ]);
    try {
      const created = await gateway.client.responses.create({
        model: 'fake',
        input: 'retry me',
        background: true,
      });
      await finished(gateway.client, created.id);
      const hooks = await waitFor(
        () => (hooksAt(path).length >= 4 ? hooksAt(path) : undefined),
        15_000,
      );
      const row = await waitFor(async () => {
        const [current] = await deliveries(database, created.id);
        return current?.status === 'delivered' ? current : undefined;
      });
      expect(row).toMatchObject({ attempts: 4, lastStatus: 200, lastError: null });
      expect(new Set(hooks.map((hook) => hook.headers['webhook-id']))).toEqual(new Set([row.id]));
      expect(new Set(hooks.map((hook) => hook.body)).size).toBe(1);
      for (const hook of hooks)
        await verifier.webhooks.verifySignature(hook.body, hook.headers as Record<string, string>);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(hooksAt(path)).toHaveLength(4);
      expect(gateway.logs()).toContain('webhook delivery failed; will retry');
    } finally {
      await gateway.close();
    }
  });

  it('gives up after maxAttempts, and never logs the secret', { timeout: 30_000 }, async () => {
    const path = freshPath();
    receiver.plan.set(
      `${path}?token=url-token-123`,
      Array.from({ length: 10 }, () => 500),
    );
    const gateway = await startGateway(database, [
      {
        url: `${receiver.url}${path}?token=url-token-123`,
        maxAttempts: 3,
        backoffMs: 50,
        maxBackoffMs: 100,
      },
    ]);
    try {
      const created = await gateway.client.responses.create({
        model: 'fake',
        input: 'never delivered',
        background: true,
      });
      await finished(gateway.client, created.id);
      const row = await waitFor(async () => {
        const [current] = await deliveries(database, created.id);
        return current?.status === 'failed' ? current : undefined;
      }, 15_000);
      expect(row).toMatchObject({ attempts: 3, lastStatus: 500, lastError: 'HTTP 500' });
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(receiver.received.filter((hook) => hook.path.startsWith(path))).toHaveLength(3);
      const logs = gateway.logs();
      expect(logs).toContain('webhook delivery failed; giving up');
      expect(logs).not.toContain(SECRET);
      expect(logs).not.toContain(SECRET.slice('whsec_'.length));
      expect(logs).not.toContain('url-token-123');
      expect(logs).not.toContain('webhook-signature');
    } finally {
      await gateway.close();
    }
  });

  it('replicas on one database deliver each event exactly once', { timeout: 30_000 }, async () => {
    const path = freshPath();
    const hooks = [{ url: `${receiver.url}${path}` }];
    const a = await startGateway(database, hooks);
    const b = await startGateway(database, hooks);
    try {
      const created = await Promise.all(
        Array.from({ length: 8 }, (_, index) =>
          (index % 2 === 0 ? a : b).client.responses.create({
            model: 'fake',
            input: `replica run ${index} SLOW ${50 * index}`,
            background: true,
          }),
        ),
      );
      for (const response of created) await finished(a.client, response.id);
      await waitFor(() => (hooksAt(path).length >= 8 ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, 800));
      const received = hooksAt(path).map(
        (hook) => (JSON.parse(hook.body) as { data: { id: string } }).data.id,
      );
      expect(received.sort()).toEqual(created.map((response) => response.id).sort());
      for (const response of created)
        expect(await deliveries(database, response.id)).toMatchObject([
          { status: 'delivered', attempts: 1 },
        ]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('keeps undelivered webhooks across a restart: the next process delivers them', {
    timeout: 30_000,
  }, async () => {
    const path = freshPath();
    receiver.plan.set(path, [503]);
    const hooks = [{ url: `${receiver.url}${path}`, backoffMs: 1500, maxBackoffMs: 1500 }];
    const first = await startGateway(database, hooks);
    let id: string;
    try {
      const created = await first.client.responses.create({
        model: 'fake',
        input: 'across a restart',
        background: true,
      });
      id = created.id;
      await waitFor(async () =>
        (await deliveries(database, created.id))[0]?.lastStatus === 503 ? true : undefined,
      );
    } finally {
      await first.close();
    }
    expect((await deliveries(database, id))[0]).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastStatus: 503,
    });
    const second = await startGateway(database, hooks);
    try {
      const row = await waitFor(async () => {
        const [current] = await deliveries(database, id);
        return current?.status === 'delivered' ? current : undefined;
      });
      expect(row.attempts).toBe(2);
      expect(hooksAt(path).map((hook) => hook.headers['webhook-id'])).toEqual([row.id, row.id]);
    } finally {
      await second.close();
    }
  });
});

describe('webhook guard rails', () => {
  let database: Database;
  beforeAll(async () => {
    database = await createDatabase('sqlite::memory:');
    await migrate(database);
  });
  afterAll(async () => {
    await database?.close();
  });

  it('refuses a private or loopback webhook URL under the SSRF policy (no retries), unless the host is allowed', async () => {
    const literal = freshPath();
    const named = freshPath();
    const gateway = await startGateway(
      database,
      [
        { url: `${receiver.url}${literal}` },
        { url: `${receiver.url.replace('127.0.0.1', 'localhost')}${named}` },
      ],
      { allowPrivateNetworks: false },
    );
    try {
      const created = await gateway.client.responses.create({
        model: 'fake',
        input: 'blocked webhook',
        background: true,
      });
      await finished(gateway.client, created.id);
      const rows = await waitFor(async () => {
        const current = await deliveries(database, created.id);
        return current.length === 2 && current.every((row) => row.status === 'failed')
          ? current
          : undefined;
      });
      for (const row of rows) {
        expect(row.attempts).toBe(1);
        expect(row.lastError).toMatch(/Refusing to connect/);
      }
      expect(hooksAt(literal)).toHaveLength(0);
      expect(hooksAt(named)).toHaveLength(0);
    } finally {
      await gateway.close();
    }

    const allowedPath = freshPath();
    const allowed = await startGateway(database, [{ url: `${receiver.url}${allowedPath}` }], {
      allowPrivateNetworks: false,
      allowHosts: ['127.0.0.1'],
    });
    try {
      const created = await allowed.client.responses.create({
        model: 'fake',
        input: 'allowed webhook',
        background: true,
      });
      await finished(allowed.client, created.id);
      await waitFor(() => (hooksAt(allowedPath).length === 1 ? true : undefined));
    } finally {
      await allowed.close();
    }
  });

  it('a webhook queued ahead of the terminal checkpoint waits for it, and is sent with the status the run really ended with', async () => {
    const path = freshPath();
    const status = new Map<string, string>([['resp_waiting', 'in_progress']]);
    const dispatcher = createWebhookDispatcher(database, {
      endpoints: [{ url: `${receiver.url}${path}`, secret: SECRET }],
      policy: { allowPrivateNetworks: true, allowHosts: [] },
      clock: Date.now,
      ids: (prefix) => `${prefix}${Math.random().toString(36).slice(2)}`,
      owner: 'test-owner',
      runStatus: async (id) => status.get(id) ?? null,
      pollMs: 100,
    });
    dispatcher.start();
    try {
      // The process that queued it expected "completed"; it lost its lease and the run failed elsewhere.
      const enqueuedAt = Date.now();
      await dispatcher.enqueue({
        responseId: 'resp_waiting',
        tenantId: 't',
        status: 'completed',
        at: Date.now(),
      });
      await dispatcher.enqueue({
        responseId: 'resp_waiting',
        tenantId: 't',
        status: 'completed',
        at: Date.now(),
      });
      dispatcher.kick();
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(hooksAt(path)).toHaveLength(0);
      const [pending] = await dispatcher.store().forResponse('resp_waiting');
      expect(pending).toMatchObject({ status: 'pending', attempts: 0 });
      // It was looked at and put back (not merely never polled): postponing moves next_attempt_at on.
      expect(pending!.nextAttemptAt).toBeGreaterThanOrEqual(enqueuedAt + 100);
      status.set('resp_waiting', 'failed');
      const [hook] = await waitFor(() => (hooksAt(path).length === 1 ? hooksAt(path) : undefined));
      const event = (await verifier.webhooks.unwrap(
        hook!.body,
        hook!.headers as Record<string, string>,
      )) as OpenAI.Webhooks.UnwrapWebhookEvent;
      expect(event).toMatchObject({
        id: pending!.id,
        type: 'response.failed',
        data: { id: 'resp_waiting' },
      });
      expect(await dispatcher.store().forResponse('resp_waiting')).toMatchObject([
        { status: 'delivered', attempts: 1, type: 'response.failed' },
      ]);

      // A delivery for a response that no longer exists is dropped.
      await dispatcher.enqueue({
        responseId: 'resp_gone',
        tenantId: 't',
        status: 'completed',
        at: Date.now(),
      });
      dispatcher.kick();
      await waitFor(async () =>
        (await dispatcher.store().forResponse('resp_gone'))[0]?.status === 'skipped'
          ? true
          : undefined,
      );
    } finally {
      await dispatcher.stop();
    }
  });

  it('a second process delivers a webhook whose sender was killed with SIGKILL mid-attempt', {
    timeout: 120_000,
  }, async () => {
    const path = freshPath();
    receiver.plan.set(path, ['hang']);
    const dir = mkdtempSync(join(workdir, 'kill-'));
    const configPath = join(dir, 'config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        store: `sqlite:${join(dir, 'switchyard.db')}`,
        logging: { level: 'warn' },
        auth: { masterKey: 'sk-master-webhook-kill' },
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
        runtime: {
          tools: { allowPrivateNetworks: true, leaseMs: 1500, workerIntervalMs: 200 },
          webhooks: [
            {
              url: `${receiver.url}${path}`,
              secret: '${SWY_TEST_WEBHOOK_SECRET}',
              timeoutMs: 1500,
            },
          ],
        },
      }),
    );
    process.env['SWY_TEST_WEBHOOK_SECRET'] = SECRET;
    const children: ServeProcess[] = [];
    try {
      const portA = await closedPort();
      const a = await spawnServe(configPath, portA, dir);
      children.push(a);
      const created = await http(`http://127.0.0.1:${portA}/v1/responses`, {
        key: KEY,
        body: { model: 'fake', input: 'killed mid-delivery', background: true },
      });
      const id = created.json().id as string;
      // The first attempt is hanging at the receiver: kill the sender.
      await waitFor(() => (hooksAt(path).length === 1 ? true : undefined), 20_000);
      a.kill('SIGKILL');
      await once(a, 'exit');

      const portB = await closedPort();
      const b = await spawnServe(configPath, portB, dir);
      children.push(b);
      // B takes the delivery over once A's lease (2 × timeout + 1 s) has run out, with the same webhook-id.
      const hooks = await waitFor(
        () => (hooksAt(path).length === 2 ? hooksAt(path) : undefined),
        30_000,
      );
      expect(hooks[1]!.headers['webhook-id']).toBe(hooks[0]!.headers['webhook-id']);
      for (const hook of hooks) {
        const event = (await verifier.webhooks.unwrap(
          hook.body,
          hook.headers as Record<string, string>,
        )) as OpenAI.Webhooks.UnwrapWebhookEvent;
        expect(event).toMatchObject({ type: 'response.completed', data: { id } });
      }
      const database_ = await createDatabase(`sqlite:${join(dir, 'switchyard.db')}`);
      try {
        const row = await waitFor(async () => {
          const [current] = await createWebhookDeliveryStore(database_).forResponse(id);
          return current?.status === 'delivered' ? current : undefined;
        });
        expect(row.attempts).toBe(2);
      } finally {
        await database_.close();
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(hooksAt(path)).toHaveLength(2);
      expect(a.output() + b.output()).not.toContain(SECRET.slice('whsec_'.length));
    } finally {
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      delete process.env['SWY_TEST_WEBHOOK_SECRET'];
    }
  });
});
