import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, startFakeUpstream } from '../fakes/upstream.js';
import type { FakeUpstream } from '../fakes/upstream.js';

let upstream: FakeUpstream;
let dispatcher: Agent;

beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(() => upstream.close());
afterEach(async () => {
  await dispatcher?.close();
});

function send(path: string, body?: string) {
  // A fresh Agent per call: a destroyed socket must not be reused by the next request.
  dispatcher = new Agent();
  return request(`${upstream.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', 'x-test': 'yes' },
    ...(body === undefined ? {} : { body }),
    dispatcher,
  });
}

describe('fake upstream', () => {
  it('answers scripted status, headers and JSON, records requests, repeats the last step', async () => {
    upstream.requests.length = 0;
    upstream.script([
      { status: 429, headers: { 'Retry-After': '2' }, body: { error: { message: 'slow down' } } },
      { body: 'plain' },
    ]);
    const first = await send('/v1/chat/completions', '{"model":"m"}');
    expect(first.statusCode).toBe(429);
    expect(first.headers['retry-after']).toBe('2');
    expect(first.headers['content-type']).toBe('application/json');
    expect(await first.body.json()).toEqual({ error: { message: 'slow down' } });
    for (let i = 0; i < 2; i++) {
      const next = await send('/again');
      expect(next.statusCode).toBe(200);
      expect(await next.body.text()).toBe('plain');
    }
    expect(upstream.requests).toHaveLength(3);
    expect(upstream.requests[0]).toMatchObject({
      method: 'POST',
      url: '/v1/chat/completions',
      body: '{"model":"m"}',
    });
    expect(upstream.requests[0]?.headers['x-test']).toBe('yes');
  });

  it('scripts by function of the request', async () => {
    upstream.script((incoming, index) => ({
      status: incoming.url === '/missing' ? 404 : 200,
      body: { index },
    }));
    const missing = await send('/missing');
    expect(missing.statusCode).toBe(404);
    expect(await missing.body.json()).toEqual({ index: 0 });
    expect(await (await send('/found')).body.json()).toEqual({ index: 1 });
  });

  it('writes raw chunks with delays after slow headers', async () => {
    upstream.script([
      {
        headersDelayMs: 60,
        chunks: [
          'data: {"n":1}\n\n',
          { data: 'data: {"n":2}\n\n', delayMs: 80 },
          'data: [DONE]\n\n',
        ],
      },
    ]);
    const started = Date.now();
    const response = await send('/stream', '{}');
    const headersAt = Date.now() - started;
    expect(headersAt).toBeGreaterThanOrEqual(55);
    expect(response.headers['content-type']).toBe('text/event-stream');
    const arrivals: Array<{ text: string; at: number }> = [];
    for await (const piece of response.body)
      arrivals.push({ text: String(piece), at: Date.now() - started });
    expect(arrivals.map((a) => a.text).join('')).toBe(
      'data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n',
    );
    const second = arrivals.find((a) => a.text.includes('"n":2'));
    expect((second?.at ?? 0) - headersAt).toBeGreaterThanOrEqual(70);
  });

  it('resets mid-stream after N chunks', async () => {
    upstream.script([
      {
        chunks: ['data: {"n":1}\n\n', 'data: {"n":2}\n\n', 'data: [DONE]\n\n'],
        resetAfterChunks: 1,
      },
    ]);
    const response = await send('/stream', '{}');
    expect(response.statusCode).toBe(200);
    let received = '';
    await expect(
      (async () => {
        for await (const piece of response.body) received += String(piece);
      })(),
    ).rejects.toThrow();
    expect(received).toBe('data: {"n":1}\n\n');
  });

  it('resets before headers', async () => {
    upstream.script([{ resetBeforeHeaders: true }]);
    await expect(send('/x', '{}')).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
  });

  it('gives a port where connections are refused', async () => {
    const port = await closedPort();
    dispatcher = new Agent();
    await expect(request(`http://127.0.0.1:${port}/`, { dispatcher })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});
