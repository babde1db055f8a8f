import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk } from '../../src/core/chat.js';
import type { GatewayError } from '../../src/errors/index.js';
import type { GatewayCall } from '../../src/providers/adapter.js';
import { geminiAdapter } from '../../src/providers/gemini/index.js';
import { decodeToolCallId } from '../../src/providers/gemini/signatures.js';
import { decodeSse } from '../../src/transport/sse.js';

const adapter = geminiAdapter(
  'gem',
  { type: 'gemini', apiKey: 'k', sandbox: false },
  { env: {}, now: () => 1_700_000_000_000 },
);
const call: GatewayCall = {
  requestId: 'req_1',
  operation: 'chat',
  body: { model: 'logical', messages: [{ role: 'user', content: 'Hi' }] },
  stream: true,
  deployment: { provider: 'gem', model: 'gemini-3-flash-preview' },
  signal: new AbortController().signal,
};

async function* bytes(text: string): AsyncGenerator<Uint8Array> {
  // Split mid-event and mid-character to exercise the decoder's carried buffer.
  const buffer = Buffer.from(text);
  for (let i = 0; i < buffer.length; i += 7) yield buffer.subarray(i, i + 7);
}

async function stream(events: unknown[], separator = '\r\n\r\n'): Promise<ChatCompletionChunk[]> {
  const text = events
    .map(
      (event) => `data: ${typeof event === 'string' ? event : JSON.stringify(event)}${separator}`,
    )
    .join('');
  const chunks: ChatCompletionChunk[] = [];
  for await (const item of adapter.mapStream(decodeSse(bytes(text)), call))
    chunks.push(item.chunk());
  return chunks;
}

const usage = {
  promptTokenCount: 12,
  cachedContentTokenCount: 4,
  candidatesTokenCount: 30,
  thoughtsTokenCount: 100,
  totalTokenCount: 142,
};

describe('gemini response mapping', () => {
  it('maps text, thoughts, function calls, signatures and usage', () => {
    const completion = adapter.parseResponse(
      {
        candidates: [
          {
            index: 0,
            finishReason: 'STOP',
            content: {
              role: 'model',
              parts: [
                { text: 'Planning…', thought: true },
                { text: 'Checking ' },
                { text: 'both.' },
                {
                  functionCall: { name: 'get_weather', args: { city: 'Paris' } },
                  thoughtSignature: 'c2lnMQ==',
                },
                { functionCall: { name: 'get_weather', args: { city: 'Rome' }, id: 'fc-2' } },
              ],
            },
          },
        ],
        usageMetadata: usage,
        modelVersion: 'gemini-3-flash-preview-001',
        responseId: 'resp-1',
      },
      call,
    );
    const [first, second] = completion.choices[0]!.message.tool_calls!;
    expect(decodeToolCallId(first!.id)).toEqual({ signature: 'c2lnMQ==' });
    expect(decodeToolCallId(second!.id)).toEqual({ geminiId: 'fc-2' });
    expect({
      ...completion,
      choices: [
        {
          ...completion.choices[0],
          message: { ...completion.choices[0]!.message, tool_calls: '…' },
        },
      ],
    }).toMatchInlineSnapshot(`
      {
        "choices": [
          {
            "finish_reason": "tool_calls",
            "index": 0,
            "logprobs": null,
            "message": {
              "content": "Checking both.",
              "reasoning_content": "Planning…",
              "role": "assistant",
              "tool_calls": "…",
            },
          },
        ],
        "created": 1700000000,
        "id": "chatcmpl-resp-1",
        "model": "gemini-3-flash-preview-001",
        "object": "chat.completion",
        "usage": {
          "completion_tokens": 130,
          "completion_tokens_details": {
            "reasoning_tokens": 100,
          },
          "prompt_tokens": 12,
          "prompt_tokens_details": {
            "cached_tokens": 4,
          },
          "total_tokens": 142,
        },
      }
    `);
    expect(first!.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
  });

  it('maps finish reasons and keeps a text signature as a gemini-tagged reasoning_signature', () => {
    const finish = (finishReason: string) =>
      adapter.parseResponse(
        {
          candidates: [
            { finishReason, content: { parts: [{ text: 'x', thoughtSignature: 'dA==' }] } },
          ],
        },
        call,
      ).choices[0]!;
    expect(finish('STOP').message.reasoning_signature).toBe('gemini:dA==');
    expect(
      [
        'STOP',
        'MAX_TOKENS',
        'SAFETY',
        'PROHIBITED_CONTENT',
        'BLOCKLIST',
        'SPII',
        'RECITATION',
        'OTHER',
        'MALFORMED_FUNCTION_CALL',
      ].map((r) => finish(r).finish_reason),
    ).toEqual([
      'stop',
      'length',
      'content_filter',
      'content_filter',
      'content_filter',
      'content_filter',
      'content_filter',
      'stop',
      'stop',
    ]);
    const two = adapter.parseResponse(
      {
        candidates: [
          { index: 0, content: { parts: [{ text: 'a' }] }, finishReason: 'STOP' },
          { index: 1, content: { parts: [{ text: 'b' }] }, finishReason: 'MAX_TOKENS' },
        ],
      },
      call,
    );
    expect(two.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'a', 'stop'],
      [1, 'b', 'length'],
    ]);
  });

  it('turns a blocked prompt (HTTP 200, no candidates) into a content_filter error', () => {
    const error = (() => {
      try {
        adapter.parseResponse(
          { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: usage },
          call,
        );
      } catch (e) {
        return e as GatewayError;
      }
      return undefined;
    })();
    expect([
      error?.code,
      error?.errorClass,
      error?.status,
      error?.retryable,
      error?.failover,
    ]).toEqual(['content_filter', 'content_policy', 400, false, false]);
  });
});

describe('gemini stream mapping', () => {
  it('emits role first, whole tool calls, a finish chunk and a usage-only chunk last', async () => {
    const chunks = await stream([
      {
        candidates: [
          {
            index: 0,
            content: { role: 'model', parts: [{ text: 'Thinking hard', thought: true }] },
          },
        ],
        usageMetadata: { promptTokenCount: 12 },
        responseId: 'r-9',
        modelVersion: 'gemini-3-flash-preview',
      },
      {
        candidates: [{ index: 0, content: { role: 'model', parts: [{ text: 'Héllo ' }] } }],
        responseId: 'r-9',
      },
      {
        candidates: [
          {
            index: 0,
            content: {
              role: 'model',
              parts: [
                { functionCall: { name: 'lookup', args: { q: 'ü' } }, thoughtSignature: 'U0lH' },
              ],
            },
          },
        ],
        responseId: 'r-9',
      },
      {
        candidates: [
          {
            index: 0,
            content: {
              role: 'model',
              parts: [{ functionCall: { name: 'lookup', args: { q: 'v' } } }],
            },
            finishReason: 'STOP',
          },
        ],
        usageMetadata: usage,
        responseId: 'r-9',
      },
    ]);
    expect(
      chunks.map((c) => [
        c.choices[0]?.delta ?? null,
        c.choices[0]?.finish_reason ?? null,
        c.usage ?? null,
      ]),
    ).toMatchInlineSnapshot(`
      [
        [
          {
            "content": "",
            "role": "assistant",
          },
          null,
          null,
        ],
        [
          {
            "reasoning_content": "Thinking hard",
          },
          null,
          null,
        ],
        [
          {
            "content": "Héllo ",
          },
          null,
          null,
        ],
        [
          {
            "tool_calls": [
              {
                "function": {
                  "arguments": "{"q":"ü"}",
                  "name": "lookup",
                },
                "id": "call_sig_AlNJRw",
                "index": 0,
                "type": "function",
              },
            ],
          },
          null,
          null,
        ],
        [
          {
            "tool_calls": [
              {
                "function": {
                  "arguments": "{"q":"v"}",
                  "name": "lookup",
                },
                "id": "call_Ne0njRg2qS5xUvCGFxf2EaCJ",
                "index": 1,
                "type": "function",
              },
            ],
          },
          null,
          null,
        ],
        [
          {},
          "tool_calls",
          null,
        ],
        [
          null,
          null,
          {
            "completion_tokens": 130,
            "completion_tokens_details": {
              "reasoning_tokens": 100,
            },
            "prompt_tokens": 12,
            "prompt_tokens_details": {
              "cached_tokens": 4,
            },
            "total_tokens": 142,
          },
        ],
      ]
    `);
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['chatcmpl-r-9']));
    expect(chunks.at(-1)!.choices).toEqual([]);
  });

  it('gives the same tool call ids streamed and whole', async () => {
    const response = {
      candidates: [
        {
          index: 0,
          finishReason: 'STOP',
          content: {
            parts: [
              { functionCall: { name: 'a', args: {} } },
              { functionCall: { name: 'a', args: {} } },
            ],
          },
        },
      ],
      responseId: 'same',
    };
    const whole = adapter
      .parseResponse(response, call)
      .choices[0]!.message.tool_calls!.map((c) => c.id);
    const streamed = (await stream([response], '\n\n'))
      .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
      .map((c) => c.id);
    expect(streamed).toEqual(whole);
    expect(new Set(whole).size).toBe(2);
  });

  it('carries a closing text signature as reasoning_signature', async () => {
    const chunks = await stream([
      { candidates: [{ content: { parts: [{ text: 'Hi' }] } }] },
      {
        candidates: [
          { content: { parts: [{ text: '', thoughtSignature: 'c2ln' }] }, finishReason: 'STOP' },
        ],
        usageMetadata: usage,
      },
    ]);
    expect(chunks.map((c) => c.choices[0]?.delta.reasoning_signature).filter(Boolean)).toEqual([
      'gemini:c2ln',
    ]);
    expect(chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(['stop']);
  });

  it('throws for in-stream errors, blocked prompts, bad JSON and streams cut before finishReason', async () => {
    const failure = (events: unknown[]) =>
      stream(events).then(
        () => undefined,
        (e: unknown) => e as GatewayError,
      );
    const overloaded = await failure([
      { candidates: [{ content: { parts: [{ text: 'a' }] } }] },
      { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } },
    ]);
    expect([overloaded?.code, overloaded?.errorClass]).toEqual([
      'upstream_overloaded',
      'overloaded',
    ]);
    const blocked = await failure([{ promptFeedback: { blockReason: 'SAFETY' } }]);
    expect(blocked?.code).toBe('content_filter');
    expect((await failure(['{not json']))?.code).toBe('upstream_bad_response');
    const cut = await failure([{ candidates: [{ content: { parts: [{ text: 'partial' }] } }] }]);
    expect([cut?.code, cut?.errorClass, cut?.retryable]).toEqual([
      'upstream_bad_response',
      'bad_response',
      true,
    ]);
    expect((await failure([]))?.code).toBe('upstream_bad_response');
  });
});
