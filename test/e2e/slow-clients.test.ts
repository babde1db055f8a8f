import { connect as connectHttp2, constants } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodiesWatched } from '../../src/server/client-limits.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

/**
 * Slow, silent and oversized clients over real sockets, on HTTP/1.1 and h2c: each is cut off by
 * the `server.*` limits (headers, body idle, keep-alive, header size, connection cap) instead of
 * holding a connection forever. Deadlines are short here; what is asserted is that the server
 * closes the connection before the client has finished (or at all), not how fast.
 */

const MASTER = 'sk-switchyard-slow-clients-master-0123';
const LIMITS = {
  headersTimeoutMs: 600,
  bodyIdleTimeoutMs: 600,
  keepAliveTimeoutMs: 600,
  maxHeaderBytes: 4096,
  maxConnections: 4,
};

let gateway: RunningGateway;

beforeAll(async () => {
  gateway = await startGateway({ auth: { masterKey: MASTER }, server: LIMITS });
});
afterAll(async () => {
  await gateway?.close();
});

interface Conversation {
  socket: Socket;
  received(): string;
  closed: Promise<void>;
  isClosed(): boolean;
}

function open(port = gateway.port): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    socket.on('data', (data) => {
      text += data.toString('latin1');
    });
    socket.on('error', () => {});
    const done = new Promise<void>((resolveClosed) =>
      socket.once('close', () => {
        closed = true;
        resolveClosed();
      }),
    );
    socket.once('connect', () =>
      resolve({ socket, received: () => text, closed: done, isClosed: () => closed }),
    );
    socket.once('error', reject);
  });
}

/** Writes `text` one byte at a time, `gapMs` apart, until done or the server closes. Returns bytes sent. */
async function trickle(conversation: Conversation, text: string, gapMs: number): Promise<number> {
  let sent = 0;
  for (const char of text) {
    if (conversation.isClosed() || conversation.socket.destroyed) break;
    conversation.socket.write(char);
    sent++;
    await sleep(gapMs);
  }
  return sent;
}

function bodyOf(answer: string): { error: Record<string, unknown> } {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
    error: Record<string, unknown>;
  };
}

describe('HTTP/1.1 clients', () => {
  it('a client sending its headers at 1 byte per 100 ms is answered 408 and disconnected within the header timeout', async () => {
    const conversation = await open();
    const head = `GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${MASTER}\r\n\r\n`;
    // The whole head takes ~9 s at this pace; the header timeout is 0.6 s.
    const sent = await trickle(conversation, head, 100);
    await conversation.closed;
    expect(sent).toBeLessThan(head.length);
    expect(conversation.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(bodyOf(conversation.received()).error).toMatchObject({
      code: 'request_timeout',
      type: 'invalid_request_error',
    });
  });

  it('a silent connection is closed', async () => {
    const conversation = await open();
    await conversation.closed;
    expect(conversation.received()).toBe('');
  });

  it('a body that stalls is cut off by the body idle timeout', async () => {
    const conversation = await open();
    conversation.socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${MASTER}\r\n` +
        'content-type: application/json\r\ncontent-length: 100\r\n\r\n{"model":',
    );
    await conversation.closed;
    expect(conversation.received()).not.toMatch(/^HTTP\/1\.1 2/);
  });

  it('a body sent at 1 byte per 100 ms is still accepted while it keeps coming (idle, not total)', async () => {
    const conversation = await open();
    const body = '{"x":1,"y":22}';
    conversation.socket.write(
      `POST /admin/v1/nothing-here HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${MASTER}\r\n` +
        `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    // 14 bytes over ~1.4 s: longer than the idle timeout in total, never idle that long.
    const sent = await trickle(conversation, body, 100);
    expect(sent).toBe(body.length);
    await conversation.closed;
    expect(conversation.received()).toMatch(/^HTTP\/1\.1 404 /);
  });

  it('watches a body only while it is coming: none is left once bodies are read and answers sent', async () => {
    const client = new OpenAI({ apiKey: MASTER, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    // Bodies that are read (a 400 for an unknown model), and one that is never read (404).
    for (let i = 0; i < 5; i++)
      await expect(
        client.chat.completions.create({ model: 'no-such-model', messages: [] }),
      ).rejects.toThrow();
    // Released as soon as each body was read (the watch samples only every 150 ms here).
    expect(bodiesWatched()).toBe(0);
    const conversation = await open();
    conversation.socket.write(
      `POST /admin/v1/nothing-here HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${MASTER}\r\n` +
        'content-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}',
    );
    await conversation.closed;
    expect(conversation.received()).toMatch(/^HTTP\/1\.1 404 /);
    // Released when each answer closes, or at the latest by the next sample of the watch.
    for (let i = 0; i < 20 && bodiesWatched() > 0; i++) await sleep(50);
    expect(bodiesWatched()).toBe(0);
  });

  it('an idle kept-alive connection is closed after the keep-alive timeout', async () => {
    const conversation = await open();
    conversation.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    await conversation.closed;
    expect(conversation.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(conversation.received()).toContain('keep-alive');
  });

  it('headers larger than maxHeaderBytes get 431 in the OpenAI error shape', async () => {
    const conversation = await open();
    conversation.socket.write(
      `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-padding: ${'a'.repeat(8192)}\r\n\r\n`,
    );
    await conversation.closed;
    expect(conversation.received()).toMatch(/^HTTP\/1\.1 431 /);
    expect(bodyOf(conversation.received())).toEqual({
      error: {
        message: 'Request headers are too large',
        type: 'invalid_request_error',
        param: null,
        code: 'headers_too_large',
      },
    });
  });
});

describe('h2c clients', () => {
  it('a client that sends the preface byte by byte and stops is disconnected', async () => {
    const conversation = await open();
    const sent = await trickle(conversation, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 100);
    await conversation.closed;
    expect(sent).toBeLessThan(24);
  });

  it('a session that opens no stream is closed by the header timeout', async () => {
    const session = connectHttp2(gateway.url);
    session.on('error', () => {});
    await new Promise<void>((resolve) => session.once('close', () => resolve()));
    expect(session.destroyed).toBe(true);
  });

  it('a session is closed after the keep-alive timeout once its streams are done', async () => {
    const session = connectHttp2(gateway.url);
    session.on('error', () => {});
    const stream = session.request({ ':path': '/healthz' });
    const status = await new Promise<number>((resolve) =>
      stream.once('response', (headers) => resolve(Number(headers[':status']))),
    );
    stream.resume();
    expect(status).toBe(200);
    await new Promise<void>((resolve) => session.once('close', () => resolve()));
  });

  it('a request body that stalls is answered 408 and its stream reset by the body idle timeout', async () => {
    const session = connectHttp2(gateway.url);
    session.on('error', () => {});
    const stream = session.request({
      ':method': 'POST',
      ':path': '/v1/chat/completions',
      authorization: `Bearer ${MASTER}`,
      'content-type': 'application/json',
    });
    stream.on('error', () => {});
    stream.resume();
    stream.write('{"model":');
    const closed = await new Promise<{ rstCode: number; status?: number }>((resolve) => {
      let status: number | undefined;
      stream.once('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.once('close', () => resolve({ rstCode: stream.rstCode, status }));
    });
    expect(closed.status).toBe(408);
    expect(closed.rstCode).toBe(constants.NGHTTP2_NO_ERROR);
    session.destroy();
  });

  it('a header list larger than maxHeaderBytes gets 431, or a reset once the settings are acknowledged', async () => {
    const session = connectHttp2(gateway.url);
    session.on('error', () => {});
    const send = () => {
      const stream = session.request({ ':path': '/v1/models', 'x-padding': 'a'.repeat(8192) });
      stream.on('error', () => {});
      let text = '';
      stream.on('data', (data) => {
        text += String(data);
      });
      return new Promise<{ status?: number; rstCode: number; text: string }>((resolve) => {
        let status: number | undefined;
        stream.once('response', (headers) => {
          status = Number(headers[':status']);
        });
        stream.once('close', () => resolve({ status, rstCode: stream.rstCode, text }));
      });
    };
    // Sent with the preface, before nghttp2 applies the limit: the handler answers 431.
    const first = await send();
    expect(first.status).toBe(431);
    expect(JSON.parse(first.text).error).toMatchObject({
      code: 'headers_too_large',
      type: 'invalid_request_error',
    });
    // After the settings exchange nghttp2 refuses the block itself (no status is possible).
    if (!session.destroyed) {
      const second = await send();
      expect(second.status).toBeUndefined();
      expect(second.rstCode).toBe(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    }
    session.destroy();
  });
});

describe('the connection cap (server.maxConnections)', () => {
  // Its own gateway: long header and keep-alive deadlines, so held connections stay open.
  const CAP = 2;
  let capped: RunningGateway;
  beforeAll(async () => {
    capped = await startGateway({
      auth: { masterKey: MASTER },
      server: { maxConnections: CAP, headersTimeoutMs: 20_000, keepAliveTimeoutMs: 20_000 },
    });
  });
  afterAll(async () => {
    await capped?.close();
  });

  const healthz = 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n';

  /**
   * A kept-alive connection the server counts: it answered 200 on it. A 503 means connections of
   * an earlier test are not closed on the server's side yet: that one is dropped and retried.
   */
  async function hold(): Promise<Conversation> {
    for (;;) {
      const conversation = await open(capped.port);
      conversation.socket.write(healthz);
      const status = await new Promise<string>((resolve) => {
        const check = () => {
          const text = conversation.received();
          if (text.includes('\r\n\r\n')) resolve(text.slice(9, 12));
          else if (conversation.isClosed()) resolve('closed');
          else setTimeout(check, 10);
        };
        check();
      });
      if (status === '200') return conversation;
      conversation.socket.destroy();
      await sleep(50);
    }
  }

  async function holdAll(): Promise<Conversation[]> {
    const held: Conversation[] = [];
    for (let i = 0; i < CAP; i++) held.push(await hold());
    return held;
  }

  async function release(held: Conversation[]): Promise<void> {
    for (const conversation of held) conversation.socket.destroy();
    await Promise.all(held.map((conversation) => conversation.closed));
  }

  it('HTTP/1.1: a connection over the cap is answered 503 server_overloaded and closed; the others still work', async () => {
    const held = await holdAll();
    const extra = await open(capped.port);
    extra.socket.write(healthz);
    await extra.closed;
    const answer = extra.received();
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(bodyOf(answer)).toEqual({
      error: {
        message: expect.stringContaining('connections'),
        type: 'server_error',
        param: null,
        code: 'server_overloaded',
      },
    });
    // Over the cap and silent: closed too (after at most the header timeout, capped at 5 s).
    const silent = await open(capped.port);
    await silent.closed;
    expect(silent.received()).toBe('');
    // The counted connections are still served.
    const before = held[0]!.received().length;
    held[0]!.socket.write(healthz);
    while (held[0]!.received().length === before && !held[0]!.isClosed()) await sleep(10);
    expect(held[0]!.received().slice(before)).toMatch(/^HTTP\/1\.1 200 /);
    await release(held);
  });

  it('h2c: a session over the cap gets 503 server_overloaded on its stream, then GOAWAY', async () => {
    const held = await holdAll();
    const session = connectHttp2(capped.url);
    session.on('error', () => {});
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const stream = session.request({ ':path': '/healthz' });
    stream.on('error', () => {});
    let text = '';
    stream.on('data', (data) => {
      text += String(data);
    });
    const headers = await new Promise<Record<string, unknown>>((resolve) =>
      stream.once('response', (received) => resolve(received)),
    );
    await new Promise<void>((resolve) => stream.once('close', () => resolve()));
    expect(headers[':status']).toBe(503);
    expect(headers['retry-after']).toBe('1');
    expect(JSON.parse(text).error).toMatchObject({ code: 'server_overloaded' });
    await closed;
    await release(held);
  });

  it('the OpenAI SDK gets an APIError 503 server_overloaded, and with retries is served once a slot is free', async () => {
    const held = await holdAll();
    const client = new OpenAI({ baseURL: `${capped.url}/v1`, apiKey: MASTER, maxRetries: 0 });
    const failure = await client.models.list().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    const apiError = failure as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(503);
    expect(apiError.code).toBe('server_overloaded');
    await release(held);
    // The SDK retries a 503 after its retry-after: served once the server has let go of them.
    // (Last in this block: the SDK keeps its connection alive, which takes a slot.)
    const models = await client.withOptions({ maxRetries: 10 }).models.list();
    expect(Array.isArray(models.data)).toBe(true);
  });
});
