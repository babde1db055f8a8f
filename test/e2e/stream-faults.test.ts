import { BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEventFrame } from '../../src/transport/aws-eventstream.js';
import { type FakeStep, type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { streamRequest } from '../helpers/sse.js';

/**
 * Upstream streams that misbehave after their first events — cut off cleanly before the
 * terminal event, a malformed (truncated JSON) event, a stall, a connection reset — on every
 * provider family (OpenAI, Anthropic, Bedrock, Gemini wire formats from one fake upstream) and
 * every streaming surface (OpenAI chat, Anthropic messages, Bedrock ConverseStream through the
 * AWS SDK, Responses stateless and stored). Each must end, for the client, in its surface's
 * error event and never in its completion; the malformed event's text never reaches the client;
 * the usage row is an error carrying the tokens forwarded ("Hello world"), with a code telling a
 * timeout from an unreachable upstream from a bad response; a stored response reads back failed.
 */

const MASTER = 'sk-switchyard-stream-faults-master-0123';
const FAMILIES = ['openai', 'anthropic', 'bedrock', 'gemini'] as const;
type Family = (typeof FAMILIES)[number];
const FAULTS = ['truncated', 'malformed', 'stalled', 'reset'] as const;
type Fault = (typeof FAULTS)[number];
const EXPECTED_CODE: Record<Fault, string> = {
  truncated: 'upstream_bad_response',
  malformed: 'upstream_bad_response',
  stalled: 'upstream_timeout',
  reset: 'upstream_unreachable',
};
const FORWARDED = 'Hello world';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** The events before the fault, and the malformed event, per wire format. */
const WIRE: Record<
  Family,
  { content: Array<string | Uint8Array>; malformed: string | Uint8Array }
> = {
  openai: {
    content: [
      openai({ role: 'assistant', content: '' }),
      openai({ content: 'Hello' }),
      openai({ content: ' world' }),
    ],
    malformed:
      'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"LEAK\n\n',
  },
  anthropic: {
    content: [
      anthropic('message_start', {
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'claude-x',
          content: [],
          usage: { input_tokens: 5, output_tokens: 1 },
        },
      }),
      anthropic('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      anthropic('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } }),
      anthropic('content_block_delta', {
        index: 0,
        delta: { type: 'text_delta', text: ' world' },
      }),
    ],
    malformed:
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"LEAK\n\n',
  },
  bedrock: {
    content: [
      encodeEventFrame('messageStart', { role: 'assistant' }),
      encodeEventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello' } }),
      encodeEventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: ' world' } }),
    ],
    malformed: codec.encode({
      headers: {
        ':event-type': { type: 'string', value: 'contentBlockDelta' },
        ':content-type': { type: 'string', value: 'application/json' },
        ':message-type': { type: 'string', value: 'event' },
      },
      body: fromUtf8('{"contentBlockIndex":0,"delta":{"text":"LEAK'),
    }),
  },
  gemini: {
    content: [gemini('Hello'), gemini(' world')],
    malformed: 'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"LEAK\n\n',
  },
};

function openai(delta: object): string {
  const chunk = {
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: null }],
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

function anthropic(type: string, payload: object): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
}

function gemini(text: string): string {
  const event = {
    candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0 }],
    modelVersion: 'gemini-x',
    responseId: 'r1',
  };
  return `data: ${JSON.stringify(event)}\n\n`;
}

function familyOf(url: string): Family {
  if (url.includes('/chat/completions')) return 'openai';
  if (url.includes('/v1/messages')) return 'anthropic';
  if (url.includes('converse-stream')) return 'bedrock';
  return 'gemini';
}

function stepFor(family: Family, fault: Fault): FakeStep {
  const { content, malformed } = WIRE[family];
  const headers: Record<string, string> =
    family === 'bedrock' ? { 'content-type': 'application/vnd.amazon.eventstream' } : {};
  if (fault === 'truncated') return { headers, chunks: content };
  if (fault === 'malformed') return { headers, chunks: [...content, malformed] };
  if (fault === 'stalled') return { headers, chunks: content, stallAfterChunks: content.length };
  return { headers, chunks: content, resetAfterChunks: content.length };
}

let upstream: FakeUpstream;
let gateway: RunningGateway;
let fault: Fault = 'truncated';

beforeAll(async () => {
  upstream = await startFakeUpstream();
  upstream.script((request) => stepFor(familyOf(request.url), fault));
  // The stall is detected by each model's own idle timeout (per-model config), not undici's.
  const model = (provider: string, upstreamModel: string) => ({
    streamIdleTimeoutMs: 300,
    deployments: [{ provider, model: upstreamModel }],
  });
  gateway = await startGateway({
    auth: { masterKey: MASTER },
    routing: { retries: 0 },
    providers: {
      openai: { type: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-fake-openai-0123' },
      anthropic: { type: 'anthropic', baseUrl: upstream.url, apiKey: 'sk-ant-fake-0123' },
      bedrock: {
        type: 'bedrock',
        region: 'us-east-1',
        baseUrl: upstream.url,
        accessKeyId: 'AKIDFAKE',
        secretAccessKey: 'fake-secret',
      },
      gemini: { type: 'gemini', baseUrl: upstream.url, apiKey: 'AIza-fake-0123' },
    },
    models: {
      'f-openai': model('openai', 'gpt-x'),
      'f-anthropic': model('anthropic', 'claude-x'),
      'f-bedrock': model('bedrock', 'anthropic.claude-x'),
      'f-gemini': model('gemini', 'gemini-x'),
    },
  });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

interface Seen {
  errored: boolean;
  completed: boolean;
  text: string;
  requestId: string | undefined;
}

const auth = { authorization: `Bearer ${MASTER}` };

const SURFACES: Record<string, (model: string) => Promise<Seen>> = {
  async 'openai-chat'(model) {
    const answer = await streamRequest(
      `${gateway.url}/v1/chat/completions`,
      { model, messages: [{ role: 'user', content: 'hi' }], stream: true },
      auth,
    );
    expect(answer.status).toBe(200);
    return {
      errored: answer.chunks.at(-1)?.error !== undefined,
      completed: answer.done,
      text: answer.chunks.map((chunk) => chunk.choices?.[0]?.delta?.content ?? '').join(''),
      requestId: answer.headers['x-request-id'] as string,
    };
  },
  async 'anthropic-messages'(model) {
    const answer = await streamRequest(
      `${gateway.url}/v1/messages`,
      { model, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }], stream: true },
      { 'x-api-key': MASTER, 'anthropic-version': '2023-06-01' },
    );
    expect(answer.status).toBe(200);
    const events = answer.events.map((event) => event.event);
    return {
      errored: events.at(-1) === 'error',
      completed: events.includes('message_stop'),
      text: answer.chunks
        .filter((chunk) => chunk.type === 'content_block_delta')
        .map((chunk) => chunk.delta.text ?? '')
        .join(''),
      requestId: answer.headers['x-request-id'] as string,
    };
  },
  async 'bedrock-converse'(model) {
    const client = new BedrockRuntimeClient({
      endpoint: gateway.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'master', secretAccessKey: MASTER },
      maxAttempts: 1,
    });
    let text = '';
    let completed = false;
    let errored = false;
    let requestId: string | undefined;
    try {
      const output = await client.send(
        new ConverseStreamCommand({
          modelId: model,
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      );
      requestId = output.$metadata.requestId;
      for await (const event of output.stream ?? []) {
        if (event.contentBlockDelta?.delta?.text) text += event.contentBlockDelta.delta.text;
        if (event.messageStop) completed = true;
      }
    } catch {
      errored = true;
    } finally {
      client.destroy();
    }
    return { errored, completed, text, requestId };
  },
  'openai-responses': (model) => responsesStream(model, false),
  // Stored: the response is saved (failed) as well as streamed.
  'openai-responses-stored': (model) => responsesStream(model, true),
};

/** A streamed /v1/responses request, stateless (`store: false`) or stored. */
async function responsesStream(model: string, store: boolean): Promise<Seen> {
  const answer = await streamRequest(
    `${gateway.url}/v1/responses`,
    { model, input: 'hi', stream: true, store },
    auth,
  );
  expect(answer.status).toBe(200);
  const types = answer.chunks.map((chunk) => chunk.type as string);
  // What a later GET reads agrees with the stream: stored as failed, or never stored.
  const id = answer.chunks.find((chunk) => chunk.type === 'response.created')?.response?.id;
  expect(id).toMatch(/^resp_/);
  const stored = await fetch(`${gateway.url}/v1/responses/${id}`, { headers: auth });
  if (store) expect(((await stored.json()) as { status: string }).status).toBe('failed');
  else expect(stored.status).toBe(404);
  return {
    errored: types.includes('response.failed') || types.includes('error'),
    completed: types.includes('response.completed'),
    text: answer.chunks
      .filter((chunk) => chunk.type === 'response.output_text.delta')
      .map((chunk) => chunk.delta as string)
      .join(''),
    requestId: answer.headers['x-request-id'] as string,
  };
}

/** The usage row of one request (the gateway's x-request-id; Bedrock's is the same id). */
async function rowOf(requestId: string | undefined) {
  const rows = await gateway.app.usage.list({ limit: 1000 });
  return rows.find((row) => row.requestId === requestId);
}

describe.each(Object.keys(SURFACES))('%s surface', (surface) => {
  describe.each(FAMILIES)('over a %s upstream', (family) => {
    it.each(FAULTS)('a %s stream ends in an error event, never in completion', async (which) => {
      fault = which;
      const seen = await SURFACES[surface]!(`f-${family}`);
      expect(seen.errored).toBe(true);
      expect(seen.completed).toBe(false);
      expect(seen.text).not.toContain('LEAK');
      expect(FORWARDED.startsWith(seen.text)).toBe(true);
      // Every surface books the request's row as an error carrying the tokens forwarded.
      const row = await rowOf(seen.requestId);
      expect(row?.surface).toBe(surface.replace('-stored', ''));
      expect(row).toMatchObject({ status: 'error', errorCode: EXPECTED_CODE[which] });
      expect(row!.outputTokens).toBe(countTokens(FORWARDED));
      expect(row!.inputTokens).toBeGreaterThan(0);
    });
  });
});
