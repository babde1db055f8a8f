import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { bedrockConverseValidator, openAIChatValidator } from '../helpers/provider-schemas.js';

/**
 * The controls /v1/responses shares with Chat Completions (prompt caching, service tier, safety
 * identifier), driven with the openai SDK, checked in the bodies the fake upstreams received:
 * forwarded to OpenAI, translated for Anthropic (cache_control breakpoints, metadata.user_id,
 * service_tier) and Bedrock (cachePoint blocks, serviceTier), dropped for Gemini with an
 * x-switchyard-warnings header; the Response echoes only what was honoured.
 */

type Family = 'openai' | 'anthropic' | 'bedrock' | 'gemini';
const FAMILIES: Family[] = ['openai', 'anthropic', 'bedrock', 'gemini'];
const upstreams = {} as Record<Family, FakeUpstream>;
let gateway: RunningGateway;
let client: OpenAI;

const ANSWERS: Record<Family, object> = {
  openai: {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
    // The tier OpenAI actually used (it may differ from the one asked).
    service_tier: 'default',
  },
  anthropic: {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5',
    content: [{ type: 'text', text: 'ok' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 1, service_tier: 'standard' },
  },
  bedrock: {
    output: { message: { role: 'assistant', content: [{ text: 'ok' }] } },
    stopReason: 'end_turn',
    usage: { inputTokens: 5, outputTokens: 1, totalTokens: 6 },
    metrics: { latencyMs: 1 },
    serviceTier: { type: 'flex' },
  },
  gemini: {
    candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP' }],
    usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 1, totalTokenCount: 6 },
  },
};

beforeAll(async () => {
  for (const family of FAMILIES) {
    upstreams[family] = await startFakeUpstream();
    upstreams[family].script([{ body: ANSWERS[family] }]);
  }
  gateway = await startGateway({
    routing: { retries: 0 },
    providers: {
      openai: { type: 'openai', baseUrl: `${upstreams.openai.url}/v1`, apiKey: 'sk-test' },
      // Azure's requests reach the OpenAI fake too (same answer shape).
      azure: {
        type: 'azure-openai',
        baseUrl: upstreams.openai.url,
        apiKey: 'azure-key',
        apiVersion: '2024-10-21',
      },
      anthropic: { type: 'anthropic', baseUrl: upstreams.anthropic.url, apiKey: 'sk-ant-test' },
      bedrock: {
        type: 'bedrock',
        region: 'us-east-1',
        baseUrl: upstreams.bedrock.url,
        apiKey: 'bedrock-key',
      },
      gemini: { type: 'gemini', baseUrl: upstreams.gemini.url, apiKey: 'gemini-key' },
    },
    models: {
      'via-openai': { deployments: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
      'via-azure': { deployments: [{ provider: 'azure', model: 'gpt-4o-mini' }] },
      'via-anthropic': { deployments: [{ provider: 'anthropic', model: 'claude-sonnet-4-5' }] },
      'via-bedrock': {
        deployments: [{ provider: 'bedrock', model: 'anthropic.claude-sonnet-4-5-v1:0' }],
      },
      'via-gemini': { deployments: [{ provider: 'gemini', model: 'gemini-2.5-flash' }] },
    },
  } as never);
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.close();
  for (const family of FAMILIES) await upstreams[family]?.close();
});
beforeEach(() => {
  for (const family of FAMILIES) upstreams[family].requests.length = 0;
});

const controls = {
  instructions: 'You are terse.',
  input: 'say ok',
  prompt_cache_key: 'tenant-42-agent',
  prompt_cache_retention: '24h',
  safety_identifier: 'user-hash-1',
  service_tier: 'flex',
} as const;

function sent(family: Family): Record<string, unknown> {
  const requests = upstreams[family].requests;
  expect(requests).toHaveLength(1);
  return JSON.parse(requests[0]!.body) as Record<string, unknown>;
}

async function create(model: string, extra: Record<string, unknown> = {}) {
  return client.responses
    .create({ model, ...controls, ...extra } as OpenAI.Responses.ResponseCreateParamsNonStreaming)
    .withResponse();
}

describe('/v1/responses controls', () => {
  it('OpenAI: forwarded as they are (a valid chat request); the tier echoed is the one used', async () => {
    const { data, response } = await create('via-openai');
    const body = sent('openai');
    expect(body).toMatchObject({
      prompt_cache_key: 'tenant-42-agent',
      prompt_cache_retention: '24h',
      safety_identifier: 'user-hash-1',
      service_tier: 'flex',
    });
    expect(openAIChatValidator('openai')(body)).toEqual([]);
    expect(response.headers.get('x-switchyard-warnings')).toBeNull();
    expect(data).toMatchObject({
      prompt_cache_key: 'tenant-42-agent',
      prompt_cache_retention: '24h',
      safety_identifier: 'user-hash-1',
      service_tier: 'default',
    });
  });

  it('Azure OpenAI: dropped with a warning (its published chat request has none of them)', async () => {
    const { data, response } = await create('via-azure');
    const body = sent('openai');
    expect(openAIChatValidator('azure')(body)).toEqual([]);
    for (const field of ['prompt_cache_key', 'safety_identifier', 'service_tier'])
      expect(body).not.toHaveProperty(field);
    expect(response.headers.get('x-switchyard-warnings')).toContain('prompt_cache_key dropped');
    expect(data).toMatchObject({ prompt_cache_key: null, service_tier: 'default' });
  });

  it('Anthropic: cache_control breakpoints (1h for 24h retention), metadata.user_id, tier dropped', async () => {
    const { data, response } = await create('via-anthropic');
    const body = sent('anthropic') as {
      system: Array<Record<string, unknown>>;
      messages: Array<{ content: Array<Record<string, unknown>> }>;
      metadata: unknown;
    };
    const breakpoint = { type: 'ephemeral', ttl: '1h' };
    expect(body.system.at(-1)?.['cache_control']).toEqual(breakpoint);
    expect(body.messages.at(-1)?.content.at(-1)?.['cache_control']).toEqual(breakpoint);
    expect(body.metadata).toEqual({ user_id: 'user-hash-1' });
    for (const field of ['prompt_cache_key', 'prompt_cache_retention', 'safety_identifier'])
      expect(body).not.toHaveProperty(field);
    // Anthropic has no flex tier: not sent, said, and not echoed.
    expect(body).not.toHaveProperty('service_tier');
    expect(response.headers.get('x-switchyard-warnings')).toContain('service_tier dropped');
    expect(data.service_tier).toBe('default');
    expect(data).toMatchObject({
      prompt_cache_key: 'tenant-42-agent',
      safety_identifier: 'user-hash-1',
    });

    // `default` maps to Anthropic's standard_only; breakpoints without a retention last 5 minutes.
    upstreams.anthropic.requests.length = 0;
    await create('via-anthropic', { service_tier: 'default', prompt_cache_retention: null });
    const again = sent('anthropic') as { system: Array<Record<string, unknown>> };
    expect(again).toMatchObject({ service_tier: 'standard_only' });
    expect(again.system.at(-1)?.['cache_control']).toEqual({ type: 'ephemeral' });
  });

  it('Bedrock: cachePoint blocks and serviceTier (a valid ConverseRequest); the tier used echoed', async () => {
    const { data, response } = await create('via-bedrock');
    const body = sent('bedrock') as {
      system: Array<Record<string, unknown>>;
      messages: Array<{ content: Array<Record<string, unknown>> }>;
      serviceTier: unknown;
      requestMetadata: unknown;
    };
    expect(bedrockConverseValidator()(body)).toEqual([]);
    const point = { cachePoint: { type: 'default', ttl: '1h' } };
    expect(body.system.at(-1)).toEqual(point);
    expect(body.messages.at(-1)?.content.at(-1)).toEqual(point);
    expect(body.serviceTier).toEqual({ type: 'flex' });
    expect(body.requestMetadata).toEqual({ safety_identifier: 'user-hash-1' });
    expect(response.headers.get('x-switchyard-warnings')).toBeNull();
    expect(data).toMatchObject({ service_tier: 'flex', prompt_cache_key: 'tenant-42-agent' });

    // A tier Bedrock does not have (scale) is dropped with a warning.
    upstreams.bedrock.requests.length = 0;
    const scaled = await create('via-bedrock', { service_tier: 'scale' });
    expect(sent('bedrock')).not.toHaveProperty('serviceTier');
    expect(scaled.response.headers.get('x-switchyard-warnings')).toContain(
      "service_tier dropped: Bedrock has no 'scale' tier",
    );
  });

  it('Gemini: every control dropped with a warning and not echoed', async () => {
    const { data, response } = await create('via-gemini', { stream: false });
    const body = sent('gemini');
    for (const field of ['prompt_cache_key', 'safety_identifier', 'service_tier'])
      expect(JSON.stringify(body)).not.toContain(field);
    const warnings = response.headers.get('x-switchyard-warnings') ?? '';
    for (const field of [
      'prompt_cache_key',
      'prompt_cache_retention',
      'service_tier',
      'safety_identifier',
    ])
      expect(warnings).toContain(`${field} dropped`);
    expect(data).toMatchObject({
      prompt_cache_key: null,
      prompt_cache_retention: null,
      safety_identifier: null,
      service_tier: 'default',
    });
  });

  it('top_logprobs and reasoning.summary: not honoured on any deployment, said and not echoed', async () => {
    const { data, response } = await create('via-openai', {
      top_logprobs: 3,
      reasoning: { effort: 'low', summary: 'auto' },
    });
    const body = sent('openai');
    expect(body).not.toHaveProperty('top_logprobs');
    expect(body).toMatchObject({ reasoning_effort: 'low' });
    const warnings = response.headers.get('x-switchyard-warnings') ?? '';
    expect(warnings).toContain('top_logprobs dropped');
    expect(warnings).toContain('reasoning.summary dropped');
    expect(data.top_logprobs).toBe(0);
    expect(data.reasoning).toEqual({ effort: 'low', summary: null });
  });

  it('Chat Completions gets the same treatment (Gemini drops, with the header)', async () => {
    const { response } = await client.chat.completions
      .create({
        model: 'via-gemini',
        messages: [{ role: 'user', content: 'say ok' }],
        prompt_cache_key: 'k',
        service_tier: 'priority',
      })
      .withResponse();
    expect(response.headers.get('x-switchyard-warnings')).toContain('service_tier dropped');
    expect(JSON.stringify(sent('gemini'))).not.toContain('prompt_cache_key');

    upstreams.anthropic.requests.length = 0;
    await client.chat.completions.create({
      model: 'via-anthropic',
      messages: [{ role: 'user', content: 'say ok' }],
      prompt_cache_key: 'k',
      safety_identifier: 'u-2',
    });
    const body = sent('anthropic') as { messages: Array<{ content: unknown }>; metadata: unknown };
    expect(body.metadata).toEqual({ user_id: 'u-2' });
    expect(body.messages.at(-1)?.content).toEqual([
      { type: 'text', text: 'say ok', cache_control: { type: 'ephemeral' } },
    ]);
  });
});
