import { describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../src/config/index.js';
import type { ChatRequest } from '../../src/core/chat.js';
import { GatewayError } from '../../src/errors/index.js';
import type { GatewayCall } from '../../src/providers/adapter.js';
import { geminiAdapter } from '../../src/providers/gemini/index.js';
import { decodeToolCallId, encodeToolCallId } from '../../src/providers/gemini/signatures.js';

const GEMINI: ProviderConfig = { type: 'gemini', apiKey: 'AIza-test', sandbox: false };
const deps = { env: {}, now: () => 1_700_000_000_000 };

function call(
  body: Partial<ChatRequest>,
  options: { stream?: boolean; model?: string } = {},
): GatewayCall {
  const model = options.model ?? 'gemini-2.5-flash';
  return {
    requestId: 'req_1',
    operation: 'chat',
    body: { model: 'logical', messages: [{ role: 'user', content: 'Hi' }], ...body },
    stream: options.stream ?? false,
    deployment: { provider: 'g', model },
    signal: new AbortController().signal,
  };
}

async function build(
  body: Partial<ChatRequest>,
  options: { stream?: boolean; model?: string; config?: ProviderConfig } = {},
) {
  const adapter = geminiAdapter('g', options.config ?? GEMINI, deps);
  const upstream = await adapter.buildRequest(call(body, options));
  return { ...upstream, json: JSON.parse(String(upstream.body)) as Record<string, unknown> };
}

async function rejection(body: Partial<ChatRequest>, model?: string): Promise<GatewayError> {
  const error = await build(body, model ? { model } : {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

describe('gemini request mapping', () => {
  it('maps a full conversation, tools, tool choice and generation settings', async () => {
    const signed = encodeToolCallId(
      { signature: 'c2lnLW9uZQ==' },
      { responseId: 'r', candidate: 0, ordinal: 0, name: 'get_weather', args: '{}' },
    );
    const { json } = await build({
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather where this photo was taken?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/a/photo.webp?x=1' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: signed,
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'call_other', type: 'function', function: { name: 'get_time', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: signed, content: '{"temp":18}' },
        { role: 'tool', tool_call_id: 'call_other', content: 'noon' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather',
            strict: true,
            parameters: {
              $schema: 'http://json-schema.org/draft-07/schema#',
              type: 'object',
              additionalProperties: false,
              properties: {
                city: { type: 'string', format: 'email' },
                unit: { type: ['string', 'null'], enum: ['c', 'f', null] },
              },
              required: ['city', 'unit', 'ghost'],
            },
          },
        },
        {
          type: 'function',
          function: { name: 'get_time', parameters: { type: 'object', properties: {} } },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      temperature: 0.2,
      top_p: 0.9,
      max_completion_tokens: 100,
      stop: 'END',
      seed: 7,
      n: 1,
      parallel_tool_calls: true,
      user: 'u-1',
      metadata: { team: 'a' },
      stream_options: { include_usage: true },
    });
    expect(json).toMatchInlineSnapshot(`
      {
        "contents": [
          {
            "parts": [
              {
                "text": "Weather where this photo was taken?",
              },
              {
                "inlineData": {
                  "data": "iVBORw0KGgo=",
                  "mimeType": "image/png",
                },
              },
              {
                "fileData": {
                  "fileUri": "https://example.com/a/photo.webp?x=1",
                  "mimeType": "image/webp",
                },
              },
            ],
            "role": "user",
          },
          {
            "parts": [
              {
                "functionCall": {
                  "args": {
                    "city": "Paris",
                  },
                  "name": "get_weather",
                },
                "thoughtSignature": "c2lnLW9uZQ==",
              },
              {
                "functionCall": {
                  "args": {},
                  "name": "get_time",
                },
              },
            ],
            "role": "model",
          },
          {
            "parts": [
              {
                "functionResponse": {
                  "name": "get_weather",
                  "response": {
                    "temp": 18,
                  },
                },
              },
              {
                "functionResponse": {
                  "name": "get_time",
                  "response": {
                    "result": "noon",
                  },
                },
              },
            ],
            "role": "user",
          },
        ],
        "generationConfig": {
          "candidateCount": 1,
          "maxOutputTokens": 100,
          "seed": 7,
          "stopSequences": [
            "END",
          ],
          "temperature": 0.2,
          "topP": 0.9,
        },
        "systemInstruction": {
          "parts": [
            {
              "text": "Be brief.",
            },
          ],
        },
        "toolConfig": {
          "functionCallingConfig": {
            "allowedFunctionNames": [
              "get_weather",
            ],
            "mode": "ANY",
          },
        },
        "tools": [
          {
            "functionDeclarations": [
              {
                "description": "Weather",
                "name": "get_weather",
                "parameters": {
                  "properties": {
                    "city": {
                      "type": "string",
                    },
                    "unit": {
                      "enum": [
                        "c",
                        "f",
                      ],
                      "nullable": true,
                      "type": "string",
                    },
                  },
                  "required": [
                    "city",
                    "unit",
                  ],
                  "type": "object",
                },
              },
              {
                "name": "get_time",
              },
            ],
          },
        ],
      }
    `);
  });

  it('inlines $refs, folds anyOf-null and const, and rejects recursive schemas', async () => {
    const { json } = await build({
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'out',
          strict: true,
          schema: {
            type: 'object',
            additionalProperties: false,
            $defs: { Step: { type: 'object', properties: { say: { const: 'hi' } } } },
            properties: {
              steps: { type: 'array', items: { $ref: '#/$defs/Step' } },
              note: { anyOf: [{ type: 'string' }, { type: 'null' }] },
            },
          },
        },
      },
    });
    expect(json['generationConfig']).toMatchInlineSnapshot(`
      {
        "responseMimeType": "application/json",
        "responseSchema": {
          "properties": {
            "note": {
              "nullable": true,
              "type": "string",
            },
            "steps": {
              "items": {
                "properties": {
                  "say": {
                    "enum": [
                      "hi",
                    ],
                  },
                },
                "type": "object",
              },
              "type": "array",
            },
          },
          "type": "object",
        },
      }
    `);
    const recursive = await rejection({
      tools: [
        {
          type: 'function',
          function: {
            name: 'tree',
            parameters: {
              type: 'object',
              $defs: { Node: { type: 'object', properties: { child: { $ref: '#/$defs/Node' } } } },
              properties: { root: { $ref: '#/$defs/Node' } },
            },
          },
        },
      ],
    });
    expect([recursive.code, recursive.param]).toEqual([
      'unsupported_parameter',
      'tools[0].function.parameters',
    ]);
  });

  it('maps reasoning_effort to a thinking budget (2.x) or level (3.x), and merges provider_options', async () => {
    expect((await build({ reasoning_effort: 'low' })).json['generationConfig']).toEqual({
      thinkingConfig: { thinkingBudget: 1024, includeThoughts: true },
    });
    expect((await build({ reasoning_effort: 'none' })).json['generationConfig']).toEqual({
      thinkingConfig: { thinkingBudget: 0, includeThoughts: false },
    });
    const { json } = await build(
      {
        reasoning_effort: 'high',
        response_format: { type: 'json_object' },
        provider_options: {
          gemini: {
            generationConfig: { topK: 40 },
            safetySettings: [
              { category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' },
            ],
          },
          anthropic: { top_k: 3 },
        },
      },
      { model: 'gemini-3-pro-preview' },
    );
    expect(json['generationConfig']).toEqual({
      responseMimeType: 'application/json',
      thinkingConfig: { thinkingLevel: 'high', includeThoughts: true },
      topK: 40,
    });
    expect(json['safetySettings']).toHaveLength(1);
    expect((await rejection({ reasoning_effort: 'extreme' })).param).toBe('reasoning_effort');
  });

  it('rejects what Gemini cannot do instead of dropping it', async () => {
    for (const [body, param] of [
      [{ logprobs: true }, 'logprobs'],
      [{ top_logprobs: 2 }, 'top_logprobs'],
      [{ logit_bias: { 1: 2 } }, 'logit_bias'],
      [{ parallel_tool_calls: false }, 'parallel_tool_calls'],
      [{ audio: { voice: 'x' } }, 'audio'],
      [
        { messages: [{ role: 'user', content: [{ type: 'input_video', data: 'x' }] }] },
        'messages[0].content[0].type',
      ],
      [{ tools: [{ type: 'custom', custom: { name: 'x' } }] }, 'tools[0].type'],
    ] as const) {
      const error = await rejection(body as Partial<ChatRequest>);
      expect([error.code, error.param, error.status]).toEqual([
        'unsupported_parameter',
        param,
        400,
      ]);
    }
    await expect(
      build({ store: false, logprobs: false, service_tier: 'auto', modalities: ['text'] }),
    ).resolves.toBeDefined();
    const orphan = await rejection({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'tool', tool_call_id: 'nope', content: '1' },
      ],
    });
    expect(orphan.param).toBe('messages[1].tool_call_id');
    expect(
      (await rejection({ messages: [{ role: 'system', content: 'only system' }] })).param,
    ).toBe('messages');
  });

  it('puts the sentinel on unsigned calls for Gemini 3 only, and replays gemini-tagged text signatures', async () => {
    const history: Partial<ChatRequest> = {
      messages: [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: 'Let me check.',
          reasoning_signature: 'gemini:dGV4dA==',
          tool_calls: [
            {
              id: 'toolu_from_anthropic',
              type: 'function',
              function: { name: 'w', arguments: '{}' },
            },
            { id: 'toolu_second', type: 'function', function: { name: 'w', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_from_anthropic', content: '1' },
        { role: 'tool', tool_call_id: 'toolu_second', content: '2' },
        { role: 'assistant', content: 'Done.', reasoning_signature: 'anthropic-signature' },
        { role: 'user', content: 'Thanks' },
      ],
    };
    const parts = (json: Record<string, unknown>, turn: number) =>
      (json['contents'] as Array<{ parts: unknown[] }>)[turn]!.parts;
    const three = (await build(history, { model: 'gemini-3-flash-preview' })).json;
    expect(parts(three, 1)).toEqual([
      { text: 'Let me check.', thoughtSignature: 'dGV4dA==' },
      {
        functionCall: { name: 'w', args: {} },
        thoughtSignature: 'skip_thought_signature_validator',
      },
      { functionCall: { name: 'w', args: {} } },
    ]);
    expect(parts(three, 3)).toEqual([{ text: 'Done.' }]);
    const two = (await build(history)).json;
    expect(parts(two, 1)[1]).toEqual({ functionCall: { name: 'w', args: {} } });
  });

  it('builds Gemini API and Vertex URLs with their auth headers', async () => {
    const gemini = await build({}, { stream: true });
    expect([gemini.url, gemini.headers['x-goog-api-key'], gemini.headers['accept']]).toEqual([
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
      'AIza-test',
      'text/event-stream',
    ]);
    const fromEnv = geminiAdapter(
      'g',
      { type: 'gemini', baseUrl: 'http://127.0.0.1:9/', sandbox: false },
      { env: { GEMINI_API_KEY: 'env-key' }, now: Date.now },
    );
    const upstream = await fromEnv.buildRequest(call({}, { model: 'tunedModels/mine' }));
    expect([upstream.url, upstream.headers['x-goog-api-key']]).toEqual([
      'http://127.0.0.1:9/v1beta/tunedModels/mine:generateContent',
      'env-key',
    ]);

    const vertex = (location: string, model = 'gemini-2.5-pro') =>
      build(
        {},
        {
          model,
          config: {
            type: 'vertex',
            project: 'p1',
            location,
            accessToken: 'ya29.token',
            headers: { 'x-goog-user-project': 'billing' },
            sandbox: false,
          },
        },
      );
    const regional = await vertex('europe-west4');
    expect(regional.url).toBe(
      'https://europe-west4-aiplatform.googleapis.com/v1/projects/p1/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent',
    );
    expect([
      regional.headers['authorization'],
      regional.headers['x-goog-user-project'],
      regional.headers['x-goog-api-key'],
    ]).toEqual(['Bearer ya29.token', 'billing', undefined]);
    expect((await vertex('global')).url).toBe(
      'https://aiplatform.googleapis.com/v1/projects/p1/locations/global/publishers/google/models/gemini-2.5-pro:generateContent',
    );
    expect((await vertex('us')).url).toMatch(
      /^https:\/\/aiplatform\.us\.rep\.googleapis\.com\/v1\/projects\/p1\/locations\/us\//,
    );
    expect((await vertex('us-central1', 'endpoints/123')).url).toBe(
      'https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/us-central1/endpoints/123:generateContent',
    );
    expect(() =>
      geminiAdapter(
        'v',
        {
          type: 'vertex',
          project: 'p',
          location: 'global',
          credentials: '/sa.json',
          sandbox: false,
        },
        deps,
      ),
    ).toThrow(/credentials.*not supported/);
  });

  it('rejects embeddings calls', async () => {
    const adapter = geminiAdapter('g', GEMINI, deps);
    const error = await adapter
      .buildRequest({ ...call({}), operation: 'embeddings' })
      .catch((e: unknown) => e);
    expect((error as GatewayError).code).toBe('unsupported_parameter');
  });
});

describe('tool call ids carry thought signatures', () => {
  const where = { responseId: 'resp', candidate: 0, ordinal: 0, name: 'f', args: '{}' };

  it('round-trips base64 and non-base64 signatures and Gemini call ids', () => {
    for (const carrier of [
      { signature: Buffer.from([10, 36, 1, 250, 251, 252, 253, 254, 255, 0]).toString('base64') },
      { signature: 'not base64 at all ✓' },
      { signature: 'EjQKMgEB', geminiId: 'fc-7' },
      { geminiId: 'only-an-id' },
    ]) {
      const id = encodeToolCallId(carrier, where);
      expect(id).toMatch(/^call_sig_[A-Za-z0-9_-]+$/);
      expect(decodeToolCallId(id)).toEqual(carrier);
    }
  });

  it('mints stable hash ids when there is nothing to carry, and ignores foreign ids', () => {
    const id = encodeToolCallId({}, where);
    expect(id).toMatch(/^call_[0-9A-Za-z]{24}$/);
    expect(encodeToolCallId({}, where)).toBe(id);
    expect(encodeToolCallId({}, { ...where, ordinal: 1 })).not.toBe(id);
    for (const foreign of [id, 'toolu_01abc', 'call_sig_!!', 'call_sig_', 'call_sig_Bw'])
      expect(decodeToolCallId(foreign)).toEqual({});
  });
});
