import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandOutput,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  type Message,
  type ToolConfiguration,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { adapterFactoryFor } from '../../src/providers/index.js';
import { startBedrockEmulator } from '../../src/sandbox/bedrock-emulator.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { createLogger } from '../../src/telemetry/logger.js';

/**
 * The real AWS SDK (BedrockRuntimeClient, default HTTP/2 handler, SigV4 with the Switchyard key id
 * and API key as credentials) against Switchyard's Bedrock Converse surface, with the model
 * served by the Bedrock emulator (Converse and its OpenAI-compatible endpoint) and by the OpenAI
 * emulator.
 *
 * Skipped until app wiring registers the Bedrock adapter (src/providers/index.ts), the
 * `aws-eventstream` decoder and the Bedrock Converse routes (src/app.ts).
 */
const wired = adapterFactoryFor('bedrock') !== undefined;

const MASTER = 'sk-switchyard-master-0123456789';
const AWS = { accessKeyId: 'AKIDUPSTREAM', secretAccessKey: 'upstream-secret' };
const OPENAI_KEY = 'sk-emulated-openai-0123456789';
const BACKENDS = [
  ['the Bedrock emulator (Converse)', 'claude-haiku'],
  ['the Bedrock emulator (OpenAI-compatible endpoint)', 'gpt-oss'],
  ['the OpenAI emulator', 'gpt-4o-mini'],
] as const;

let bedrock: Emulator;
let openai: Emulator;
let app: App;
let url: string;
const clients: BedrockRuntimeClient[] = [];

function client(secretAccessKey = MASTER, accessKeyId = 'master'): BedrockRuntimeClient {
  const created = new BedrockRuntimeClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
  clients.push(created);
  return created;
}

beforeAll(async () => {
  if (!wired) return;
  bedrock = await startBedrockEmulator({ credentials: AWS });
  openai = await startOpenAIEmulator({ flavor: 'openai', apiKey: OPENAI_KEY });
  const config = validateConfig({
    store: 'sqlite::memory:',
    logging: { level: 'silent' },
    auth: { masterKey: MASTER },
    providers: {
      aws: { type: 'bedrock', region: 'us-east-1', baseUrl: bedrock.url, ...AWS },
      oai: { type: 'openai', baseUrl: `${openai.url}/v1`, apiKey: OPENAI_KEY },
    },
    models: {
      'claude-haiku': {
        capabilities: ['tools', 'reasoning'],
        deployments: [{ provider: 'aws', model: 'anthropic.claude-3-haiku-20240307-v1:0' }],
      },
      'gpt-oss': {
        capabilities: ['tools'],
        deployments: [{ provider: 'aws', model: 'openai.gpt-oss-20b-1:0', api: 'openai' }],
      },
      'gpt-4o-mini': {
        capabilities: ['tools'],
        deployments: [{ provider: 'oai', model: 'gpt-4o-mini' }],
      },
    },
  });
  app = await createApp({ config, logger: createLogger({ level: 'silent' }) });
  ({ url } = await app.listen(0, '127.0.0.1'));
});

afterAll(async () => {
  for (const created of clients) created.destroy();
  await app?.close();
  await Promise.all([bedrock?.close(), openai?.close()]);
});

const tools: ToolConfiguration = {
  tools: [
    {
      toolSpec: {
        name: 'get_weather',
        description: 'Weather in a city',
        inputSchema: {
          json: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    },
  ],
};

async function events(answer: {
  stream?: AsyncIterable<ConverseStreamOutput> | undefined;
}): Promise<ConverseStreamOutput[]> {
  const out: ConverseStreamOutput[] = [];
  for await (const event of answer.stream!) out.push(event);
  return out;
}

describe.skipIf(!wired).each(BACKENDS)(
  'AWS SDK → Switchyard Bedrock surface → %s',
  (_label, model) => {
    it('answers Converse with text, stop reason and usage', async () => {
      const answer = await client().send(
        new ConverseCommand({
          modelId: model,
          messages: [{ role: 'user', content: [{ text: 'say "hello from bedrock"' }] }],
        }),
      );
      expect(answer.output?.message?.content).toEqual([{ text: 'hello from bedrock' }]);
      expect(answer.stopReason).toBe('end_turn');
      expect(answer.usage?.outputTokens).toBeGreaterThan(0);
      expect(answer.usage?.totalTokens).toBe(
        (answer.usage?.inputTokens ?? 0) +
          (answer.usage?.outputTokens ?? 0) +
          (answer.usage?.cacheReadInputTokens ?? 0),
      );
    });

    it('streams ConverseStream in Bedrock event order', async () => {
      const list = await events(
        await client().send(
          new ConverseStreamCommand({
            modelId: model,
            messages: [{ role: 'user', content: [{ text: 'say "one two three"' }] }],
          }),
        ),
      );
      const kinds = list.map((event) => Object.keys(event)[0]);
      expect(kinds[0]).toBe('messageStart');
      expect(kinds.slice(-3)).toEqual(['contentBlockStop', 'messageStop', 'metadata']);
      expect(list.flatMap((event) => event.contentBlockDelta?.delta?.text ?? []).join('')).toBe(
        'one two three',
      );
      expect(list.at(-1)?.metadata?.usage?.outputTokens).toBeGreaterThan(0);
    });

    it('round-trips a tool call (id preserved), then answers from the tool result', async () => {
      const user: Message = { role: 'user', content: [{ text: 'call get_weather for "Paris"' }] };
      const first: ConverseCommandOutput = await client().send(
        new ConverseCommand({ modelId: model, messages: [user], toolConfig: tools }),
      );
      expect(first.stopReason).toBe('tool_use');
      const toolUse = first.output?.message?.content?.find((block) => block.toolUse)?.toolUse;
      expect(toolUse).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });

      const streamed = await events(
        await client().send(
          new ConverseStreamCommand({ modelId: model, messages: [user], toolConfig: tools }),
        ),
      );
      const start = streamed.find((event) => event.contentBlockStart)?.contentBlockStart;
      expect(start?.start?.toolUse).toMatchObject({
        toolUseId: toolUse?.toolUseId,
        name: 'get_weather',
      });
      const input = streamed
        .flatMap((event) => event.contentBlockDelta?.delta?.toolUse?.input ?? [])
        .join('');
      expect(JSON.parse(input)).toEqual({ city: 'Paris' });
      expect(streamed.find((event) => event.messageStop)?.messageStop?.stopReason).toBe('tool_use');

      const second = await client().send(
        new ConverseCommand({
          modelId: model,
          toolConfig: tools,
          messages: [
            user,
            first.output!.message!,
            {
              role: 'user',
              content: [
                { toolResult: { toolUseId: toolUse!.toolUseId!, content: [{ text: '18°C' }] } },
              ],
            },
          ],
        }),
      );
      expect(second.output?.message?.content).toEqual([
        { text: 'Tool get_weather returned: 18°C' },
      ]);
    });
  },
);

describe.skipIf(!wired)('AWS SDK → Switchyard Bedrock surface: protocol details', () => {
  it('keeps a reasoning signature valid across turns (Bedrock emulator checks it)', async () => {
    const user: Message = { role: 'user', content: [{ text: 'Think first. Say "ok"' }] };
    const first = await client().send(
      new ConverseCommand({ modelId: 'claude-haiku', messages: [user] }),
    );
    const reasoning = first.output?.message?.content?.[0]?.reasoningContent?.reasoningText;
    expect(reasoning?.signature).toBeTruthy();
    const second = await client().send(
      new ConverseCommand({
        modelId: 'claude-haiku',
        messages: [
          user,
          first.output!.message!,
          { role: 'user', content: [{ text: 'say "again"' }] },
        ],
      }),
    );
    expect(second.output?.message?.content).toEqual([{ text: 'again' }]);
  });

  it('refuses a wrong secret with 403 InvalidSignatureException', async () => {
    await expect(
      client('wrong-secret').send(
        new ConverseCommand({
          modelId: 'claude-haiku',
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidSignatureException',
      $metadata: { httpStatusCode: 403 },
    });
  });

  it('refuses an unknown access key id with 403 UnrecognizedClientException', async () => {
    await expect(
      client(MASTER, 'key_unknown').send(
        new ConverseCommand({
          modelId: 'claude-haiku',
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      ),
    ).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
      $metadata: { httpStatusCode: 403 },
    });
  });

  it('answers 404 ResourceNotFoundException for an unknown model', async () => {
    await expect(
      client().send(
        new ConverseCommand({
          modelId: 'no-such-model',
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      ),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('answers 503 ServiceUnavailableException when the only cloud is down', async () => {
    bedrock.setDown(true);
    try {
      await expect(
        client().send(
          new ConverseCommand({
            modelId: 'claude-haiku',
            messages: [{ role: 'user', content: [{ text: 'hi' }] }],
          }),
        ),
      ).rejects.toMatchObject({
        name: 'ServiceUnavailableException',
        $metadata: { httpStatusCode: 503 },
      });
    } finally {
      bedrock.setDown(false);
    }
  });
});
