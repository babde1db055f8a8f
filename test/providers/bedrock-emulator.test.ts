import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBedrockEmulator } from '../../src/sandbox/bedrock-emulator.js';
import type { Emulator } from '../../src/sandbox/openai-emulator.js';

const credentials = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' };
const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const ARN =
  'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0';

let emulator: Emulator;
let client: BedrockRuntimeClient;

beforeAll(async () => {
  emulator = await startBedrockEmulator({ credentials, apiKey: 'bedrock-api-key' });
  client = new BedrockRuntimeClient({
    endpoint: emulator.url,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await emulator.close();
});

const tools = {
  tools: [
    {
      toolSpec: {
        name: 'get_weather',
        description: 'Weather for a city',
        inputSchema: {
          json: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    },
  ],
};

describe('Bedrock emulator driven by @aws-sdk/client-bedrock-runtime', () => {
  it('answers Converse with a model id containing ":" (SigV4 verified)', async () => {
    const answer = await client.send(
      new ConverseCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: 'say "hello there"' }] }],
        inferenceConfig: { maxTokens: 50 },
      }),
    );
    expect(answer.output?.message?.content?.[0]?.text).toBe('hello there');
    expect(answer.stopReason).toBe('end_turn');
    expect(answer.usage?.outputTokens).toBeGreaterThan(0);
  });

  it('accepts an inference-profile ARN as the model id', async () => {
    const answer = await client.send(
      new ConverseCommand({
        modelId: ARN,
        messages: [{ role: 'user', content: [{ text: 'say ok' }] }],
      }),
    );
    expect(answer.output?.message?.content?.[0]?.text).toBe('ok');
  });

  it('streams ConverseStream events, tool use included', async () => {
    const answer = await client.send(
      new ConverseStreamCommand({
        modelId: MODEL,
        messages: [
          { role: 'user', content: [{ text: 'think, then call get_weather for "Paris"' }] },
        ],
        toolConfig: tools,
      }),
    );
    const events: ConverseStreamOutput[] = [];
    for await (const event of answer.stream!) events.push(event);
    const kinds = events.map((e) => Object.keys(e).find((k) => k !== '$unknown'));
    expect(kinds[0]).toBe('messageStart');
    expect(kinds.slice(-2)).toEqual(['messageStop', 'metadata']);
    const start = events.find((e) => e.contentBlockStart)?.contentBlockStart;
    expect(start?.start?.toolUse?.name).toBe('get_weather');
    const input = events
      .flatMap((e) =>
        e.contentBlockDelta?.delta?.toolUse ? [e.contentBlockDelta.delta.toolUse.input] : [],
      )
      .join('');
    expect(JSON.parse(input)).toEqual({ city: 'Paris' });
    expect(events.some((e) => e.contentBlockDelta?.delta?.reasoningContent?.signature)).toBe(true);
    expect(events.at(-2)?.messageStop?.stopReason).toBe('tool_use');
    expect(events.at(-1)?.metadata?.usage?.inputTokens).toBeGreaterThan(0);
  });

  it('rejects a wrong secret with InvalidSignatureException (403)', async () => {
    const wrong = new BedrockRuntimeClient({
      endpoint: emulator.url,
      region: 'us-east-1',
      credentials: { ...credentials, secretAccessKey: 'nope' },
      maxAttempts: 1,
    });
    await expect(
      wrong.send(
        new ConverseCommand({
          modelId: MODEL,
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidSignatureException',
      $metadata: { httpStatusCode: 403 },
    });
    wrong.destroy();
  });

  it('rejects an unknown access key with UnrecognizedClientException', async () => {
    const wrong = new BedrockRuntimeClient({
      endpoint: emulator.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    await expect(
      wrong.send(
        new ConverseCommand({
          modelId: MODEL,
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      ),
    ).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
    wrong.destroy();
  });

  it('answers ServiceUnavailableException while down', async () => {
    emulator.setDown(true);
    try {
      await expect(
        client.send(
          new ConverseCommand({
            modelId: MODEL,
            messages: [{ role: 'user', content: [{ text: 'hi' }] }],
          }),
        ),
      ).rejects.toMatchObject({
        name: 'ServiceUnavailableException',
        $metadata: { httpStatusCode: 503 },
      });
    } finally {
      emulator.setDown(false);
    }
  });

  it('validates the conversation like Bedrock (ValidationException)', async () => {
    await expect(
      client.send(
        new ConverseCommand({
          modelId: MODEL,
          messages: [{ role: 'assistant', content: [{ text: 'hi' }] }],
        }),
      ),
    ).rejects.toMatchObject({
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
    });
  });
});
