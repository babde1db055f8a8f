import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { formatTraceParent, parseTraceParent } from '../../src/telemetry/trace-context.js';
import { startFakeUpstream, type FakeUpstream } from '../fakes/upstream.js';
import { call, memoryDestination, startClouds } from '../helpers/gateway.js';
import {
  MASTER,
  startTelemetryGateway,
  telemetryConfig,
  type TelemetryGateway,
} from './helpers.js';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_PARENT = `00-${CLIENT_TRACE}-00f067aa0ba902b7-01`;

describe('W3C trace context', () => {
  it('parses and formats traceparent, refusing invalid ones', () => {
    expect(parseTraceParent(CLIENT_PARENT)).toEqual({
      traceId: CLIENT_TRACE,
      spanId: '00f067aa0ba902b7',
      flags: 1,
    });
    expect(formatTraceParent(parseTraceParent(CLIENT_PARENT)!)).toBe(CLIENT_PARENT);
    expect(parseTraceParent(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`)).toBeUndefined();
    expect(parseTraceParent(`ff-${CLIENT_TRACE}-00f067aa0ba902b7-01`)).toBeUndefined();
    expect(parseTraceParent(`00-${CLIENT_TRACE}-00f067aa0ba902b7-01-extra`)).toBeUndefined();
    expect(parseTraceParent(`01-${CLIENT_TRACE}-00f067aa0ba902b7-01-future`)).toMatchObject({
      traceId: CLIENT_TRACE,
    });
    expect(parseTraceParent('garbage')).toBeUndefined();
  });
});

describe('traces', () => {
  let gateway: TelemetryGateway;
  beforeAll(async () => {
    gateway = await startTelemetryGateway();
  });
  afterAll(() => gateway.close());

  const byName = (spans: ReadableSpan[], name: string) =>
    spans.filter((span) => span.name === name);

  it('records a server span, a GenAI chat span and one client span per attempt, under the client trace', async () => {
    gateway.spans.reset();
    gateway.clouds.azure.setDown(true);
    try {
      const answer = await call(`${gateway.url}/v1/chat/completions`, {
        body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'say traced' }] },
        headers: { ...MASTER, traceparent: CLIENT_PARENT },
      });
      expect(answer.status).toBe(200);
    } finally {
      gateway.clouds.azure.setDown(false);
    }
    await gateway.app.telemetry.tracing.flush();
    const spans = gateway.spans.getFinishedSpans();
    const [server] = byName(spans, 'POST /v1/chat/completions');
    const [chat] = byName(spans, 'chat gpt-4o-mini').filter(
      (span) => span.attributes['switchyard.request_id'] !== undefined,
    );
    const attempts = spans.filter((span) => span.kind === 2 /* CLIENT */);
    expect(server).toBeDefined();
    expect(server!.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(server!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(chat!.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
    expect(chat!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.provider.name': 'openai',
      'switchyard.deployment': 'openai',
      'switchyard.attempts': 2,
    });
    expect(chat!.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(chat!.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    expect(attempts.map((span) => span.attributes['switchyard.deployment'])).toEqual([
      'azure',
      'openai',
    ]);
    expect(
      attempts.every((span) => span.parentSpanContext?.spanId === chat!.spanContext().spanId),
    ).toBe(true);
    expect(attempts[0]!.attributes['gen_ai.provider.name']).toBe('azure.ai.openai');
    expect(attempts[0]!.status.code).toBe(2); // ERROR
    expect(attempts[0]!.attributes['error.type']).toBeDefined();
    // HTTP client conventions: where each attempt went (the sandbox clouds listen on loopback).
    const azureUrl = new URL(gateway.app.config.providers['azure']!.baseUrl!);
    expect(attempts[0]!.attributes['server.address']).toBe(azureUrl.hostname);
    expect(attempts[0]!.attributes['server.port']).toBe(Number(azureUrl.port));
    expect(attempts[1]!.attributes['server.port']).toBe(
      Number(new URL(gateway.app.config.providers['openai']!.baseUrl!).port),
    );
  });

  it('does not trace health checks or the metrics scrape', async () => {
    gateway.spans.reset();
    for (const path of ['/healthz', '/readyz', '/metrics'])
      await call(`${gateway.url}${path}`, { headers: MASTER });
    await call(`${gateway.url}/v1/models`, { headers: MASTER });
    await gateway.app.telemetry.tracing.flush();
    const names = gateway.spans.getFinishedSpans().map((span) => span.name);
    expect(names).toContain('GET /v1/models');
    expect(names.filter((name) => /healthz|readyz|metrics/.test(name))).toEqual([]);
  });

  it('marks a failed request with error.type', async () => {
    gateway.spans.reset();
    await call(`${gateway.url}/v1/chat/completions`, {
      body: { model: 'missing', messages: [{ role: 'user', content: 'x' }] },
      headers: MASTER,
    });
    await gateway.app.telemetry.tracing.flush();
    const chat = gateway.spans.getFinishedSpans().find((span) => span.name === 'chat missing');
    expect(chat?.attributes['error.type']).toBe('model_not_found');
    expect(chat?.status.code).toBe(2);
  });
});

describe('propagation upstream and trace ids in the logs', () => {
  let upstream: FakeUpstream;
  beforeAll(async () => {
    upstream = await startFakeUpstream();
  });
  afterAll(() => upstream.close());

  const start = async (withExporter: boolean) => {
    const clouds = await startClouds();
    const logs = memoryDestination();
    const config = validateConfig({
      ...telemetryConfig(clouds),
      logging: { level: 'info' },
      providers: {
        fake: {
          type: 'openai',
          partner: 'openai',
          baseUrl: upstream.url,
          apiKey: 'sk-fake-upstream-000000',
        },
      },
      partners: { openai: {} },
      models: { m: { deployments: [{ provider: 'fake', model: 'up-model' }] } },
    });
    const { InMemorySpanExporter } = await import('@opentelemetry/sdk-trace-base');
    const app = await createApp({
      config,
      logger: createLogger({ level: 'info', destination: logs.stream }),
      ...(withExporter ? { spanExporter: new InMemorySpanExporter() } : {}),
    });
    const address = await app.listen(0, '127.0.0.1');
    return { url: address.url, logs, close: async () => (await app.close(), await clouds.close()) };
  };
  const completion = {
    id: 'c',
    object: 'chat.completion',
    created: 1,
    model: 'up-model',
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
  };

  it('with tracing on, sends the attempt span upstream in the client trace and logs the trace id', async () => {
    const gateway = await start(true);
    try {
      upstream.script([{ body: completion }]);
      const answer = await call(`${gateway.url}/v1/chat/completions`, {
        body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
        headers: { ...MASTER, traceparent: CLIENT_PARENT, tracestate: 'vendor=1' },
      });
      expect(answer.status).toBe(200);
      const sent = upstream.requests.at(-1)!.headers;
      const parent = parseTraceParent(sent['traceparent'] as string);
      expect(parent?.traceId).toBe(CLIENT_TRACE);
      expect(parent?.spanId).not.toBe('00f067aa0ba902b7');
      expect(sent['tracestate']).toBe('vendor=1');
      await new Promise((resolve) => setTimeout(resolve, 20));
      const line = gateway.logs
        .text()
        .split('\n')
        .find((text) => text.includes('"msg":"request"') && text.includes('/v1/chat/completions'));
      expect(JSON.parse(line!)).toMatchObject({
        traceId: CLIENT_TRACE,
        requestId: answer.headers['x-request-id'],
      });
      expect(gateway.logs.text()).not.toContain('sk-master-telemetry');
    } finally {
      await gateway.close();
    }
  });

  it('with tracing off, forwards the client trace context unchanged, or a fresh unsampled one', async () => {
    const gateway = await start(false);
    try {
      upstream.script([{ body: completion }, { body: completion }]);
      await call(`${gateway.url}/v1/chat/completions`, {
        body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
        headers: { ...MASTER, traceparent: CLIENT_PARENT },
      });
      expect(upstream.requests.at(-1)!.headers['traceparent']).toBe(CLIENT_PARENT);
      await call(`${gateway.url}/v1/chat/completions`, {
        body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
        headers: MASTER,
      });
      const fresh = parseTraceParent(upstream.requests.at(-1)!.headers['traceparent'] as string);
      expect(fresh?.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(fresh?.flags).toBe(0);
    } finally {
      await gateway.close();
    }
  });
});

describe('OTLP export', () => {
  it('posts spans to the configured OTLP/HTTP endpoint', async () => {
    const received: Array<{ path: string; body: any }> = [];
    const receiver = createServer((request: IncomingMessage, response) => {
      const parts: Buffer[] = [];
      request.on('data', (part: Buffer) => parts.push(part));
      request.on('end', () => {
        received.push({
          path: request.url ?? '',
          body: JSON.parse(Buffer.concat(parts).toString() || '{}'),
        });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    const clouds = await startClouds();
    const app = await createApp({
      config: validateConfig({
        ...telemetryConfig(clouds),
        telemetry: {
          otlpEndpoint: `http://127.0.0.1:${port}/v1/traces`,
          serviceName: 'switchyard-test',
        },
      }),
      logger: createLogger({ level: 'silent' }),
    });
    try {
      const address = await app.listen(0, '127.0.0.1');
      expect(
        (
          await call(`${address.url}/v1/chat/completions`, {
            body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
            headers: MASTER,
          })
        ).status,
      ).toBe(200);
      await app.telemetry.tracing.flush();
    } finally {
      await app.close();
      await clouds.close();
      receiver.close();
    }
    expect(received.length).toBeGreaterThan(0);
    expect(received[0]!.path).toBe('/v1/traces');
    const resource = received[0]!.body.resourceSpans[0];
    expect(resource.resource.attributes).toContainEqual({
      key: 'service.name',
      value: { stringValue: 'switchyard-test' },
    });
    const names = received.flatMap((entry) =>
      entry.body.resourceSpans.flatMap((item: any) =>
        item.scopeSpans.flatMap((scope: any) => scope.spans.map((span: any) => span.name)),
      ),
    );
    expect(names).toEqual(
      expect.arrayContaining(['POST /v1/chat/completions', 'chat gpt-4o-mini']),
    );
  });
});

describe('OTLP export failures', () => {
  it('logs refused exports, once per burst', async () => {
    let exports = 0;
    const receiver = createServer((request: IncomingMessage, response) => {
      request.resume();
      request.on('end', () => {
        exports += 1;
        response.writeHead(500).end('collector broken');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    const clouds = await startClouds();
    const logs = memoryDestination();
    const app = await createApp({
      config: validateConfig({
        ...telemetryConfig(clouds),
        logging: { level: 'warn' },
        telemetry: { otlpEndpoint: `http://127.0.0.1:${port}/v1/traces` },
      }),
      logger: createLogger({ level: 'warn', destination: logs.stream }),
    });
    try {
      const address = await app.listen(0, '127.0.0.1');
      for (let i = 0; i < 3; i++) {
        await call(`${address.url}/v1/chat/completions`, {
          body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
          headers: MASTER,
        });
        await app.telemetry.tracing.flush().catch(() => undefined);
      }
      const failures = logs
        .text()
        .split('\n')
        .filter((line) => line.includes('OTLP trace export failed'));
      expect(exports).toBeGreaterThanOrEqual(3);
      expect(failures.length).toBe(1);
      expect(failures[0]).toContain(`127.0.0.1:${port}`);
    } finally {
      await app.close();
      await clouds.close();
      receiver.closeAllConnections();
      receiver.close();
    }
  });
});
