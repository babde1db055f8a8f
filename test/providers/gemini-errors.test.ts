import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from '../../src/core/chat.js';
import { GatewayError } from '../../src/errors/index.js';
import type { GatewayCall, ProviderAdapter } from '../../src/providers/adapter.js';
import { geminiAdapter } from '../../src/providers/gemini/index.js';
import { createTransport } from '../../src/transport/http.js';
import { decodeSse } from '../../src/transport/sse.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';

let upstream: FakeUpstream;
let adapter: ProviderAdapter;
const transport = createTransport();

beforeAll(async () => {
  upstream = await startFakeUpstream();
  adapter = geminiAdapter(
    'gem',
    { type: 'gemini', apiKey: 'AIza-test', baseUrl: upstream.url, sandbox: false },
    { env: {}, now: Date.now },
  );
});
afterAll(async () => {
  await upstream.close();
  await transport.close();
});

function call(stream = false): GatewayCall {
  return {
    requestId: 'req_e',
    operation: 'chat',
    body: { model: 'm', messages: [{ role: 'user', content: 'Hi' }] },
    stream,
    deployment: { provider: 'gem', model: 'gemini-2.5-flash' },
    signal: new AbortController().signal,
  };
}

/** One attempt as the router makes it: build, send, classify or map. */
async function attempt(stream = false): Promise<unknown> {
  const gatewayCall = call(stream);
  const response = await transport.send(
    await adapter.buildRequest(gatewayCall),
    gatewayCall.signal,
  );
  if (response.status >= 400) {
    throw adapter.classifyError(
      { status: response.status, headers: response.headers, body: await response.text() },
      gatewayCall,
    );
  }
  if (!stream) return adapter.parseResponse(JSON.parse(await response.text()), gatewayCall);
  const chunks: ChatCompletionChunk[] = [];
  for await (const item of adapter.mapStream(decodeSse(response.body), gatewayCall))
    chunks.push(item.chunk());
  return chunks;
}

async function failure(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<GatewayError> {
  upstream.script([{ status, body: body as object, headers }]);
  const error = await attempt().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

const google = (code: number, status: string, message: string, details?: unknown[]) => ({
  error: { code, message, status, ...(details ? { details } : {}) },
});
const retryInfo = (retryDelay: string) => ({
  '@type': 'type.googleapis.com/google.rpc.RetryInfo',
  retryDelay,
});
const quota = (quotaId: string) => ({
  '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
  violations: [
    {
      quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
      quotaId,
    },
  ],
});
const summary = (e: GatewayError) => ({
  code: e.code,
  class: e.errorClass,
  status: e.status,
  retryable: e.retryable,
  failover: e.failover,
  retryAfterMs: e.retryAfterMs,
});

describe('gemini error classification (scripted fake upstream)', () => {
  it('sends the request the way Google expects', async () => {
    upstream.script([
      { body: { candidates: [{ content: { parts: [{ text: 'ok' }] }, finishReason: 'STOP' }] } },
    ]);
    await attempt();
    const received = upstream.requests.at(-1)!;
    expect([
      received.method,
      received.url,
      received.headers['x-goog-api-key'],
      received.headers['content-type'],
    ]).toEqual([
      'POST',
      '/v1beta/models/gemini-2.5-flash:generateContent',
      'AIza-test',
      'application/json',
    ]);
  });

  it.each([
    [
      'invalid argument',
      400,
      google(400, 'INVALID_ARGUMENT', 'Invalid value at contents[0].role'),
      {
        code: 'invalid_request',
        class: 'invalid_request',
        status: 400,
        retryable: false,
        failover: false,
      },
    ],
    [
      'context overflow',
      400,
      google(
        400,
        'INVALID_ARGUMENT',
        'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).',
      ),
      {
        code: 'context_length_exceeded',
        class: 'context_overflow',
        status: 400,
        retryable: false,
        failover: true,
      },
    ],
    [
      'failed precondition',
      400,
      google(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.'),
      {
        code: 'quota_exhausted',
        class: 'quota_exhausted',
        status: 429,
        retryable: false,
        failover: true,
      },
    ],
    [
      'unauthenticated',
      401,
      google(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'),
      { code: 'upstream_auth', class: 'auth', status: 502, retryable: false, failover: true },
    ],
    [
      'permission denied',
      403,
      google(403, 'PERMISSION_DENIED', 'Permission denied on resource project p1.'),
      { code: 'upstream_auth', class: 'auth', status: 502, retryable: false, failover: true },
    ],
    [
      'not found',
      404,
      google(404, 'NOT_FOUND', 'models/gemini-9 is not found for API version v1beta'),
      {
        code: 'upstream_not_found',
        class: 'not_found',
        status: 502,
        retryable: false,
        failover: true,
      },
    ],
    [
      'unavailable',
      503,
      google(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'),
      {
        code: 'upstream_overloaded',
        class: 'overloaded',
        status: 503,
        retryable: true,
        failover: true,
      },
    ],
    [
      'internal',
      500,
      google(500, 'INTERNAL', 'An internal error has occurred.'),
      {
        code: 'upstream_error',
        class: 'server_error',
        status: 502,
        retryable: true,
        failover: true,
      },
    ],
    [
      'deadline exceeded',
      504,
      google(504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'),
      { code: 'upstream_timeout', class: 'timeout', status: 504, retryable: true, failover: true },
    ],
    [
      'HTML from a proxy',
      502,
      '<html>Bad Gateway</html>',
      {
        code: 'upstream_error',
        class: 'server_error',
        status: 502,
        retryable: true,
        failover: true,
      },
    ],
  ])('%s', async (_name, status, body, expected) => {
    const error = await failure(status, body);
    expect(summary(error)).toEqual({ ...expected, retryAfterMs: undefined });
  });

  it('reads RetryInfo.retryDelay for per-minute quotas', async () => {
    const error = await failure(
      429,
      google(
        429,
        'RESOURCE_EXHAUSTED',
        'You exceeded your current quota, please check your plan and billing details.',
        [
          quota('GenerateRequestsPerMinutePerProjectPerModel-FreeTier'),
          {
            '@type': 'type.googleapis.com/google.rpc.Help',
            links: [{ url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }],
          },
          retryInfo('17s'),
        ],
      ),
    );
    expect(summary(error)).toEqual({
      code: 'upstream_rate_limited',
      class: 'rate_limited',
      status: 429,
      retryable: true,
      failover: true,
      retryAfterMs: 17_000,
    });
  });

  it('falls back to "Please retry in …" in the message, array-wrapped bodies and fractional delays', async () => {
    expect(
      (
        await failure(
          429,
          google(
            429,
            'RESOURCE_EXHAUSTED',
            'Quota exceeded for metric: x, limit: 10\nPlease retry in 2.5s.',
          ),
        )
      ).retryAfterMs,
    ).toBe(2500);
    expect(
      (
        await failure(429, [
          google(429, 'RESOURCE_EXHAUSTED', 'Resource exhausted.', [retryInfo('0.250s')]),
        ])
      ).retryAfterMs,
    ).toBe(250);
    expect(
      (
        await failure(
          429,
          google(429, 'RESOURCE_EXHAUSTED', 'Resource exhausted. Please try again later.'),
          { 'retry-after': '3' },
        )
      ).retryAfterMs,
    ).toBe(3000);
  });

  it('treats per-day and zero-limit quotas as exhausted, not rate limited', async () => {
    const daily = await failure(
      429,
      google(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota.', [
        quota('GenerateRequestsPerDayPerProjectPerModel-FreeTier'),
        retryInfo('40s'),
      ]),
    );
    expect(summary(daily)).toEqual({
      code: 'quota_exhausted',
      class: 'quota_exhausted',
      status: 429,
      retryable: false,
      failover: true,
      retryAfterMs: undefined,
    });
    const zero = await failure(
      429,
      google(
        429,
        'RESOURCE_EXHAUSTED',
        'Quota exceeded for metric: generate_content_free_tier_input_token_count, limit: 0, model: gemini-2.5-pro',
      ),
    );
    expect(zero.code).toBe('quota_exhausted');
  });

  it('keeps upstream text out of auth error messages but on the error for logs', async () => {
    const error = await failure(
      403,
      google(403, 'PERMISSION_DENIED', 'Permission denied on resource project secret-project.'),
    );
    expect(error.message).not.toContain('secret-project');
    expect((error as GatewayError & { upstreamBody?: string }).upstreamBody).toContain(
      'secret-project',
    );
  });

  it('fails a stream that the upstream resets mid-way', async () => {
    upstream.script([
      {
        chunks: [
          `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text: 'Hel' }] } }] })}\r\n\r\n`,
          'data: {"candidates":',
        ],
        resetAfterChunks: 2,
      },
    ]);
    await expect(attempt(true)).rejects.toThrow();
  });

  it('classifies an error event inside a 200 stream', async () => {
    upstream.script([
      {
        chunks: [
          `data: ${JSON.stringify(google(429, 'RESOURCE_EXHAUSTED', 'Resource exhausted.', [retryInfo('1s')]))}\n\n`,
        ],
      },
    ]);
    const error = (await attempt(true).catch((e: unknown) => e)) as GatewayError;
    expect([error.code, error.retryAfterMs]).toEqual(['upstream_rate_limited', 1000]);
  });
});
