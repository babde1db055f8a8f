import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MASTER_KEY, type Matrix, MODEL, startMatrix } from '../matrix/clouds.js';

/**
 * Issue 21, item 2: Codex CLI's tool shapes on /v1/responses, through the real openai SDK, on a
 * translated provider (Anthropic) and an OpenAI one: a `namespace` tool is offered as flattened
 * function tools, the model's call comes back with `namespace` and the bare `name`, and that
 * call sent back as input reaches the upstream under the flattened name again.
 */

let matrix: Matrix;
let client: OpenAI;
beforeAll(async () => {
  matrix = await startMatrix();
  client = new OpenAI({ baseURL: `${matrix.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await matrix?.close();
});

const NAMESPACE = {
  type: 'namespace',
  name: 'crm',
  description: 'Customer records.',
  tools: [
    {
      type: 'function',
      name: 'get_weather',
      description: 'Weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  ],
};

describe.each(['anthropic', 'openai'] as const)('namespace tools via %s', (provider) => {
  it('flattens, maps the call back, and flattens it again as input', async () => {
    const before = matrix.sent.length;
    const first = await client.responses.create({
      model: MODEL[provider],
      input: 'call crm__get_weather for "Paris"',
      tools: [NAMESPACE as never],
      client_metadata: { thread_id: 't1' },
      store: false,
    } as never);
    const offered = JSON.stringify(matrix.sent[before]?.body);
    expect(offered).toContain('crm__get_weather');
    expect(offered).toContain('Customer records.');
    expect(offered).not.toContain('client_metadata');
    const call = first.output.find((item) => item.type === 'function_call') as
      | (OpenAI.Responses.ResponseFunctionToolCall & { namespace?: string })
      | undefined;
    expect(call).toMatchObject({ name: 'get_weather', namespace: 'crm' });

    const next = matrix.sent.length;
    const second = await client.responses.create({
      model: MODEL[provider],
      tools: [NAMESPACE as never],
      store: false,
      input: [
        { role: 'user', content: 'call crm__get_weather for "Paris"' },
        {
          type: 'function_call',
          call_id: call!.call_id,
          name: 'get_weather',
          namespace: 'crm',
          arguments: call!.arguments,
        } as never,
        { type: 'function_call_output', call_id: call!.call_id, output: '18°C' },
      ],
    });
    expect(second.status).toBe('completed');
    const replayed = JSON.stringify(matrix.sent[next]?.body);
    expect(replayed).toContain('crm__get_weather');
    expect(second.output_text).toContain('18°C');
  });
});
