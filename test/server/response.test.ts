import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayResponse } from '../../src/server/response.js';

/** Headers node:http stored one by one for the last `/headers-object` answer (none, if taken whole). */
let storedOneByOne: string[] | undefined;

/** Each path answers in one of the ways the surfaces do. */
const ways: Record<string, (response: ServerResponse) => void> = {
  '/headers-object': (response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'x-other': 'a' });
    storedOneByOne = response.getHeaderNames();
    response.end('{}');
  },
  '/reason-and-headers': (response) => {
    response.writeHead(201, 'Made', { 'x-other': 'b' });
    response.end();
  },
  '/implicit': (response) => {
    response.statusCode = 202;
    response.end('implicit');
  },
  '/set-one-by-one': (response) => {
    response.setHeader('x-other', 'c');
    response.writeHead(200, { 'x-more': 'd' });
    response.end();
  },
  '/raw-array': (response) => {
    response.writeHead(200, ['x-other', 'e']);
    response.end();
  },
  '/own-id': (response) => {
    response.setHeader('x-request-id', 'theirs');
    response.end();
  },
  '/write-then-end': (response) => {
    response.write('a');
    response.end('b');
  },
};

let origin = '';
let server: ReturnType<typeof createServer>;
const shared = { 'x-shared': 'z' };

beforeAll(async () => {
  server = createServer(
    { ServerResponse: GatewayResponse },
    (incoming: IncomingMessage, response: ServerResponse) => {
      (response as GatewayResponse).carryRequestId('req_test');
      if (incoming.url === '/shared') {
        response.writeHead(200, shared);
        response.end();
        return;
      }
      ways[incoming.url ?? '']?.(response);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('GatewayResponse: the request id travels with the headers', () => {
  it.each(Object.keys(ways).filter((path) => path !== '/own-id'))(
    '%s: x-request-id once, and every other header as written',
    async (path) => {
      const answer = await request(origin + path);
      const body = await answer.body.text();
      expect(answer.headers['x-request-id']).toBe('req_test');
      if (path === '/headers-object') {
        expect(answer.headers['content-type']).toBe('application/json');
        expect(body).toBe('{}');
      }
      if (path === '/reason-and-headers') expect(answer.statusCode).toBe(201);
      if (path === '/implicit') expect([answer.statusCode, body]).toEqual([202, 'implicit']);
      if (path === '/set-one-by-one')
        expect([answer.headers['x-other'], answer.headers['x-more']]).toEqual(['c', 'd']);
      if (path === '/raw-array') expect(answer.headers['x-other']).toBe('e');
      if (path === '/write-then-end') expect(body).toBe('ab');
    },
  );

  it('hands a headers object to node:http whole, the id inside it (nothing stored one by one)', async () => {
    const answer = await request(`${origin}/headers-object`);
    await answer.body.text();
    expect(answer.headers['x-request-id']).toBe('req_test');
    // With the id set up front, node:http stored every header through setHeader: this was
    // ['x-request-id', 'content-type', 'x-other'].
    expect(storedOneByOne).toEqual([]);
  });

  it('keeps an id the handler set itself', async () => {
    const answer = await request(`${origin}/own-id`);
    await answer.body.text();
    expect(answer.headers['x-request-id']).toBe('theirs');
  });

  it('leaves the headers object it was given unchanged (it may be shared)', async () => {
    const answer = await request(`${origin}/shared`);
    await answer.body.text();
    expect(answer.headers['x-request-id']).toBe('req_test');
    expect(shared).toEqual({ 'x-shared': 'z' });
  });
});
