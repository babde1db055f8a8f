import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { eventually, type RunningGateway, startGateway } from '../helpers/gateway.js';
import { streamRequest } from '../helpers/sse.js';
import { startTcpProbe, type TcpProbe } from '../helpers/tcp-probe.js';

/**
 * Streams are forwarded chunk by chunk. A client that leaves does not take the upstream call with
 * it (the upstream charges for the whole answer): it is read to its end for its usage, unless
 * routing.drainOnDisconnectMs is 0.
 */

let upstream: FakeUpstream;
let probe: TcpProbe;
let gateway: RunningGateway;
beforeAll(async () => {
  upstream = await startFakeUpstream();
  probe = await startTcpProbe(upstream.port);
  gateway = await startGateway({
    providers: { fake: { type: 'openai', baseUrl: `${probe.url}/v1`, apiKey: 'sk-fake' } },
    models: { 'gpt-4o-mini': { deployments: [{ provider: 'fake', model: 'gpt-4o-mini' }] } },
  });
});
afterAll(async () => {
  await gateway.close();
  await probe.close();
  await upstream.close();
});
afterEach(() => {
  upstream.requests.length = 0;
});

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null })}\n\n`;
const usageChunk = `data: ${JSON.stringify({ id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 4, completion_tokens: 5, total_tokens: 9 } })}\n\n`;

const body = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'count' }],
  stream: true,
  stream_options: { include_usage: true },
};

describe('stream forwarding', () => {
  it('forwards each chunk as it arrives (upstream chunks 200 ms apart)', async () => {
    const words = ['one', ' two', ' three', ' four'];
    upstream.script([
      {
        chunks: [
          chunk({ role: 'assistant', content: '' }),
          ...words.map((word) => ({ data: chunk({ content: word }), delayMs: 200 })),
          { data: chunk({}, 'stop'), delayMs: 200 },
          usageChunk,
          'data: [DONE]\n\n',
        ],
      },
    ]);
    const answer = await streamRequest(`${gateway.url}/v1/chat/completions`, body);
    expect(answer.done).toBe(true);
    const content = answer.events.filter(
      (event) => event.data.includes('"content":"') && !event.data.includes('"content":""'),
    );
    expect(content.map((event) => JSON.parse(event.data).choices[0].delta.content)).toEqual(words);
    const last = answer.events.at(-1)!;
    // Relative arrival times: the first word was in the client's hands long before the upstream finished.
    expect(last.at - content[0]!.at).toBeGreaterThan(500);
    // And the words came spread out (3 × 200 ms upstream), not as one buffered burst.
    expect(content.at(-1)!.at - content[0]!.at).toBeGreaterThan(300);
    expect(answer.chunks.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: 9 } });
  });
});

describe('client disconnect mid-stream', () => {
  const slowStream = () => {
    const pieces = Array.from({ length: 30 }, (_, i) => ({
      data: chunk({ content: ` w${i}` }),
      delayMs: 50,
    }));
    upstream.script([
      {
        chunks: [
          chunk({ role: 'assistant', content: '' }),
          ...pieces,
          chunk({}, 'stop'),
          usageChunk,
          'data: [DONE]\n\n',
        ],
      },
    ]);
  };

  it('keeps reading the upstream to its end and books the usage it reports', async () => {
    slowStream();
    let received = 0;
    const answer = await streamRequest(`${gateway.url}/v1/chat/completions`, body, {}, () =>
      ++received === 3 ? 'stop' : undefined,
    );
    expect(answer.done).toBe(false);
    expect(received).toBe(3);

    const requestId = String(answer.headers['x-request-id']);
    const row = await eventually(() => gateway.app.usage.get(requestId), 10_000);
    // The upstream's own usage: only its last event carries it.
    expect(row).toMatchObject({
      requestId,
      status: 'aborted',
      httpStatus: 499,
      stream: true,
      deployment: 'fake',
      attempts: 1,
      inputTokens: 4,
      outputTokens: 5,
    });
    expect(row.estimated).toBeUndefined();
    expect(upstream.requests).toHaveLength(1);
    expect(
      await gateway.app.usage
        .list({ limit: 1000 })
        .then((rows) => rows.filter((item) => item.requestId === requestId)),
    ).toHaveLength(1);
  });

  it('with routing.drainOnDisconnectMs 0: closes the upstream at once and estimates the tokens', async () => {
    const quick = await startGateway({
      providers: { fake: { type: 'openai', baseUrl: `${probe.url}/v1`, apiKey: 'sk-fake' } },
      models: { 'gpt-4o-mini': { deployments: [{ provider: 'fake', model: 'gpt-4o-mini' }] } },
      routing: { drainOnDisconnectMs: 0 },
    });
    try {
      slowStream();
      let received = 0;
      const answer = await streamRequest(`${quick.url}/v1/chat/completions`, body, {}, () =>
        ++received === 3 ? 'stop' : undefined,
      );
      expect(answer.done).toBe(false);
      // The gateway closed its upstream connection (the fake saw its socket close), before the
      // upstream's chunks were through.
      const connection = probe.lastActive()!;
      expect(connection).toBeDefined();
      await eventually(() => (connection.closedAt === undefined ? undefined : true), 2000);
      expect(connection.closedBy).toBe('client');

      const requestId = String(answer.headers['x-request-id']);
      const row = await eventually(() => quick.app.usage.get(requestId));
      expect(row).toMatchObject({ status: 'aborted', httpStatus: 499, estimated: true });
      // "count" plus the chat overhead; the words the gateway had read (" w0", " w1", …).
      expect(row.inputTokens).toBeGreaterThan(1);
      expect(row.outputTokens).toBeGreaterThanOrEqual(2);
      expect(row.outputTokens).toBeLessThan(60);
    } finally {
      await quick.close();
    }
  });

  it('before the upstream has answered: aborts the waiting upstream request too', async () => {
    upstream.script([{ headersDelayMs: 3000, body: { never: 'sent' } }]);
    const controller = new AbortController();
    const sent = request(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'slow' }] }),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await eventually(() => (upstream.requests.length === 1 ? true : undefined));
    const since = performance.now();
    // The request went out on this connection (new or kept alive) and its answer is pending.
    const connection = probe.lastActive()!;
    expect(connection.closedAt).toBeUndefined();
    const rowsBefore = await gateway.app.usage.list({ limit: 1000 });
    controller.abort();
    expect(await sent).toBeInstanceOf(Error);

    await eventually(() => (connection.closedAt === undefined ? undefined : true), 2000);
    expect(connection.closedBy).toBe('client');
    expect(connection.closedAt! - since).toBeLessThan(1500);
    const row = await eventually(async () => {
      const rows = await gateway.app.usage.list({ limit: 1000 });
      return rows.length > rowsBefore.length
        ? rows.find((item) => !rowsBefore.some((old) => old.requestId === item.requestId))
        : undefined;
    });
    expect(row.requestId).toMatch(/^req_/);
    expect(row).toMatchObject({ status: 'aborted', httpStatus: 499, stream: false, attempts: 1 });
  });
});
