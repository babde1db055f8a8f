import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChatRequest } from '../../src/core/chat.js';
import { GatewayError } from '../../src/errors/index.js';
import type {
  ChatInvocation,
  ChatOutcome,
  Gateway,
  Principal,
  RouteMeta,
} from '../../src/gateway/types.js';
import { itemOf } from '../../src/providers/adapter.js';
import { createHttpServer1And2 } from '../../src/server/http-server.js';
import { createBedrockConverseRoutes } from '../../src/surfaces/bedrock-converse/index.js';
import { createLogger } from '../../src/telemetry/logger.js';

const MASTER = 'sk-master-secret-123';
const principal: Principal = {
  keyId: 'master',
  tenantId: 'default',
  projectId: 'default',
  isMaster: true,
};
const meta: RouteMeta = {
  model: 'm',
  deployment: 'd',
  upstreamModel: 'u',
  partner: null,
  attempts: 1,
  sandbox: true,
  openAIFamily: false,
};

/** A gateway double: records invocations and answers with what the test scripts. */
function fakeGateway() {
  const seen: ChatInvocation[] = [];
  const rejected: Array<{ status: number; code: string }> = [];
  let answer: (invocation: ChatInvocation) => Promise<ChatOutcome> = async () => {
    throw new Error('no answer scripted');
  };
  const gateway: Gateway = {
    async authenticate(credential) {
      if (credential.kind === 'bearer' && credential.token === MASTER) return principal;
      throw new GatewayError('Invalid API key', { code: 'unauthorized', status: 401 });
    },
    async resolveSigV4Secret(accessKeyId) {
      return accessKeyId === 'master' ? { secret: MASTER, principal } : undefined;
    },
    async chat(invocation) {
      seen.push(invocation);
      return answer(invocation);
    },
    async embeddings() {
      throw new Error('unused');
    },
    models: () => [],
    async recordRejected(input) {
      rejected.push({ status: input.status, code: input.code });
    },
  };
  return { gateway, seen, rejected, script: (next: typeof answer) => void (answer = next) };
}

const chunk = (
  delta: ChatCompletionChunk['choices'][number]['delta'],
  finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null,
): ChatCompletionChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 0,
  model: 'm',
  choices: [{ index: 0, delta, finish_reason: finish }],
});

async function* items(chunks: ChatCompletionChunk[], failWith?: GatewayError) {
  for (const value of chunks) yield itemOf(value);
  if (failWith) throw failWith;
}

describe('Bedrock Converse surface, driven by @aws-sdk/client-bedrock-runtime (h2c)', () => {
  const fake = fakeGateway();
  const server = createHttpServer1And2({
    routes: createBedrockConverseRoutes({ gateway: fake.gateway }),
    logger: createLogger({ level: 'silent' }),
    maxBodyBytes: 1 << 20,
    drainTimeoutMs: 100,
  });
  let client: BedrockRuntimeClient;
  let url: string;
  const sdk = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
    new BedrockRuntimeClient({ endpoint: url, region: 'us-east-1', credentials, maxAttempts: 1 });

  beforeAll(async () => {
    ({ url } = await server.listen(0, '127.0.0.1'));
    client = sdk({ accessKeyId: 'master', secretAccessKey: MASTER });
  });
  afterAll(async () => {
    client.destroy();
    await server.close();
  });
  beforeEach(() => {
    fake.seen.length = 0;
    fake.rejected.length = 0;
  });

  it('maps a Converse request to the internal representation and the answer back', async () => {
    fake.script(async () => ({
      kind: 'json',
      headers: {},
      usage: undefined,
      meta,
      completion: {
        id: 'x',
        object: 'chat.completion',
        created: 0,
        model: 'm',
        choices: [
          {
            index: 0,
            finish_reason: 'tool_calls',
            message: {
              role: 'assistant',
              content: 'Checking.',
              reasoning_content: 'hmm',
              reasoning_signature: 'sig',
              tool_calls: [
                {
                  id: 'call_1',
                  type: 'function',
                  function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
                },
              ],
            },
          },
        ],
        usage: {
          prompt_tokens: 120,
          completion_tokens: 7,
          total_tokens: 127,
          prompt_tokens_details: { cached_tokens: 100 },
        },
      },
    }));
    const answer = await client.send(
      new ConverseCommand({
        modelId: 'team/model:v1',
        system: [{ text: 'Be brief.' }],
        messages: [
          { role: 'user', content: [{ text: 'Weather?' }] },
          {
            role: 'assistant',
            content: [
              { reasoningContent: { reasoningText: { text: 'r', signature: 's1' } } },
              { toolUse: { toolUseId: 'tu_1', name: 'get_weather', input: { city: 'Rome' } } },
            ],
          },
          {
            role: 'user',
            content: [
              { toolResult: { toolUseId: 'tu_1', content: [{ json: { temp: 20 } }] } },
              { text: 'And Paris?' },
            ],
          },
        ],
        inferenceConfig: { maxTokens: 100, temperature: 0.5, topP: 0.9, stopSequences: ['END'] },
        toolConfig: {
          tools: [
            {
              toolSpec: {
                name: 'get_weather',
                inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } },
              },
            },
          ],
          toolChoice: { any: {} },
        },
        additionalModelRequestFields: { top_k: 5 },
      }),
    );
    const body: ChatRequest = fake.seen[0]!.body;
    expect(fake.seen[0]!.surface).toBe('bedrock-converse');
    expect(body).toMatchObject({
      model: 'team/model:v1',
      stream: false,
      max_tokens: 100,
      temperature: 0.5,
      top_p: 0.9,
      stop: ['END'],
      tool_choice: 'required',
      tools: [{ type: 'function', function: { name: 'get_weather' } }],
      provider_options: { bedrock: { additionalModelRequestFields: { top_k: 5 } } },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: null,
          reasoning_content: 'r',
          reasoning_signature: 's1',
          tool_calls: [
            {
              id: 'tu_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'tu_1', content: '{"temp":20}' },
        { role: 'user', content: 'And Paris?' },
      ],
    });
    expect(answer.stopReason).toBe('tool_use');
    expect(answer.output?.message?.content).toEqual([
      { reasoningContent: { reasoningText: { text: 'hmm', signature: 'sig' } } },
      { text: 'Checking.' },
      { toolUse: { toolUseId: 'call_1', name: 'get_weather', input: { city: 'Paris' } } },
    ]);
    expect(answer.usage).toEqual({
      inputTokens: 20,
      outputTokens: 7,
      totalTokens: 127,
      cacheReadInputTokens: 100,
    });
  });

  it('streams ConverseStream events with blocks, stop reason and usage', async () => {
    fake.script(async () => ({
      kind: 'stream',
      headers: {},
      meta,
      items: items([
        chunk({ role: 'assistant', content: '' }),
        chunk({ reasoning_content: 'Let me ' }),
        chunk({ reasoning_content: 'see.' }),
        chunk({ reasoning_signature: 'sig-1' }),
        chunk({ content: 'Hel' }),
        chunk({ content: 'lo' }),
        chunk({
          tool_calls: [
            {
              index: 0,
              id: 'call_9',
              type: 'function',
              function: { name: 'get_weather', arguments: '' },
            },
          ],
        }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
        chunk({}, 'tool_calls'),
        {
          id: 'c',
          object: 'chat.completion.chunk',
          created: 0,
          model: 'm',
          choices: [],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        },
      ]),
    }));
    const answer = await client.send(
      new ConverseStreamCommand({
        modelId: 'm',
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      }),
    );
    const events: ConverseStreamOutput[] = [];
    for await (const event of answer.stream!) events.push(event);
    expect(fake.seen[0]!.body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(events.map((e) => Object.keys(e)[0])).toEqual([
      'messageStart',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockStop',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockStop',
      'contentBlockStart',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockStop',
      'messageStop',
      'metadata',
    ]);
    expect(events[3]?.contentBlockDelta).toEqual({
      contentBlockIndex: 0,
      delta: { reasoningContent: { signature: 'sig-1' } },
    });
    expect(events[5]?.contentBlockDelta).toEqual({ contentBlockIndex: 1, delta: { text: 'Hel' } });
    expect(events[8]?.contentBlockStart).toEqual({
      contentBlockIndex: 2,
      start: { toolUse: { toolUseId: 'call_9', name: 'get_weather' } },
    });
    expect(events[12]?.messageStop?.stopReason).toBe('tool_use');
    expect(events[13]?.metadata?.usage).toEqual({
      inputTokens: 10,
      outputTokens: 5,
      totalTokens: 15,
    });
    expect(events[13]?.metadata?.metrics?.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('ends a failing stream with an exception frame the SDK throws', async () => {
    fake.script(async () => ({
      kind: 'stream',
      headers: {},
      meta,
      items: items(
        [chunk({ role: 'assistant', content: '' }), chunk({ content: 'partial' })],
        new GatewayError('Deployment throttled', { code: 'upstream_rate_limited', status: 429 }),
      ),
    }));
    const answer = await client.send(
      new ConverseStreamCommand({
        modelId: 'm',
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      }),
    );
    const texts: string[] = [];
    await expect(
      (async () => {
        for await (const event of answer.stream!)
          if (event.contentBlockDelta?.delta?.text) texts.push(event.contentBlockDelta.delta.text);
      })(),
    ).rejects.toMatchObject({ name: 'ThrottlingException', message: 'Deployment throttled' });
    expect(texts).toEqual(['partial']);
  });

  it('refuses a wrong secret, an unknown key id and a missing signature with 403', async () => {
    const wrong = sdk({ accessKeyId: 'master', secretAccessKey: 'not-the-key' });
    await expect(
      wrong.send(
        new ConverseCommand({
          modelId: 'm',
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidSignatureException',
      $metadata: { httpStatusCode: 403 },
    });
    wrong.destroy();
    const unknown = sdk({ accessKeyId: 'key_nobody', secretAccessKey: MASTER });
    await expect(
      unknown.send(
        new ConverseCommand({
          modelId: 'm',
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      ),
    ).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
      $metadata: { httpStatusCode: 403 },
    });
    unknown.destroy();
    expect(fake.seen).toHaveLength(0);
    expect(fake.rejected).toEqual([
      { status: 403, code: 'unauthorized' },
      { status: 403, code: 'unauthorized' },
    ]);
  });

  it('accepts a Bedrock API key style bearer token', async () => {
    fake.script(async () => ({
      kind: 'json',
      headers: {},
      usage: undefined,
      meta,
      completion: {
        id: 'x',
        object: 'chat.completion',
        created: 0,
        model: 'm',
        choices: [
          { index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'ok' } },
        ],
      },
    }));
    const bearer = new BedrockRuntimeClient({
      endpoint: url,
      region: 'us-east-1',
      token: { token: MASTER },
      authSchemePreference: ['httpBearerAuth'],
      maxAttempts: 1,
    });
    const answer = await bearer.send(
      new ConverseCommand({
        modelId: 'm',
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      }),
    );
    expect(answer.output?.message?.content).toEqual([{ text: 'ok' }]);
    bearer.destroy();
  });

  const failures: Array<[GatewayError, string, number]> = [
    [
      new GatewayError('Rate limit reached', {
        code: 'rate_limited',
        status: 429,
        retryAfterMs: 2000,
      }),
      'ThrottlingException',
      429,
    ],
    [
      new GatewayError('Unknown model "m"', { code: 'model_not_found', status: 404 }),
      'ResourceNotFoundException',
      404,
    ],
    [
      new GatewayError('Bad field', { code: 'unsupported_parameter', status: 400 }),
      'ValidationException',
      400,
    ],
    [
      new GatewayError('Model m not allowed', { code: 'forbidden', status: 403 }),
      'AccessDeniedException',
      403,
    ],
    [
      new GatewayError('All deployments failed', { code: 'no_deployment_available', status: 503 }),
      'ServiceUnavailableException',
      503,
    ],
  ];
  for (const [error, name, status] of failures) {
    it(`renders ${error.code} as ${name} ${status}`, async () => {
      fake.script(async () => {
        throw error;
      });
      await expect(
        client.send(
          new ConverseCommand({
            modelId: 'm',
            messages: [{ role: 'user', content: [{ text: 'hi' }] }],
          }),
        ),
      ).rejects.toMatchObject({
        name,
        message: error.message,
        $metadata: { httpStatusCode: status },
      });
    });
  }

  it('answers malformed Converse input with ValidationException before routing', async () => {
    await expect(
      client.send(
        new ConverseCommand({
          modelId: 'm',
          messages: [
            {
              role: 'user',
              content: [{ video: { format: 'mp4', source: { bytes: new Uint8Array([1]) } } }],
            },
          ],
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    expect(fake.seen).toHaveLength(0);
    expect(fake.rejected).toEqual([{ status: 400, code: 'unsupported_parameter' }]);
  });
});
