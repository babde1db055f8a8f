import Anthropic from '@anthropic-ai/sdk';
import {
  BedrockRuntimeClient,
  type ContentBlock,
  ConverseCommand,
  ConverseStreamCommand,
  type Message,
  type ToolConfiguration,
} from '@aws-sdk/client-bedrock-runtime';
import OpenAI from 'openai';

/**
 * One driver per Switchyard surface, each speaking through the real SDK of that protocol and
 * reading answers through the SDK's own types: OpenAI chat (`openai`), Anthropic messages
 * (`@anthropic-ai/sdk`) and Bedrock Converse (`@aws-sdk/client-bedrock-runtime`, SigV4 with
 * access key id `master` and the master key as secret).
 */

/** Surfaces of the matrix, in report order. */
export const SURFACES = ['openai-chat', 'anthropic-messages', 'bedrock-converse'] as const;
export type SurfaceName = (typeof SURFACES)[number];

/** A tool call as a client sees it. */
export interface SeenToolCall {
  id: string;
  name: string;
  /** Arguments, parsed. */
  input: unknown;
}

/** One answer as a client sees it. */
export interface Turn {
  text: string;
  /** Text deltas received: 1 for a whole answer. */
  pieces: number;
  toolCalls: SeenToolCall[];
  outputTokens: number;
}

/** Drives one surface. */
export interface SurfaceDriver {
  /** One user message, answered as text. */
  ask(model: string, prompt: string, stream: boolean): Promise<Turn>;
  /**
   * A tool round trip: turn 1 (`firstModel`) offers `get_weather` and should get a call; turn 2
   * (`secondModel`, default the same) replays the call and sends `result` under the same id.
   */
  roundTrip(options: {
    firstModel: string;
    secondModel?: string;
    prompt: string;
    result: string;
    stream: boolean;
  }): Promise<{ first: Turn; second: Turn }>;
  close(): void;
}

export const WEATHER = {
  name: 'get_weather',
  description: 'Current weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
} as const;

/** Creates the driver for `surface` against the Switchyard at `url`. */
export function driverFor(surface: SurfaceName, url: string, masterKey: string): SurfaceDriver {
  if (surface === 'openai-chat')
    return openAIDriver(new OpenAI({ baseURL: `${url}/v1`, apiKey: masterKey, maxRetries: 0 }));
  if (surface === 'anthropic-messages')
    return anthropicDriver(new Anthropic({ baseURL: url, apiKey: masterKey, maxRetries: 0 }));
  return bedrockDriver(
    new BedrockRuntimeClient({
      endpoint: url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'master', secretAccessKey: masterKey },
      maxAttempts: 1,
    }),
  );
}

function openAIDriver(client: OpenAI): SurfaceDriver {
  const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: 'function', function: { ...WEATHER } }];
  const complete = async (
    params: Omit<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, 'stream'>,
    stream: boolean,
  ) => {
    let completion: OpenAI.Chat.ChatCompletion;
    let pieces = 1;
    if (stream) {
      const runner = client.chat.completions.stream({
        ...params,
        stream_options: { include_usage: true },
      });
      pieces = 0;
      runner.on('content', () => void pieces++);
      completion = await runner.finalChatCompletion();
    } else completion = await client.chat.completions.create(params);
    const message = completion.choices[0]!.message;
    const toolCalls = (message.tool_calls ?? []).flatMap((call): SeenToolCall[] =>
      call.type === 'function'
        ? [
            {
              id: call.id,
              name: call.function.name,
              input: JSON.parse(call.function.arguments) as unknown,
            },
          ]
        : [],
    );
    const turn: Turn = {
      text: message.content ?? '',
      pieces,
      toolCalls,
      outputTokens: completion.usage?.completion_tokens ?? 0,
    };
    return { turn, message };
  };
  return {
    async ask(model, prompt, stream) {
      return (await complete({ model, messages: [{ role: 'user', content: prompt }] }, stream))
        .turn;
    },
    async roundTrip({ firstModel, secondModel = firstModel, prompt, result, stream }) {
      const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
        { role: 'user', content: prompt },
      ];
      const first = await complete({ model: firstModel, messages, tools }, stream);
      const call = first.turn.toolCalls[0];
      if (!call) return { first: first.turn, second: first.turn };
      messages.push(
        {
          role: 'assistant',
          content: first.message.content,
          ...(first.message.tool_calls ? { tool_calls: first.message.tool_calls } : {}),
        },
        { role: 'tool', tool_call_id: call.id, content: result },
      );
      const second = await complete({ model: secondModel, messages, tools }, stream);
      return { first: first.turn, second: second.turn };
    },
    close() {},
  };
}

function anthropicDriver(client: Anthropic): SurfaceDriver {
  const tools: Anthropic.Tool[] = [
    {
      name: WEATHER.name,
      description: WEATHER.description,
      input_schema: { ...WEATHER.parameters, required: [...WEATHER.parameters.required] },
    },
  ];
  const complete = async (params: Anthropic.MessageCreateParamsNonStreaming, stream: boolean) => {
    let message: Anthropic.Message;
    let pieces = 1;
    if (stream) {
      const runner = client.messages.stream(params);
      pieces = 0;
      runner.on('text', () => void pieces++);
      message = await runner.finalMessage();
    } else message = await client.messages.create(params);
    const text = message.content
      .flatMap((block) => (block.type === 'text' ? [block.text] : []))
      .join('');
    const toolCalls = message.content.flatMap((block): SeenToolCall[] =>
      block.type === 'tool_use' ? [{ id: block.id, name: block.name, input: block.input }] : [],
    );
    const turn: Turn = { text, pieces, toolCalls, outputTokens: message.usage.output_tokens };
    return { turn, message };
  };
  return {
    async ask(model, prompt, stream) {
      return (
        await complete(
          { model, max_tokens: 300, messages: [{ role: 'user', content: prompt }] },
          stream,
        )
      ).turn;
    },
    async roundTrip({ firstModel, secondModel = firstModel, prompt, result, stream }) {
      const messages: Anthropic.MessageParam[] = [{ role: 'user', content: prompt }];
      const first = await complete({ model: firstModel, max_tokens: 300, tools, messages }, stream);
      const call = first.turn.toolCalls[0];
      if (!call) return { first: first.turn, second: first.turn };
      messages.push(
        { role: 'assistant', content: first.message.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: result }] },
      );
      const second = await complete(
        { model: secondModel, max_tokens: 300, tools, messages },
        stream,
      );
      return { first: first.turn, second: second.turn };
    },
    close() {},
  };
}

function bedrockDriver(client: BedrockRuntimeClient): SurfaceDriver {
  const toolConfig: ToolConfiguration = {
    tools: [
      {
        toolSpec: {
          name: WEATHER.name,
          description: WEATHER.description,
          inputSchema: {
            json: { ...WEATHER.parameters, required: [...WEATHER.parameters.required] },
          },
        },
      },
    ],
  };
  const complete = async (
    modelId: string,
    messages: Message[],
    tools: ToolConfiguration | undefined,
    stream: boolean,
  ): Promise<{ turn: Turn; message: Message }> => {
    if (!stream) {
      const answer = await client.send(
        new ConverseCommand({ modelId, messages, toolConfig: tools }),
      );
      const message = answer.output?.message ?? { role: 'assistant', content: [] };
      return { turn: turnOf(message.content ?? [], 1, answer.usage?.outputTokens ?? 0), message };
    }
    const answer = await client.send(
      new ConverseStreamCommand({ modelId, messages, toolConfig: tools }),
    );
    // Rebuild the assistant message from the events, block by block, as a client replaying it must.
    const blocks = new Map<
      number,
      { text: string } | { toolUseId: string; name: string; input: string }
    >();
    let pieces = 0;
    let outputTokens = 0;
    for await (const event of answer.stream!) {
      const start = event.contentBlockStart;
      if (start?.start?.toolUse)
        blocks.set(start.contentBlockIndex!, {
          toolUseId: start.start.toolUse.toolUseId!,
          name: start.start.toolUse.name!,
          input: '',
        });
      const delta = event.contentBlockDelta;
      if (delta?.delta?.text !== undefined) {
        const block = blocks.get(delta.contentBlockIndex!) ?? { text: '' };
        if ('text' in block) block.text += delta.delta.text;
        blocks.set(delta.contentBlockIndex!, block);
        pieces++;
      }
      const block = delta ? blocks.get(delta.contentBlockIndex!) : undefined;
      if (delta?.delta?.toolUse?.input !== undefined && block && 'input' in block)
        block.input += delta.delta.toolUse.input;
      if (event.metadata?.usage) outputTokens = event.metadata.usage.outputTokens ?? 0;
    }
    const content = [...blocks.entries()]
      .sort(([a], [b]) => a - b)
      .map(
        ([, block]): ContentBlock =>
          'text' in block
            ? { text: block.text }
            : {
                toolUse: {
                  toolUseId: block.toolUseId,
                  name: block.name,
                  input: JSON.parse(block.input || '{}'),
                },
              },
      );
    return { turn: turnOf(content, pieces, outputTokens), message: { role: 'assistant', content } };
  };
  return {
    async ask(modelId, prompt, stream) {
      return (
        await complete(modelId, [{ role: 'user', content: [{ text: prompt }] }], undefined, stream)
      ).turn;
    },
    async roundTrip({ firstModel, secondModel = firstModel, prompt, result, stream }) {
      const messages: Message[] = [{ role: 'user', content: [{ text: prompt }] }];
      const first = await complete(firstModel, messages, toolConfig, stream);
      const call = first.turn.toolCalls[0];
      if (!call) return { first: first.turn, second: first.turn };
      messages.push(first.message, {
        role: 'user',
        content: [{ toolResult: { toolUseId: call.id, content: [{ text: result }] } }],
      });
      const second = await complete(secondModel, messages, toolConfig, stream);
      return { first: first.turn, second: second.turn };
    },
    close() {
      client.destroy();
    },
  };
}

function turnOf(content: ContentBlock[], pieces: number, outputTokens: number): Turn {
  const text = content.flatMap((block) => (block.text !== undefined ? [block.text] : [])).join('');
  const toolCalls = content.flatMap((block): SeenToolCall[] =>
    block.toolUse
      ? [
          {
            id: block.toolUse.toolUseId ?? '',
            name: block.toolUse.name ?? '',
            input: block.toolUse.input,
          },
        ]
      : [],
  );
  return { text, pieces, toolCalls, outputTokens };
}
