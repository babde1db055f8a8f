import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgTestUrl } from '../helpers/postgres.js';
import { redact } from '../../src/telemetry/bodies.js';
import { csvCell } from '../../src/telemetry/usage-queries.js';
import { call } from '../helpers/gateway.js';
import { MASTER, startTelemetryGateway, type TelemetryGateway } from './helpers.js';

// On SQLite and, when reachable (always in CI), on Postgres.
const pg = await pgTestUrl();
afterAll(async () => {
  await pg?.drop();
});

const stores: Array<[string, string]> = [
  ['sqlite', 'sqlite::memory:'],
  ...(pg ? [['postgres', pg.url] as [string, string]] : []),
];
describe.each(stores)('dashboard read API (%s)', (_dialect, store) => {
  let gateway: TelemetryGateway;
  let keySecret: string;
  beforeAll(async () => {
    gateway = await startTelemetryGateway(
      { store, telemetry: { bodies: { enabled: true, maxBytes: 400 } } },
      { withExporter: false },
    );
    await call(`${gateway.url}/admin/v1/tenants`, {
      body: { id: 'acme', name: 'Acme' },
      headers: MASTER,
    });
    await call(`${gateway.url}/admin/v1/projects`, {
      body: { id: 'web', tenant_id: 'acme', name: 'web' },
      headers: MASTER,
    });
    keySecret = (
      await call(`${gateway.url}/admin/v1/keys`, {
        body: { project_id: 'web', name: 'k' },
        headers: MASTER,
      })
    ).body.secret;
  });
  afterAll(() => gateway.close());

  const chat = (headers: Record<string, string>, content = 'say hi') =>
    call(`${gateway.url}/v1/chat/completions`, {
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] },
      headers,
    });

  it('refuses virtual keys and anonymous callers', async () => {
    expect(
      (
        await call(`${gateway.url}/admin/v1/metrics/summary`, {
          headers: { authorization: `Bearer ${keySecret}` },
        })
      ).status,
    ).toBe(403);
    expect((await call(`${gateway.url}/admin/v1/usage/events`)).status).toBe(401);
  });

  it('summarises live traffic: totals, series, top models and tenants, filters', async () => {
    const before = (
      await call(`${gateway.url}/admin/v1/metrics/summary?range=1h`, { headers: MASTER })
    ).body.totals.requests;
    for (let i = 0; i < 2; i++) expect((await chat(MASTER)).status).toBe(200);
    expect((await chat({ authorization: `Bearer ${keySecret}` })).status).toBe(200);
    const summary = (
      await call(`${gateway.url}/admin/v1/metrics/summary?range=1h`, { headers: MASTER })
    ).body;
    expect(summary.totals.requests - before).toBe(3);
    expect(summary.bucket_minutes).toBe(1);
    expect(summary.series.length).toBeGreaterThanOrEqual(60); // every minute of the hour (61 when it straddles)
    expect(summary.totals.p50Ms).toBeGreaterThan(0);
    expect(summary.top.models[0]).toMatchObject({ key: 'gpt-4o-mini' });
    expect(summary.top.tenants.map((row: { key: string }) => row.key).sort()).toEqual([
      'acme',
      'default',
    ]);
    const acme = (
      await call(`${gateway.url}/admin/v1/metrics/summary?range=24h&tenant=acme`, {
        headers: MASTER,
      })
    ).body;
    expect(acme.totals.requests).toBe(1);
    expect(
      (await call(`${gateway.url}/admin/v1/metrics/summary?range=2y`, { headers: MASTER })).status,
    ).toBe(400);
  });

  it('lists usage events with filters and pages, and exports CSV', async () => {
    const page = (
      await call(`${gateway.url}/admin/v1/usage/events?range=1h&tenant=acme`, { headers: MASTER })
    ).body;
    expect(page.data).toHaveLength(1);
    expect(page.data[0]).toMatchObject({
      tenantId: 'acme',
      projectId: 'web',
      model: 'gpt-4o-mini',
      deployment: 'azure',
      status: 'ok',
    });
    const first = (
      await call(`${gateway.url}/admin/v1/usage/events?range=1h&limit=1`, { headers: MASTER })
    ).body;
    const second = (
      await call(
        `${gateway.url}/admin/v1/usage/events?range=1h&limit=1&before_at=${first.data[0].createdAt}&before_id=${first.data[0].requestId}`,
        { headers: MASTER },
      )
    ).body;
    expect(second.data[0].requestId).not.toBe(first.data[0].requestId);
    const csv = await call(
      `${gateway.url}/admin/v1/usage/export.csv?range=1h&key=${page.data[0].keyId}`,
      { headers: MASTER },
    );
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.headers['content-disposition']).toMatch(
      /attachment; filename="usage-\d{4}-\d{2}-\d{2}\.csv"/,
    );
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe(
      'request_id,created_at,tenant_id,project_id,key_id,surface,model,deployment,partner,status,http_status,error_code,input_tokens,output_tokens,latency_ms,ttfb_ms,attempts',
    );
    expect(lines).toHaveLength(2);
    expect(csvCell('=cmd()')).toBe("'=cmd()");
    // Status and error-code filters narrow the list and the export.
    const ok = (
      await call(`${gateway.url}/admin/v1/usage/events?range=1h&status=ok`, { headers: MASTER })
    ).body.data;
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.every((row: { status: string }) => row.status === 'ok')).toBe(true);
    const none = (
      await call(`${gateway.url}/admin/v1/usage/events?range=1h&status=error&error_code=nope`, {
        headers: MASTER,
      })
    ).body.data;
    expect(none).toEqual([]);
    expect(
      (await call(`${gateway.url}/admin/v1/usage/events?status=weird`, { headers: MASTER })).status,
    ).toBe(400);
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
  });

  it('lists filter values, partners, and stored responses across tenants', async () => {
    const dimensions = (await call(`${gateway.url}/admin/v1/usage/dimensions`, { headers: MASTER }))
      .body;
    expect(dimensions.tenantId).toEqual(['acme', 'default']);
    expect(dimensions.deployment).toContain('azure');
    const partners = (await call(`${gateway.url}/admin/v1/dashboard/partners`, { headers: MASTER }))
      .body.data;
    expect(partners.map((partner: { id: string }) => partner.id)).toEqual(['azure', 'openai']);
    const created = await call(`${gateway.url}/v1/responses`, {
      body: { model: 'gpt-4o-mini', input: 'say stored', store: true },
      headers: MASTER,
    });
    expect(created.status).toBe(200);
    const recent = (await call(`${gateway.url}/admin/v1/dashboard/responses`, { headers: MASTER }))
      .body.data;
    expect(recent[0]).toMatchObject({
      id: created.body.id,
      status: 'completed',
      tenantId: 'default',
    });
    const detail = (
      await call(`${gateway.url}/admin/v1/dashboard/responses/${created.body.id}`, {
        headers: MASTER,
      })
    ).body;
    expect(detail.response.output.length).toBeGreaterThan(0);
    expect(detail.inputItems.length).toBe(1);
    expect(
      (await call(`${gateway.url}/admin/v1/dashboard/responses/resp_missing`, { headers: MASTER }))
        .status,
    ).toBe(404);
  });

  it('stores request and response bodies redacted and cut, when enabled', async () => {
    const answer = await chat(
      MASTER,
      'say my key is sk-abcdefghijklmnopqrstuvwxyz and more '.repeat(3),
    );
    const stored = await call(
      `${gateway.url}/admin/v1/debug/bodies/${answer.headers['x-request-id']}`,
      { headers: MASTER },
    );
    expect(stored.status).toBe(200);
    expect(stored.text).not.toContain('sk-abcdefghijklmnopqrstuvwxyz');
    expect(stored.text).toContain('[redacted]');
    expect(stored.body.response).toBeDefined();
    expect(
      redact({ api_key: 'x', nested: { Authorization: 'Bearer abc.def', text: 'Bearer abc.def' } }),
    ).toEqual({
      api_key: '[redacted]',
      nested: { Authorization: '[redacted]', text: '[redacted]' },
    });
  });
});
