import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { startFakeUpstream, type FakeUpstream } from '../fakes/upstream.js';
import { call, memoryDestination } from '../helpers/gateway.js';

const MASTER = { authorization: 'Bearer sk-master-oncall-0000' };
const COMPLETION = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
};

/** Log lines as objects. */
function lines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('what on-call sees: error headers, request lines and fault lines', () => {
  let primary: FakeUpstream;
  let backup: FakeUpstream;
  let app: App;
  let url: string;
  const logs = memoryDestination();

  beforeAll(async () => {
    primary = await startFakeUpstream();
    backup = await startFakeUpstream();
    const config = validateConfig({
      store: 'sqlite::memory:',
      auth: { masterKey: 'sk-master-oncall-0000' },
      partners: { azure: { primary: true }, openai: {} },
      providers: {
        primary: { type: 'openai', baseUrl: primary.url, apiKey: 'k', partner: 'azure' },
        backup: { type: 'openai', baseUrl: backup.url, apiKey: 'k', partner: 'openai' },
      },
      models: {
        'gpt-4o-mini': {
          deployments: [
            { provider: 'primary', model: 'gpt-4o-mini' },
            { provider: 'backup', model: 'gpt-4o-mini' },
          ],
        },
      },
    });
    app = await createApp({
      config,
      logger: createLogger({ level: 'info', destination: logs.stream }),
    });
    url = (await app.listen(0, '127.0.0.1')).url;
  });
  afterAll(async () => {
    await app.close();
    await primary.close();
    await backup.close();
  });

  const chat = () =>
    call(`${url}/v1/chat/completions`, {
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
      headers: MASTER,
    });

  it('an upstream 400 passed through carries the route headers and the error code', async () => {
    primary.script([
      {
        status: 400,
        body: { error: { message: 'bad', type: 'invalid_request_error', code: 'bad_thing' } },
      },
    ]);
    const answer = await chat();
    expect(answer.status).toBe(400);
    expect(answer.headers['x-switchyard-model']).toBe('gpt-4o-mini');
    expect(answer.headers['x-switchyard-deployment']).toBe('primary');
    expect(answer.headers['x-switchyard-partner']).toBe('azure');
    expect(answer.headers['x-switchyard-attempts']).toBe('1');
    expect(answer.headers['x-switchyard-error-code']).toBeTruthy();
    const line = lines(logs.text()).find(
      (entry) =>
        entry['msg'] === 'request' && entry['requestId'] === answer.headers['x-request-id'],
    );
    expect(line).toMatchObject({
      status: 400,
      model: 'gpt-4o-mini',
      deployment: 'primary',
      partner: 'azure',
      attempts: 1,
    });
    expect(line!['errorCode']).toBeTruthy();
    expect(typeof line!['ms']).toBe('number');
  });

  it('logs failed attempts, the failover and the breaker opening, once per burst', async () => {
    primary.script([{ status: 503, body: { error: { message: 'down' } } }]);
    backup.script([{ body: COMPLETION }]);
    for (let i = 0; i < 6; i++) expect((await chat()).status).toBe(200);
    const entries = lines(logs.text());
    const failed = entries.filter(
      (entry) => entry['msg'] === 'upstream attempt failed' && entry['status'] === 503,
    );
    // Rate-limited per deployment and error class: one line for the burst, not one per request.
    expect(failed.length).toBe(1);
    expect(failed[0]).toMatchObject({ deployment: 'primary', partner: 'azure', status: 503 });
    expect(failed[0]!['requestId']).toMatch(/^req_/);
    const failovers = entries.filter((entry) => entry['msg'] === 'served after failover');
    expect(failovers.length).toBe(1);
    expect(failovers[0]).toMatchObject({ deployment: 'backup', failedOver: ['primary'] });
    const opened = entries.filter((entry) => entry['msg'] === 'breaker opened');
    expect(opened.length).toBe(1);
    expect(opened[0]).toMatchObject({ from: 'closed', to: 'open' });
    const served = entries.filter(
      (entry) => entry['msg'] === 'request' && entry['deployment'] === 'backup',
    );
    expect(served.length).toBe(6);
  });
});
