import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/core/chat.js';
import type { GatewayCall } from '../../src/providers/adapter.js';
import { toConverseRequest } from '../../src/providers/bedrock/request.js';
import {
  AZURE_CHAT_REQUEST_FIELDS,
  CHAT_REQUEST_FIELDS,
  MESSAGE_FIELDS,
  PART_FIELDS,
} from '../../src/providers/openai/allow-list.js';
import { buildOpenAIRequest } from '../../src/providers/openai/request.js';
import { toChatRequest as fromAnthropic } from '../../src/surfaces/anthropic-messages/parse.js';
import { converseToChat } from '../../src/surfaces/bedrock-converse/request.js';
import { bedrockConverseValidator, openAIChatValidator } from '../helpers/provider-schemas.js';

/**
 * Issue 21, item 1: every builder's output conforms to the provider's published request shape
 * (strictly: no member the spec does not declare), for requests translated from every other
 * protocol, and the allow-lists in src/providers/openai/allow-list.ts are the spec's own.
 */

const openai = openAIChatValidator('openai');
const azure = openAIChatValidator('azure');
const bedrock = bedrockConverseValidator();

/** An Anthropic client's request as Claude Code shapes it: cache_control everywhere, thinking, tools. */
const fromClaudeCode = fromAnthropic({
  model: 'any',
  max_tokens: 32_000,
  system: [{ type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral' } }],
  messages: [
    {
      role: 'user',
      content: [{ type: 'text', text: 'list files', cache_control: { type: 'ephemeral' } }],
    },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'I should call Bash.', signature: 'c2lnbmF0dXJl' },
        { type: 'tool_use', id: 'toolu_01', name: 'Bash', input: { command: 'ls' } },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_01', content: 'no such dir', is_error: true },
      ],
    },
  ],
  tools: [
    {
      name: 'Bash',
      description: 'Run a command',
      input_schema: { type: 'object', properties: { command: { type: 'string' } } },
      cache_control: { type: 'ephemeral' },
    },
  ],
  thinking: { type: 'adaptive' },
  metadata: { user_id: 'user_1' },
  stream: true,
});

const fromConverse = converseToChat(
  {
    system: [{ text: 'Be brief.' }, { cachePoint: { type: 'default' } }],
    messages: [
      { role: 'user', content: [{ text: 'weather?' }] },
      {
        role: 'assistant',
        content: [
          { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'tooluse_1', content: [{ text: 'down' }], status: 'error' } },
        ],
      },
    ],
    inferenceConfig: { maxTokens: 4000, temperature: 0.5, stopSequences: ['END'] },
    toolConfig: {
      tools: [
        { toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object' } } } },
        { cachePoint: { type: 'default' } },
      ],
    },
    additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 2000 } },
  },
  'any',
  false,
);

const CASES: Array<[string, ChatRequest, GatewayCall['surface']]> = [
  ['Anthropic surface (Claude Code shape)', fromClaudeCode, 'anthropic-messages'],
  ['Bedrock surface', fromConverse, 'bedrock-converse'],
];

function call(body: ChatRequest, surface: GatewayCall['surface']): GatewayCall {
  return {
    requestId: 'r1',
    operation: 'chat',
    body,
    stream: body.stream === true,
    deployment: { provider: 'p', model: 'gpt-5' },
    signal: new AbortController().signal,
    surface,
  };
}

describe.each(CASES)('a request from the %s', (_name, body, surface) => {
  it('reaches OpenAI as a valid CreateChatCompletionRequest', () => {
    const request = buildOpenAIRequest(call(body, surface), {
      type: 'openai',
      apiKey: 'k',
    } as never);
    const sent = JSON.parse(String(request.body)) as Record<string, unknown>;
    expect(openai(sent)).toEqual([]);
    expect(sent['max_tokens']).toBeUndefined();
    expect(sent['max_completion_tokens']).toBeTypeOf('number');
  });

  it('reaches Azure OpenAI as a valid AzureCreateChatCompletionRequest', () => {
    const request = buildOpenAIRequest(call(body, surface), {
      type: 'azure-openai',
      apiKey: 'k',
      baseUrl: 'https://x.openai.azure.com',
    } as never);
    expect(azure(JSON.parse(String(request.body)))).toEqual([]);
  });

  it('reaches Bedrock as a valid ConverseRequest', () => {
    const claude = toConverseRequest(body, 'anthropic.claude-sonnet-4-5-20250929-v1:0').body;
    expect(bedrock(claude)).toEqual([]);
    const other = toConverseRequest(body, 'amazon.nova-pro-v1:0').body;
    expect(bedrock(other)).toEqual([]);
  });
});

describe('the validators are strict', () => {
  it('OpenAI: refuses the members that leaked before issue 21', () => {
    const leaked = {
      model: 'gpt-5',
      messages: [
        {
          role: 'system',
          content: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral' } }],
        },
        { role: 'assistant', content: 'a', reasoning_content: 'r', reasoning_signature: 's' },
        { role: 'tool', tool_call_id: 't', content: 'c', is_error: true },
      ],
    };
    for (const validator of [openai, azure]) {
      const problems = validator(leaked).join('\n');
      for (const member of [
        'cache_control',
        'reasoning_content',
        'reasoning_signature',
        'is_error',
      ])
        expect(problems).toContain(member);
    }
    expect(openai({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] })).toEqual([]);
  });

  it('Bedrock: refuses unknown members, strings for integers, two-member unions', () => {
    expect(bedrock({ messages: [], inferenceConfig: { maxTokens: '100' } }).join()).toContain(
      'expected an integer',
    );
    expect(bedrock({ messages: [], extra: 1 }).join()).toContain('unknown member extra');
    expect(
      bedrock({ messages: [{ role: 'user', content: [{ text: 'a', image: {} }] }] }).join(),
    ).toContain('exactly one member');
  });
});

describe('the allow-lists are the spec', () => {
  const spec = JSON.parse(
    readFileSync(
      join(import.meta.dirname, '..', 'fixtures', 'specs', 'openai-chat-request.json'),
      'utf8',
    ),
  ) as { schemas: Record<string, { properties?: object; allOf?: Array<Record<string, unknown>> }> };
  const props = (name: string): string[] => {
    const schema = spec.schemas[name];
    if (!schema) return [];
    const own = Object.keys(schema.properties ?? {});
    const inherited = (schema.allOf ?? []).flatMap((part) =>
      typeof part['$ref'] === 'string'
        ? props(part['$ref'].split('/').pop() ?? '')
        : Object.keys((part['properties'] as object | undefined) ?? {}),
    );
    return [...own, ...inherited];
  };

  it('top-level members', () => {
    expect([...CHAT_REQUEST_FIELDS].sort()).toEqual(
      [...new Set(props('CreateChatCompletionRequest'))].sort(),
    );
    expect([...AZURE_CHAT_REQUEST_FIELDS]).toEqual(['data_sources']);
  });

  it.each([
    ['system', 'ChatCompletionRequestSystemMessage'],
    ['developer', 'ChatCompletionRequestDeveloperMessage'],
    ['user', 'ChatCompletionRequestUserMessage'],
    ['assistant', 'ChatCompletionRequestAssistantMessage'],
    ['tool', 'ChatCompletionRequestToolMessage'],
    ['function', 'ChatCompletionRequestFunctionMessage'],
  ])('%s messages', (role, schema) => {
    expect([...(MESSAGE_FIELDS[role] ?? [])].sort()).toEqual(props(schema).sort());
  });

  it.each([
    ['text', 'ChatCompletionRequestMessageContentPartText'],
    ['image_url', 'ChatCompletionRequestMessageContentPartImage'],
    ['input_audio', 'ChatCompletionRequestMessageContentPartAudio'],
    ['file', 'ChatCompletionRequestMessageContentPartFile'],
    ['refusal', 'ChatCompletionRequestMessageContentPartRefusal'],
  ])('%s parts (prompt_cache_breakpoint aside: no other protocol maps to it)', (type, schema) => {
    const spec = props(schema).filter((name) => name !== 'prompt_cache_breakpoint');
    expect([...(PART_FIELDS[type] ?? [])].sort()).toEqual(spec.sort());
  });
});
