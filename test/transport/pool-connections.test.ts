import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport } from '../../src/transport/http.js';

/** An upstream that holds each request until `release()` and counts the requests open at once. */
let server: Server;
let origin: string;
let open = 0;
let peak = 0;
let held: Array<() => void> = [];
const release = () => {
  const waiting = held;
  held = [];
  for (const answer of waiting) answer();
};

beforeAll(async () => {
  server = createServer((request, response) => {
    open += 1;
    peak = Math.max(peak, open);
    request.resume();
    held.push(() => {
      open -= 1;
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/**
 * Sends `count` requests through `pool`; the upstream answers whenever `batch` requests are open
 * at once, so the test ends only if the pool lets `batch` through together.
 */
async function sendAll(
  transport: ReturnType<typeof createTransport>,
  count: number,
  pool: string | undefined,
  batch: number,
) {
  open = 0;
  peak = 0;
  const sent = Array.from({ length: count }, async () => {
    const response = await transport.send(
      { url: `${origin}/v1/chat/completions`, method: 'POST', headers: {}, body: '{}' },
      new AbortController().signal,
      pool,
    );
    return response.text();
  });
  let done = false;
  const all = Promise.all(sent).finally(() => (done = true));
  while (!done) {
    if (open >= batch) release();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return all;
}

describe('transport connection pools', () => {
  it('holds a provider with maxConnections to that many sockets; others share the default pool', async () => {
    const transport = createTransport({ poolConnections: { small: 2 } });
    try {
      expect(await sendAll(transport, 6, 'small', 2)).toEqual(Array(6).fill('{}'));
      expect(peak).toBe(2);
      expect(await sendAll(transport, 6, 'other', 6)).toEqual(Array(6).fill('{}'));
      expect(peak).toBe(6);
    } finally {
      await transport.close();
    }
  });
});
