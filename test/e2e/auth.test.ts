import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback } from '../../src/access/index.js';
import {
  call,
  cloudProviders,
  type Clouds,
  type RunningGateway,
  startClouds,
  startGateway,
} from '../helpers/gateway.js';

/** Who may call: the master key when set, else loopback clients only. */

const MASTER_KEY = 'sk-switchyard-master-3c1f9a';

let clouds: Clouds;
beforeAll(async () => {
  clouds = await startClouds();
});
afterAll(async () => {
  await clouds.close();
});

function config(masterKey?: string) {
  return {
    ...(masterKey === undefined ? {} : { auth: { masterKey } }),
    providers: { openai: cloudProviders(clouds).openai },
    partners: { openai: {} },
    models: { 'gpt-4o-mini': { deployments: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
  };
}

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'say authorized' }] };

describe('with auth.masterKey set', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway(config(MASTER_KEY));
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('answers 401 in the OpenAI shape when the key is missing', async () => {
    const answer = await call(`${gateway.url}/v1/chat/completions`, { body: chat });
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({
      error: {
        message: expect.stringMatching(/API key/),
        type: 'authentication_error',
        param: null,
        code: 'unauthorized',
      },
    });
    expect(answer.headers['x-request-id']).toMatch(/^req_/);
  });

  it('answers 401 for a wrong key (also on /v1/models)', async () => {
    const answer = await call(`${gateway.url}/v1/chat/completions`, {
      body: chat,
      headers: { authorization: 'Bearer sk-wrong-key' },
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toMatchObject({ type: 'authentication_error', code: 'unauthorized' });
    const models = await call(`${gateway.url}/v1/models`, {
      headers: { authorization: 'Bearer sk-wrong-key' },
    });
    expect(models.status).toBe(401);

    const client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: 'sk-wrong-key',
      maxRetries: 0,
    });
    await expect(
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('serves the right key (bearer, and api-key as Azure clients send it)', async () => {
    const answer = await call(`${gateway.url}/v1/chat/completions`, {
      body: chat,
      headers: { authorization: `Bearer ${MASTER_KEY}` },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.choices[0].message.content).toBe('authorized');
    const azureStyle = await call(`${gateway.url}/v1/chat/completions`, {
      body: chat,
      headers: { 'api-key': MASTER_KEY },
    });
    expect(azureStyle.status).toBe(200);

    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'say authorized' }],
    });
    expect(completion.choices[0]?.message.content).toBe('authorized');
  });
});

describe('with no master key', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway(config());
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('serves loopback clients without a key', async () => {
    const answer = await call(`${gateway.url}/v1/chat/completions`, { body: chat });
    expect(answer.status).toBe(200);
    expect(answer.body.choices[0].message.content).toBe('authorized');
  });

  it('serves a loopback SDK client, which always sends some key', async () => {
    // The openai SDK refuses to run without an apiKey, so a newcomer passes any string.
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'anything', maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'say authorized' }],
    });
    expect(completion.choices[0]?.message.content).toBe('authorized');
  });
});

describe('isLoopback', () => {
  it('accepts 127/8 and ::1 (plain and IPv4-mapped), nothing else', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
      expect(isLoopback(address), address).toBe(true);
    for (const address of [
      '10.0.0.1',
      '192.168.1.20',
      '::ffff:10.0.0.1',
      'fe80::1',
      '0.0.0.0',
      '',
      undefined,
    ])
      expect(isLoopback(address), String(address)).toBe(false);
  });
});

// The non-loopback cases (refusal to listen, remote clients refused, reverse proxies) run in a
// private network namespace in exposure.test.ts, so they run on every machine.
