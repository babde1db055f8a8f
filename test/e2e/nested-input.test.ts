import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

/**
 * Deeply nested JSON on every surface is a 400 naming where, in the surface's own error shape,
 * before anything else runs (no 5xx, no upstream request); a tool schema nested too deeply for
 * the Gemini converter is a 400 as well; and none of this, nor clients that walk away, touches
 * a deployment's breaker.
 */

const MASTER = 'sk-switchyard-nested-input-master-0123';
const DEEP = 100_000;

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/** A JSON schema whose properties nest `levels` objects deep (JSON depth ≈ 2 × levels). */
function deepSchema(levels: number): string {
  return `${'{"type":"object","properties":{"a":'.repeat(levels)}{"type":"string"}${'}}'.repeat(levels)}`;
}

let upstream: FakeUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gateway = await startGateway({
    auth: { masterKey: MASTER },
    server: { maxJsonDepth: 1000 },
    providers: {
      gemini: { type: 'gemini', baseUrl: upstream.url, apiKey: 'AIza-fake-0123' },
      openai: { type: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-fake-0123' },
    },
    models: {
      chat: {
        deployments: [
          { provider: 'gemini', model: 'gemini-x' },
          { provider: 'openai', model: 'gpt-x' },
        ],
      },
      'solo-openai': { deployments: [{ provider: 'openai', model: 'gpt-x' }] },
      embed: { kind: 'embedding', deployments: [{ provider: 'openai', model: 'embed-x' }] },
    },
  });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const response = await request(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${MASTER}`, ...headers },
    body,
  });
  const text = await response.body.text();
  return { status: response.statusCode, text, json: JSON.parse(text) as Record<string, any> };
}

const anthropicHeaders = { 'x-api-key': MASTER, 'anthropic-version': '2023-06-01' };

/** Every surface that takes a JSON body, with where the deep value goes and the error's shape. */
const SURFACES: Array<{
  name: string;
  path: string;
  body: (deep: string) => string;
  param: string;
  headers?: Record<string, string>;
  shape: 'openai' | 'anthropic' | 'bedrock';
}> = [
  {
    name: 'OpenAI chat',
    path: '/v1/chat/completions',
    body: (deep) =>
      `{"model":"chat","messages":[{"role":"user","content":"hi"}],"metadata":${deep}}`,
    param: 'metadata',
    shape: 'openai',
  },
  {
    name: 'OpenAI embeddings',
    path: '/v1/embeddings',
    body: (deep) => `{"model":"embed","input":${deep}}`,
    param: 'input',
    shape: 'openai',
  },
  {
    name: 'OpenAI responses',
    path: '/v1/responses',
    body: (deep) => `{"model":"chat","input":${deep}}`,
    param: 'input',
    shape: 'openai',
  },
  {
    name: 'OpenAI conversations',
    path: '/v1/conversations',
    body: (deep) => `{"items":${deep}}`,
    param: 'items',
    shape: 'openai',
  },
  {
    name: 'Anthropic messages',
    path: '/v1/messages',
    body: (deep) =>
      `{"model":"chat","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":${deep}}`,
    param: 'tools',
    headers: anthropicHeaders,
    shape: 'anthropic',
  },
  {
    name: 'Anthropic count_tokens',
    path: '/v1/messages/count_tokens',
    body: (deep) => `{"model":"chat","messages":${deep}}`,
    param: 'messages',
    headers: anthropicHeaders,
    shape: 'anthropic',
  },
  {
    name: 'Bedrock converse',
    path: '/model/chat/converse',
    body: (deep) => `{"messages":${deep}}`,
    param: 'messages',
    shape: 'bedrock',
  },
  {
    name: 'Bedrock converse-stream',
    path: '/model/chat/converse-stream',
    body: (deep) => `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"toolConfig":${deep}}`,
    param: 'toolConfig',
    shape: 'bedrock',
  },
  {
    name: 'admin',
    path: '/admin/v1/keys',
    body: (deep) => `{"name":"k","metadata":${deep}}`,
    param: 'metadata',
    shape: 'openai',
  },
];

function expectTooDeep(
  answer: Awaited<ReturnType<typeof post>>,
  surface: (typeof SURFACES)[number],
): void {
  expect(answer.status).toBe(400);
  if (surface.shape === 'openai') {
    expect(answer.json.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'json_too_deep',
    });
    // The path down to the limit, elided after a few segments: `metadata[0][0]…`.
    expect(String(answer.json.error.param).startsWith(surface.param)).toBe(true);
  } else if (surface.shape === 'anthropic') {
    expect(answer.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(answer.json.error.message).toContain(surface.param);
  } else expect(String(answer.json.message ?? answer.json.Message)).toContain(surface.param);
}

describe.each(SURFACES)('$name', (surface) => {
  it(`JSON nested ${DEEP} deep is a 400 naming the field, before any upstream request`, async () => {
    const before = upstream.requests.length;
    const answer = await post(surface.path, surface.body(nested(DEEP)), surface.headers);
    expectTooDeep(answer, surface);
    expect(upstream.requests.length).toBe(before);
  });

  it('a tool schema nested 5,000 deep is a 400, not a 5xx', async () => {
    const answer = await post(surface.path, surface.body(deepSchema(5_000)), surface.headers);
    expectTooDeep(answer, surface);
  });
});

describe('within the edge limit', () => {
  it('a tool schema too deep for the Gemini converter is a 400 naming the tool, with no upstream request, no failover and no breaker', async () => {
    const before = upstream.requests.length;
    const tools = `[{"type":"function","function":{"name":"deep","parameters":${deepSchema(400)}}}]`;
    for (let i = 0; i < 7; i++) {
      const answer = await post(
        '/v1/chat/completions',
        `{"model":"chat","messages":[{"role":"user","content":"hi"}],"tools":${tools}}`,
      );
      expect(answer.status).toBe(400);
      expect(answer.json.error).toMatchObject({ type: 'invalid_request_error' });
      expect(String(answer.json.error.param)).toContain('tools[0]');
    }
    // Neither the Gemini deployment nor the OpenAI one behind it was asked.
    expect(upstream.requests.length).toBe(before);
    const health = gateway.app.health.get('gemini/gemini-x');
    expect(health.state).toBe('closed');
    expect(health.consecutiveFailures).toBe(0);
    const routing = await request(`${gateway.url}/v1/routing`, {
      headers: { authorization: `Bearer ${MASTER}` },
    });
    const view = JSON.stringify(await routing.body.json());
    expect(view).not.toContain('"open"');
  });

  it('a client that walks away mid-stream, again and again, opens no breaker', async () => {
    upstream.script([
      {
        chunks: Array.from({ length: 40 }, (_, i) => ({
          data: `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: `t${i} ` }, finish_reason: null }] })}\n\n`,
          delayMs: 50,
        })),
      },
    ]);
    try {
      for (let i = 0; i < 7; i++) {
        const controller = new AbortController();
        const response = await request(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${MASTER}` },
          body: JSON.stringify({
            model: 'solo-openai',
            messages: [{ role: 'user', content: 'hi' }],
            stream: true,
          }),
          signal: controller.signal,
        });
        expect(response.statusCode).toBe(200);
        for await (const _piece of response.body) break; // first bytes, then gone
        controller.abort();
      }
    } finally {
      upstream.script([{ body: {} }]);
    }
    const health = gateway.app.health.get('openai/gpt-x');
    expect(health.state).toBe('closed');
    expect(health.consecutiveFailures).toBe(0);
  });
});
