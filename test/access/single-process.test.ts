import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessDb } from '../../src/store/access/records.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { adminClient, chat, chatBody, send, statusCounts } from './helpers.js';

/** Budgets, limits and the admin API on one process (SQLite, limits in memory). */

const MASTER = 'sk-master-access-test';
let emulator: Emulator;
let gateway: RunningGateway;
let admin: ReturnType<typeof adminClient>;

beforeAll(async () => {
  emulator = await startOpenAIEmulator({ flavor: 'openai' });
  gateway = await startGateway({
    auth: { masterKey: MASTER },
    providers: { up: { type: 'openai', baseUrl: `${emulator.url}/v1`, apiKey: 'sk-up' } },
    models: {
      // 1 µUSD per output token, input free: a request with max_tokens 10 reserves and costs exactly 10 µUSD.
      metered: {
        price: { input: '0', output: '1' },
        deployments: [{ provider: 'up', model: 'gpt-4o-mini' }],
      },
      'other-model': { deployments: [{ provider: 'up', model: 'gpt-4o-mini' }] },
    },
  });
  admin = adminClient(gateway.url, MASTER);
});
afterAll(async () => {
  await gateway?.close();
  await emulator?.close();
});

describe('hard budget on one process', () => {
  it('500 concurrent requests against a budget for 100: exactly 100 served, exactly the budget spent', async () => {
    const { key, secret } = await admin.setup({
      key: { budget: { amount_micros: '1000', period: 'total' } },
    });
    const answers = await Promise.all(
      Array.from({ length: 500 }, () => chat(gateway.url, secret, chatBody('metered', 10))),
    );
    expect(statusCounts(answers)).toEqual({ 200: 100, 402: 400 });
    const refused = answers.find((answer) => answer.status === 402)!;
    expect(refused.body.error).toMatchObject({
      code: 'budget_exceeded',
      type: 'insufficient_quota',
    });
    expect(refused.body.error.message).toMatch(/Budget exceeded for key/);
    const shown = await admin.call('GET', `/keys/${key.id}`);
    expect(shown.levels[2].spend).toMatchObject({
      spent_micros: '1000',
      reserved_micros: '0',
      remaining_micros: '0',
    });
    const rows = await accessDb(gateway.app.database)
      .selectFrom('budget_spend')
      .selectAll()
      .where('scope', '=', `key:${key.id}:total`)
      .execute();
    expect(rows.map((row) => BigInt(row.spent))).toEqual([1000n]);
  }, 120_000);

  it('a project budget binds every key in the project, and a tenant budget every project', async () => {
    const { tenant, project, secret } = await admin.setup({
      project: { budget: { amount_micros: '30', period: 'month' } },
    });
    const second = await admin.call('POST', '/keys', { project_id: project.id });
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        chat(gateway.url, i % 2 ? secret : second.secret, chatBody('metered', 10)),
      ),
    );
    expect(statusCounts(answers)).toEqual({ 200: 3, 402: 7 });
    expect(answers.find((answer) => answer.status === 402)!.body.error.message).toMatch(
      new RegExp(`project ${project.id}`),
    );

    await admin.call('PATCH', `/tenants/${tenant.id}`, {
      budget: { amount_micros: '40', period: 'day' },
    });
    const other = await admin.call('POST', '/projects', { tenant_id: tenant.id, name: 'other' });
    const otherKey = await admin.call('POST', '/keys', { project_id: other.id });
    // A budget counts what is spent while it is set: four more requests fit in the tenant's 40 µUSD.
    const more = await Promise.all(
      Array.from({ length: 6 }, () => chat(gateway.url, otherKey.secret, chatBody('metered', 10))),
    );
    expect(statusCounts(more)).toEqual({ 200: 4, 402: 2 });
    expect(more.find((answer) => answer.status === 402)!.body.error.message).toMatch(
      new RegExp(`tenant ${tenant.id}`),
    );
  });

  it('a soft budget never refuses', async () => {
    const { secret, key } = await admin.setup({
      key: { budget: { amount_micros: '10', period: 'day', mode: 'soft', alert_percent: 50 } },
    });
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => chat(gateway.url, secret, chatBody('metered', 10))),
    );
    expect(statusCounts(answers)).toEqual({ 200: 5 });
    const shown = await admin.call('GET', `/keys/${key.id}`);
    expect(shown.levels[2].spend).toMatchObject({ spent_micros: '50', remaining_micros: '0' });
  });
});

describe('rate limits', () => {
  it('refuses past the key rpm with 429, retry-after and x-ratelimit headers', async () => {
    const { secret } = await admin.setup({ key: { limits: { rpm: 3 } } });
    const first = await chat(gateway.url, secret, chatBody('metered', 5));
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '2',
    });
    expect(first.headers['x-ratelimit-reset-requests']).toMatch(/^\d+(\.\d+)?m?s$/);
    await chat(gateway.url, secret, chatBody('metered', 5));
    await chat(gateway.url, secret, chatBody('metered', 5));
    const refused = await chat(gateway.url, secret, chatBody('metered', 5));
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.headers).toMatchObject({
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '0',
    });
  });

  it('every level must pass: the project rpm binds before the key rpm', async () => {
    const { project, secret } = await admin.setup({
      project: { limits: { rpm: 2 } },
      key: { limits: { rpm: 100 } },
    });
    const second = await admin.call('POST', '/keys', { project_id: project.id });
    const answers = await Promise.all(
      [secret, second.secret, secret, second.secret].map((key) =>
        chat(gateway.url, key, chatBody('metered', 5)),
      ),
    );
    expect(statusCounts(answers)).toEqual({ 200: 2, 429: 2 });
    expect(answers.find((answer) => answer.status === 429)!.body.error.message).toMatch(
      new RegExp(`project ${project.id}`),
    );
  });

  it('counts the token estimate up front and corrects it with real usage', async () => {
    const { secret } = await admin.setup({ key: { limits: { tpm: 1000 } } });
    const body = chatBody('metered', 200);
    const first = await chat(gateway.url, secret, body);
    expect(first.status).toBe(200);
    // Up front: input estimate + 200 output tokens; the header shows that reservation.
    const estimated = 1000 - Number(first.headers['x-ratelimit-remaining-tokens']);
    expect(estimated).toBeGreaterThan(200);
    const real = first.body.usage.prompt_tokens + first.body.usage.completion_tokens;
    expect(real).toBeLessThan(estimated);
    // After settling, the window holds the real usage: the next request sees 1000 - real - its own estimate.
    const second = await chat(gateway.url, secret, body);
    expect(Number(second.headers['x-ratelimit-remaining-tokens'])).toBe(1000 - real - estimated);
    const tooLarge = await chat(gateway.url, secret, chatBody('metered', 5000));
    expect(tooLarge.status).toBe(429);
    expect(tooLarge.body.error.message).toMatch(/Request too large/);
  });

  it('limits requests in flight', async () => {
    emulator.setTokenDelay(40);
    try {
      const { secret } = await admin.setup({ key: { limits: { max_concurrent: 2 } } });
      const body = { ...chatBody('metered', 10), stream: true };
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => chat(gateway.url, secret, body)),
      );
      expect(statusCounts(answers)).toEqual({ 200: 2, 429: 4 });
      expect((await chat(gateway.url, secret, body)).status).toBe(200);
    } finally {
      emulator.setTokenDelay(0);
    }
  });
});

describe('keys', () => {
  it('refuses models outside the allow-list', async () => {
    const { secret } = await admin.setup({ key: { allowed_models: ['meter*'] } });
    expect((await chat(gateway.url, secret, chatBody('metered', 5))).status).toBe(200);
    const refused = await chat(gateway.url, secret, chatBody('other-model', 5));
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('model_not_found');
  });

  it('refuses a revoked key at once, an expired key, and a key of a disabled project', async () => {
    const { key, project, secret } = await admin.setup();
    expect((await chat(gateway.url, secret, chatBody('metered', 5))).status).toBe(200);
    await admin.call('POST', `/keys/${key.id}/revoke`);
    const refused = await chat(gateway.url, secret, chatBody('metered', 5));
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/revoked/);

    const expired = await admin.call('POST', '/keys', {
      project_id: project.id,
      expires_at: '2001-01-01T00:00:00Z',
    });
    expect(
      (await chat(gateway.url, expired.secret, chatBody('metered', 5))).body.error.message,
    ).toMatch(/expired/);

    const live = await admin.call('POST', '/keys', { project_id: project.id });
    await admin.call('POST', `/projects/${project.id}/disable`);
    expect((await chat(gateway.url, live.secret, chatBody('metered', 5))).status).toBe(401);
    await admin.call('POST', `/projects/${project.id}/enable`);
    expect((await chat(gateway.url, live.secret, chatBody('metered', 5))).status).toBe(200);
  });

  it('stores only a hash of the secret, shows it once, and lists keys by prefix', async () => {
    const { key, secret } = await admin.setup();
    expect(secret).toMatch(/^sk-sy-[0-9A-Za-z]{40}$/);
    const shown = await admin.call('GET', `/keys/${key.id}`);
    expect(JSON.stringify(shown)).not.toContain(secret);
    expect(shown.prefix).toBe(`${secret.slice(0, 10)}…`);
    const db = accessDb(gateway.app.database);
    const rows = await db
      .selectFrom('api_key_secrets')
      .selectAll()
      .where('key_id', '=', key.id)
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
    for (const table of ['api_keys', 'api_key_secrets', 'audit_log'] as const) {
      const all = await db.selectFrom(table).selectAll().execute();
      expect(
        JSON.stringify(all, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
      ).not.toContain(secret.slice(6));
    }
  });
});

describe('admin API', () => {
  it('needs the master key: 401 without a key, 403 with a virtual key', async () => {
    const { secret } = await admin.setup();
    expect((await send(`${gateway.url}/admin/v1/tenants`, 'GET', undefined)).status).toBe(401);
    const forbidden = await send(`${gateway.url}/admin/v1/tenants`, 'GET', secret);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toMatchObject({ code: 'forbidden', type: 'permission_error' });
  });

  it('validates input with the path of the bad field', async () => {
    const answer = await send(`${gateway.url}/admin/v1/tenants`, 'POST', MASTER, {
      name: 't',
      budget: { amount_micros: '1.5', period: 'day' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({
      code: 'invalid_request',
      param: 'budget.amount_micros',
    });
    expect((await send(`${gateway.url}/admin/v1/keys/key_nope`, 'GET', MASTER)).status).toBe(404);
  });

  it('writes an audit entry for every change, with who, what, when, before and after', async () => {
    const { key } = await admin.setup();
    await admin.call('PATCH', `/keys/${key.id}`, { limits: { rpm: 7 }, tags: ['a'] });
    await admin.call('POST', `/keys/${key.id}/rotate`, { grace_seconds: 60 });
    await admin.call('POST', `/keys/${key.id}/revoke`);
    const audit = await admin.call('GET', `/audit?target_type=key&target_id=${key.id}`);
    expect(audit.data.map((entry: { action: string }) => entry.action)).toEqual([
      'key.revoke',
      'key.rotate',
      'key.update',
      'key.create',
    ]);
    const update = audit.data[2];
    expect(update).toMatchObject({ actor: 'master', target_type: 'key', target_id: key.id });
    expect(update.request_id).toMatch(/^req_/);
    expect(Date.parse(update.at)).toBeGreaterThan(Date.now() - 60_000);
    expect(update.before.limits.rpm).toBeNull();
    expect(update.after.limits.rpm).toBe(7);
    expect(update.after.tags).toEqual(['a']);
    expect(audit.data[0].after.revoked_at).not.toBeNull();
    expect(JSON.stringify(audit)).not.toMatch(/sk-sy-[0-9A-Za-z]{40}/);
  });

  it('lists with paging and filters, and shows limits in force at every level', async () => {
    const { tenant, project, key } = await admin.setup({
      tenant: { limits: { rpm: 50 } },
      project: { budget: { amount_micros: '5000000', period: 'week', alert_percent: 80 } },
      key: { limits: { tpm: 9000 } },
    });
    const keys = await admin.call('GET', `/keys?project_id=${project.id}`);
    expect(keys.data.map((item: { id: string }) => item.id)).toEqual([key.id]);
    const shown = await admin.call('GET', `/keys/${key.id}`);
    expect(shown.levels.map((level: { kind: string }) => level.kind)).toEqual([
      'tenant',
      'project',
      'key',
    ]);
    expect(shown.levels[0]).toMatchObject({
      id: tenant.id,
      limits: { rpm: 50 },
      budget: null,
      spend: null,
    });
    expect(shown.levels[1]).toMatchObject({
      budget: { amount_micros: '5000000', period: 'week', mode: 'hard', alert_percent: 80 },
      spend: { spent_micros: '0', remaining_micros: '5000000' },
    });
    expect(shown.levels[2].limits).toEqual({ rpm: null, tpm: 9000, max_concurrent: null });
    const page = await admin.call('GET', '/tenants?limit=1');
    expect(page.data).toHaveLength(1);
    const next = await admin.call('GET', `/tenants?limit=1&after=${page.last_id}`);
    expect(next.data[0].id > page.last_id).toBe(true);
  });
});
