import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  cloudProviders,
  type Clouds,
  type RunningGateway,
  startClouds,
  startGateway,
} from '../helpers/gateway.js';

/** Bad requests get OpenAI-shaped 4xx answers, and the process keeps serving afterwards. */

const MAX_BODY = 2048;

let clouds: Clouds;
let gateway: RunningGateway;
let chatUrl: string;
beforeAll(async () => {
  clouds = await startClouds();
  gateway = await startGateway({
    server: { maxBodyBytes: MAX_BODY },
    partners: { openai: {} },
    providers: { openai: cloudProviders(clouds).openai },
    models: {
      'gpt-4o-mini': { deployments: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
      'text-embedding-3-small': {
        kind: 'embedding',
        deployments: [{ provider: 'openai', model: 'text-embedding-3-small' }],
      },
    },
  });
  chatUrl = `${gateway.url}/v1/chat/completions`;
});
afterAll(async () => {
  await gateway.close();
  await clouds.close();
});

const valid = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'say still serving' }] };

function openAIError(param: string | null, code: string, type = 'invalid_request_error') {
  return { error: { message: expect.any(String), type, param, code } };
}

describe('bad input', () => {
  it('malformed JSON → 400 invalid_json', async () => {
    const answer = await call(chatUrl, { body: '{"model": "gpt-4o-mini", "messages": [' });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(openAIError(null, 'invalid_json'));
    const empty = await call(chatUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('invalid_json');
  });

  it.each([
    ['messages is not an array', { model: 'gpt-4o-mini', messages: 'hello' }, 'messages'],
    ['model is a number', { model: 4, messages: valid.messages }, 'model'],
    ['stream is "yes"', { ...valid, stream: 'yes' }, 'stream'],
    [
      'a message has no role',
      { model: 'gpt-4o-mini', messages: [{ content: 'x' }] },
      'messages[0].role',
    ],
    ['n is 0', { ...valid, n: 0 }, 'n'],
  ])('%s → 400 with param', async (_name, body, param) => {
    const before = clouds.openai.requests;
    const answer = await call(chatUrl, { body });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(openAIError(param, 'invalid_request'));
    expect(answer.headers['x-should-retry']).toBe('false');
    expect(clouds.openai.requests).toBe(before);
  });

  it('embeddings without input → 400 with param', async () => {
    const answer = await call(`${gateway.url}/v1/embeddings`, {
      body: { model: 'text-embedding-3-small' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(openAIError('input', 'invalid_request'));
  });

  it('unknown model → 404 model_not_found', async () => {
    const answer = await call(chatUrl, { body: { ...valid, model: 'gpt-9-ultra' } });
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(openAIError('model', 'model_not_found', 'not_found_error'));
    const retrieve = await call(`${gateway.url}/v1/models/gpt-9-ultra`);
    expect(retrieve.status).toBe(404);
    expect(retrieve.body.error.code).toBe('model_not_found');
  });

  it('a chat model used for embeddings → 400', async () => {
    const answer = await call(`${gateway.url}/v1/embeddings`, {
      body: { model: 'gpt-4o-mini', input: 'x' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.param).toBe('model');
  });

  it('a body over server.maxBodyBytes → 413 (declared length and chunked)', async () => {
    const big = { ...valid, messages: [{ role: 'user', content: 'x'.repeat(MAX_BODY * 2) }] };
    const declared = await call(chatUrl, { body: big });
    expect(declared.status).toBe(413);
    expect(declared.body).toEqual(openAIError(null, 'body_too_large'));

    // Without content-length the limit is enforced while reading. The client keeps its side open
    // for the answer: one that half-closes is taken as gone, as node:http does (its request is
    // aborted), and gets no answer that takes more than a tick (here the usage row's commit).
    const chunked = await rawRequest(
      gateway.port,
      `POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n` +
        [JSON.stringify(big).slice(0, 1500), JSON.stringify(big).slice(1500)]
          .map((part) => `${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`)
          .join('') +
        '0\r\n\r\n',
      { halfClose: false },
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /);
    expect(chunked).toContain('"code":"body_too_large"');
  });

  it('unknown path → 404, wrong method → 405 with allow', async () => {
    const unknown = await call(`${gateway.url}/v1/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(openAIError(null, 'not_found', 'not_found_error'));
    const wrongMethod = await call(chatUrl);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers['allow']).toBe('POST');
    expect(wrongMethod.body).toEqual(openAIError(null, 'method_not_allowed'));
    const deleteModels = await call(`${gateway.url}/v1/models`, { method: 'DELETE' });
    expect(deleteModels.status).toBe(405);
  });

  it('garbage on the socket gets 400 and the server lives on', async () => {
    const answer = await rawRequest(gateway.port, 'NOT-HTTP at all\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
  });

  it('keeps serving after all of the above', async () => {
    const answer = await call(chatUrl, { body: valid });
    expect(answer.status).toBe(200);
    expect(answer.body.choices[0].message.content).toBe('still serving');
    expect((await call(`${gateway.url}/healthz`)).status).toBe(200);
  });
});

/**
 * Writes raw bytes and reads until the server closes the connection. With `halfClose` (the
 * default) the client's side is closed once the bytes are written.
 */
function rawRequest(port: number, text: string, options = { halfClose: true }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    socket.on('data', (part) => parts.push(part));
    socket.on('error', (error) =>
      parts.length > 0 ? resolve(Buffer.concat(parts).toString()) : reject(error),
    );
    socket.on('close', () => resolve(Buffer.concat(parts).toString()));
    socket.setTimeout(3000, () => socket.destroy());
    if (options.halfClose) socket.end(text);
    else socket.write(text);
  });
}
