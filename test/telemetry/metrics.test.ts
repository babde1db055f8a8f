import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/gateway.js';
import { MASTER, startTelemetryGateway, type TelemetryGateway } from './helpers.js';

/** Reads one sample's value from Prometheus text: `name{labels…} value`, labels matched by subset. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)))
      continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('GET /metrics', () => {
  let gateway: TelemetryGateway;
  beforeAll(async () => {
    gateway = await startTelemetryGateway({}, { withExporter: false });
  });
  afterAll(() => gateway.close());

  const chat = (body: object) =>
    call(`${gateway.url}/v1/chat/completions`, {
      body: {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'say hello there' }],
        ...body,
      },
      headers: MASTER,
    });

  it('needs the master key', async () => {
    expect((await call(`${gateway.url}/metrics`)).status).toBe(401);
  });

  it('counts requests, tokens, money, latency and time to first token by model, deployment, partner and surface', async () => {
    expect((await chat({})).status).toBe(200);
    expect((await chat({ stream: true, stream_options: { include_usage: true } })).status).toBe(
      200,
    );
    const answer = await call(`${gateway.url}/metrics`, { headers: MASTER });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toContain('text/plain');
    const text = answer.text;
    const labels = {
      surface: 'openai-chat',
      model: 'gpt-4o-mini',
      deployment: 'azure',
      partner: 'azure',
    };
    expect(sample(text, 'switchyard_requests_total', { ...labels, status: 'ok' })).toBe(2);
    expect(sample(text, 'switchyard_request_duration_seconds_count', labels)).toBe(2);
    expect(sample(text, 'switchyard_time_to_first_token_seconds_count', labels)).toBe(1);
    const input = sample(text, 'switchyard_tokens_total', { ...labels, type: 'input' })!;
    const output = sample(text, 'switchyard_tokens_total', { ...labels, type: 'output' })!;
    expect(input).toBeGreaterThan(0);
    expect(output).toBeGreaterThan(0);
    // Revenue at the model price (0.15/0.60 per 1M), cost at the deployment cost (0.10/0.40).
    expect(sample(text, 'switchyard_revenue_usd_total', labels)).toBeCloseTo(
      (input * 0.15 + output * 0.6) / 1e6,
      12,
    );
    expect(sample(text, 'switchyard_cost_usd_total', labels)).toBeCloseTo(
      (input * 0.1 + output * 0.4) / 1e6,
      12,
    );
    // OpenTelemetry GenAI metrics, mapped to Prometheus names.
    const genAi = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'azure.ai.openai',
      gen_ai_request_model: 'gpt-4o-mini',
    };
    expect(sample(text, 'gen_ai_client_operation_duration_seconds_count', genAi)).toBe(2);
    expect(
      sample(text, 'gen_ai_client_token_usage_sum', { ...genAi, gen_ai_token_type: 'input' }),
    ).toBe(input);
    expect(
      sample(text, 'switchyard_upstream_attempts_total', { deployment: 'azure', outcome: 'ok' }),
    ).toBe(2);
    expect(sample(text, 'switchyard_breaker_state', { deployment: 'azure', state: 'closed' })).toBe(
      1,
    );
    expect(sample(text, 'switchyard_store_ping_seconds')).toBeGreaterThanOrEqual(0);
    expect(
      sample(text, 'switchyard_store_operation_duration_seconds_count', {
        operation: 'usage_commit',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'switchyard_usage_commit_events_sum')).toBeGreaterThanOrEqual(2);
    expect(text).toContain('switchyard_process_cpu_seconds_total');
  });

  it('counts errors by code and class, failed attempts and breaker changes', async () => {
    gateway.clouds.azure.setDown(true);
    try {
      expect((await chat({})).status).toBe(200); // served by openai after azure failed
      expect(
        (
          await call(`${gateway.url}/v1/chat/completions`, {
            body: { model: 'nope', messages: [{ role: 'user', content: 'hi' }] },
            headers: MASTER,
          })
        ).status,
      ).toBe(404);
    } finally {
      gateway.clouds.azure.setDown(false);
    }
    const text = (await call(`${gateway.url}/metrics`, { headers: MASTER })).text;
    expect(sample(text, 'switchyard_requests_total', { deployment: 'openai', status: 'ok' })).toBe(
      1,
    );
    expect(
      sample(text, 'switchyard_upstream_attempts_total', { deployment: 'azure', outcome: 'error' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'switchyard_request_errors_total', {
        model: 'unknown',
        error_code: 'model_not_found',
        error_class: 'not_found',
      }),
    ).toBe(1);
    expect(text).not.toContain('model="nope"');
  });

  it('attributes a failed request to the partner of the cloud it tried', async () => {
    gateway.clouds.azure.setDown(true);
    gateway.clouds.openai.setDown(true);
    try {
      expect((await chat({})).status).toBeGreaterThanOrEqual(500);
    } finally {
      gateway.clouds.azure.setDown(false);
      gateway.clouds.openai.setDown(false);
    }
    const text = (await call(`${gateway.url}/metrics`, { headers: MASTER })).text;
    const failed = text
      .split('\n')
      .filter((line) => line.startsWith('switchyard_request_errors_total{'));
    const ours = failed.filter((line) => line.includes('model="gpt-4o-mini"'));
    expect(ours.length).toBeGreaterThan(0);
    for (const line of ours) expect(line).toMatch(/partner="(azure|openai)"/);
  });

  it('stays bounded when clients invent model names, and exports no Redis series without Redis', async () => {
    const before = (await call(`${gateway.url}/metrics`, { headers: MASTER })).text.length;
    for (let batch = 0; batch < 20; batch++)
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          call(`${gateway.url}/v1/chat/completions`, {
            body: {
              model: `invented-${batch}-${i}-${'x'.repeat(40)}`,
              messages: [{ role: 'user', content: 'hi' }],
            },
            headers: MASTER,
          }),
        ),
      );
    const text = (await call(`${gateway.url}/metrics`, { headers: MASTER })).text;
    expect(text).not.toContain('invented-');
    // 2,000 invented names add at most the few `unknown` series, not 2,000 of them.
    expect(text.length - before).toBeLessThan(20_000);
    expect(
      sample(text, 'switchyard_request_errors_total', {
        model: 'unknown',
        error_code: 'model_not_found',
      }),
    ).toBeGreaterThanOrEqual(2000);
    expect(text).not.toContain('switchyard_redis_ping_seconds');
  }, 120_000);

  it('can be served without a key (metricsPublic) or turned off', async () => {
    const open = await startTelemetryGateway(
      { telemetry: { metricsPublic: true } },
      { withExporter: false },
    );
    const off = await startTelemetryGateway(
      { telemetry: { metrics: false } },
      { withExporter: false },
    );
    try {
      expect((await call(`${open.url}/metrics`)).status).toBe(200);
      expect((await call(`${off.url}/metrics`, { headers: MASTER })).status).toBe(404);
    } finally {
      await open.close();
      await off.close();
    }
  });
});
