import { ServerResponse } from 'node:http';
import { GatewayResponse } from '../../src/server/response.js';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

/**
 * The same-protocol fast path (issue 17, item 3): an OpenAI chat client in front of an
 * OpenAI-family upstream gets the upstream's bytes, with only the top-level `usage` read (and
 * `usage.cost` added in place when asked); a stream's events of one upstream read leave in one
 * socket write instead of one each.
 */

let upstream: FakeUpstream;
let gateway: RunningGateway;
beforeAll(async () => {
  upstream = await startFakeUpstream();
  gateway = await startGateway({
    providers: { fake: { type: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-up-1' } },
    models: {
      smart: {
        price: { input: '20', output: '80' },
        deployments: [{ provider: 'fake', model: 'upstream-model' }],
      },
    },
  });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});
beforeEach(() => {
  upstream.requests.length = 0;
});

/**
 * An answer laid out as no serializer of ours would write it: indented, a nested `usage` in an
 * extension field (as Groq's `x_groq.usage`), message text that spells `"usage": {` with
 * escaped quotes and ends in an escaped backslash, and the real `usage` last.
 */
const RAW = `{
  "id": "chatcmpl-raw",
  "object": "chat.completion",
  "created": 1700000000,
  "model": "upstream-model",
  "x_groq": { "usage": { "prompt_tokens": 999, "completion_tokens": 999 } },
  "choices": [ { "index": 0, "finish_reason": "stop",
    "message": { "role": "assistant", "content": "say \\"usage\\": {\\"prompt_tokens\\": 5} \\\\" } } ],
  "usage" : { "prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500 }
}
`;

async function chat(body: Record<string, unknown>) {
  const response = await request(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer local' },
    body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    text: await response.body.text(),
  };
}

async function rowOf(requestId: string) {
  const rows = await gateway.app.usage.list({ limit: 1000 });
  return rows.find((row) => row.requestId === requestId);
}

describe('non-streaming answers on the same protocol', () => {
  it('forwards the upstream bytes unchanged and meters the top-level usage only', async () => {
    upstream.script([{ body: RAW, headers: { 'content-type': 'application/json' } }]);
    const answer = await chat({});
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(RAW);
    expect(answer.headers['content-length']).toBe(String(Buffer.byteLength(RAW)));
    const row = await rowOf(String(answer.headers['x-request-id']));
    expect(row).toMatchObject({ inputTokens: 1000, outputTokens: 500, status: 'ok' });
    // 1000 × $20/M + 500 × $80/M = $0.06
    expect(answer.headers['x-switchyard-cost']).toBe('0.06');
  });

  it('adds usage.cost inside the top-level usage, in place, when asked', async () => {
    upstream.script([{ body: RAW, headers: { 'content-type': 'application/json' } }]);
    const answer = await chat({ usage: { include: true } });
    expect(answer.status).toBe(200);
    const parsed = JSON.parse(answer.text) as Record<string, Record<string, unknown>>;
    const expected = JSON.parse(RAW) as Record<string, Record<string, unknown>>;
    expected['usage']!['cost'] = 0.06;
    expect(parsed).toEqual(expected);
    // Everything else is the upstream's bytes: the text minus the added member is RAW.
    expect(answer.text.replace(',"cost":0.06', '')).toBe(RAW);
    expect(answer.headers['content-length']).toBe(String(Buffer.byteLength(answer.text)));
    // The switch is the gateway's: never forwarded.
    expect(JSON.parse(upstream.requests[0]!.body)).not.toHaveProperty('usage');
  });

  it('answers usage.cost through the OpenAI SDK when the upstream usage is empty', async () => {
    upstream.script([
      {
        body: '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[],"usage":{}}',
        headers: { 'content-type': 'application/json' },
      },
    ]);
    const client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: 'local',
      maxRetries: 0,
      defaultHeaders: { 'x-switchyard-include-cost': 'true' },
    });
    const completion = await client.chat.completions.create({
      model: 'smart',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(completion.usage).toEqual({ cost: 0 });
  });

  it.each([
    ['cut short', '{"id":"c","choices":[{"index":0,"message":{"content":"hel'],
    ['not a chat completion', '{"id":"c","choices":{"index":0}}'],
    ['trailing bytes', '{"id":"c","choices":[]} {"id":"d"}'],
    ['a bad literal inside', '{"id":"c","choices":[],"usage":{"prompt_tokens":tru}}'],
  ])('refuses an upstream body that is %s with 502, as the full parse did', async (_, body) => {
    upstream.script([{ body, headers: { 'content-type': 'application/json' } }]);
    const answer = await chat({});
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'upstream_bad_response' } });
  });
});

describe('streams on the same protocol', () => {
  it('writes the events of one upstream read in one socket write, all of them, in order', async () => {
    const events = Array.from(
      { length: 200 },
      (_, index) =>
        `data: ${JSON.stringify({
          id: 'c',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'upstream-model',
          choices: [
            {
              index: 0,
              delta: { content: `t${index} ` },
              finish_reason: index === 199 ? 'stop' : null,
            },
          ],
        })}\n\n`,
    );
    const usage = `data: ${JSON.stringify({
      id: 'c',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'upstream-model',
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 200, total_tokens: 203 },
    })}\n\n`;
    // The whole answer in one upstream write, as a fast model's buffered output arrives.
    upstream.script([{ chunks: [events.join('') + usage + 'data: [DONE]\n\n'] }]);
    const writes = vi.spyOn(ServerResponse.prototype, 'write');
    try {
      const answer = await chat({ stream: true });
      expect(answer.status).toBe(200);
      const deltas = answer.text
        .split('\n\n')
        .filter((block) => block.startsWith('data: {'))
        .map(
          (block) =>
            JSON.parse(block.slice(6)) as { choices: Array<{ delta: { content: string } }> },
        )
        .map((chunk) => chunk.choices[0]!.delta.content);
      expect(deltas).toEqual(Array.from({ length: 200 }, (_, index) => `t${index} `));
      expect(answer.text.endsWith('data: [DONE]\n\n')).toBe(true);
      // Only the gateway's answers are GatewayResponses (the fake upstream's are node:http's own).
      const gatewayWrites = writes.mock.contexts.filter(
        (context) => context instanceof GatewayResponse,
      );
      // The first event alone (so it leaves at once), then the rest of each upstream read in one
      // write; 200 events arrive in a few reads at most (one write each before this change).
      expect(gatewayWrites.length).toBeGreaterThanOrEqual(1);
      expect(gatewayWrites.length).toBeLessThanOrEqual(8);
      // Relayed as the upstream's bytes (providers/openai/relay.ts), not events rendered back
      // to strings: the first write is a byte array that starts with the upstream's first event.
      const first = writes.mock.calls[writes.mock.contexts.indexOf(gatewayWrites[0]!)]![0];
      expect(first).toBeInstanceOf(Uint8Array);
      expect(
        Buffer.from(first as Uint8Array)
          .toString('utf8')
          .startsWith(events[0]!),
      ).toBe(true);
    } finally {
      writes.mockRestore();
    }
  });
});
