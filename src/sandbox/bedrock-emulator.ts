import { createHash, randomUUID } from 'node:crypto';
import {
  createServer as createHttp1Server,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConverseContentBlock, ConverseRequest } from '../providers/bedrock/types.js';
import { encodeEventFrame, EVENT_STREAM_CONTENT_TYPE } from '../transport/aws-eventstream.js';
import { verifySigV4 } from '../transport/sigv4.js';
import { readBody, sendJson, writeWithBackpressure } from './http.js';
import { type EmulatedInput, type EmulatedOutput, emulate, tokenize } from './model.js';
import type { Emulator } from './openai-emulator.js';
import {
  buildCompletion,
  completionChunks,
  HttpError,
  parseChatRequest,
  parseJsonBody,
} from './openai-wire.js';
import { merged } from '../core/objects.js';

/** Options of {@link startBedrockEmulator}. */
export interface BedrockEmulatorOptions {
  /** Region the SigV4 credential scope must name. Default `us-east-1`. */
  region?: string;
  /** When set, requests must be SigV4-signed with these (service `bedrock`), or carry `apiKey`. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** When set, `Authorization: Bearer <apiKey>` (a Bedrock API key) is accepted. */
  apiKey?: string;
  /** Milliseconds between stream frames. Default 0. */
  tokenDelayMs?: number;
  /** Input-token limit; longer prompts get ValidationException "Input is too long...". Default none. */
  contextWindow?: number;
}

const ERROR_SUFFIX = ':http://internal.amazon.com/coral/com.amazon.bedrock/';

/** A Bedrock restJson1 error: status, `x-amzn-errortype` name and `{"message"}`. */
class BedrockHttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const validation = (message: string) => new BedrockHttpError(400, 'ValidationException', message);

/**
 * Starts an emulated Amazon Bedrock Runtime on loopback (../shared/protocols/bedrock.md),
 * answering with the deterministic model of ./model.ts:
 *
 * - `POST /model/{modelId}/converse` → Converse JSON; `/converse-stream` → an AWS event stream
 *   (messageStart, contentBlockStart for tool blocks only, contentBlockDelta, contentBlockStop,
 *   messageStop, metadata; every payload padded with `p` as real Bedrock does).
 * - `POST /openai/v1/chat/completions` (and `/v1/chat/completions`) → OpenAI Chat Completions.
 * - Auth: SigV4 verified with `credentials` (403 UnrecognizedClientException for an unknown key,
 *   InvalidSignatureException for a bad signature), or a Bedrock API key as Bearer. No
 *   credentials and no apiKey configured = no auth.
 * - HTTP/1.1 and HTTP/2 cleartext with prior knowledge (the AWS SDK's default handler) on one port.
 * - Errors in Bedrock's shape (`{"message"}` + `x-amzn-errortype`); while down, 503
 *   ServiceUnavailableException. A prompt containing "think" gets a signed reasoning block; a
 *   reasoning block sent back with a wrong signature is a ValidationException.
 *
 * @example
 * const emulator = await startBedrockEmulator({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
 * const client = new BedrockRuntimeClient({ endpoint: emulator.url, region: 'us-east-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
 */
export async function startBedrockEmulator(
  options: BedrockEmulatorOptions = {},
): Promise<Emulator> {
  let down = false;
  let tokenDelayMs = options.tokenDelayMs ?? 0;
  let requests = 0;

  async function authorize(
    request: IncomingMessage,
    path: string,
    query: string,
    body: string,
  ): Promise<void> {
    const { credentials, apiKey } = options;
    if (!credentials && apiKey === undefined) return;
    const header = request.headers.authorization ?? '';
    if (header.startsWith('Bearer ')) {
      if (apiKey !== undefined && header.slice(7) === apiKey) return;
      throw new BedrockHttpError(
        403,
        'UnrecognizedClientException',
        'Invalid API Key format: Must start with pre-defined prefix',
      );
    }
    if (!header)
      throw new BedrockHttpError(
        403,
        'MissingAuthenticationTokenException',
        'Missing Authentication Token',
      );
    if (!credentials)
      throw new BedrockHttpError(
        403,
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    const result = await verifySigV4(
      { method: request.method ?? 'POST', path, query, headers: request.headers, body },
      async (id) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined),
    );
    if (result.ok && result.region !== (options.region ?? 'us-east-1')) {
      throw new BedrockHttpError(
        403,
        'InvalidSignatureException',
        `Credential should be scoped to a valid region, not '${result.region}'.`,
      );
    }
    if (result.ok) return;
    if (result.reason === 'unknown_key')
      throw new BedrockHttpError(403, 'UnrecognizedClientException', result.message);
    if (result.reason === 'missing')
      throw new BedrockHttpError(403, 'MissingAuthenticationTokenException', result.message);
    throw new BedrockHttpError(
      403,
      result.reason === 'malformed' ? 'IncompleteSignatureException' : 'InvalidSignatureException',
      result.message,
    );
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    requests++;
    const headers: Record<string, string> = { 'x-amzn-requestid': randomUUID() };
    const raw = request.url ?? '/';
    const [path = '/', query = ''] = raw.split('?', 2);
    const openAIPath =
      request.method === 'POST' &&
      (path === '/openai/v1/chat/completions' || path === '/v1/chat/completions');
    try {
      const body = await readBody(request);
      if (down)
        throw new BedrockHttpError(
          503,
          'ServiceUnavailableException',
          'Bedrock is unable to process your request.',
        );
      const converse = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(path);
      if (request.method !== 'POST' || (!converse && !openAIPath)) {
        throw new BedrockHttpError(
          404,
          'UnknownOperationException',
          `Unknown operation ${request.method ?? ''} ${path}`,
        );
      }
      await authorize(request, path, query, body);
      if (openAIPath) return await openAIChat(body, headers, response);
      const modelId = decodeURIComponent(converse![1]!);
      const input = toEmulatedInput(parseJson(body));
      const output = emulate(input, { modelName: modelId });
      const limit = options.contextWindow;
      if (limit !== undefined && output.usage.inputTokens > limit)
        throw validation('Input is too long for requested model.');
      if (converse![2] === 'converse') sendJson(response, 200, converseResponse(output), headers);
      else await stream(output, headers, response);
    } catch (error) {
      if (response.headersSent) return void response.destroy();
      if (error instanceof HttpError)
        return sendJson(response, error.status, error.body, merged(headers, error.headers));
      const failure =
        error instanceof BedrockHttpError
          ? error
          : new BedrockHttpError(
              500,
              'InternalServerException',
              `Emulator failure: ${String(error)}`,
            );
      sendJson(
        response,
        failure.status,
        { message: failure.message },
        merged(headers, { 'x-amzn-errortype': `${failure.type}${ERROR_SUFFIX}` }),
      );
    }
  }

  async function stream(
    output: EmulatedOutput,
    headers: Record<string, string>,
    response: ServerResponse,
  ): Promise<void> {
    response.writeHead(200, merged(headers, { 'content-type': EVENT_STREAM_CONTENT_TYPE }));
    response.flushHeaders();
    for (const [i, [event, payload]] of streamEvents(output).entries()) {
      if (i > 0 && tokenDelayMs > 0) await sleep(tokenDelayMs);
      if (
        !(await writeWithBackpressure(
          response,
          encodeEventFrame(event, merged(payload, { p: padding(i) })),
        ))
      )
        return;
    }
    response.end();
  }

  async function openAIChat(
    text: string,
    headers: Record<string, string>,
    response: ServerResponse,
  ): Promise<void> {
    const { request, input } = parseChatRequest(parseJsonBody(text), { requireModel: true });
    const output = emulate(input, { modelName: request.model });
    const meta = {
      id: `chatcmpl-${randomUUID()}`,
      model: request.model,
      created: Math.floor(Date.now() / 1000),
    };
    if (request.stream !== true)
      return sendJson(response, 200, buildCompletion(meta, output), headers);
    response.writeHead(
      200,
      merged(headers, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
      }),
    );
    response.flushHeaders();
    const includeUsage = request.stream_options?.include_usage === true;
    for (const [i, chunk] of [
      ...completionChunks(meta, output, { includeUsage, tokenize }),
    ].entries()) {
      if (i > 0 && tokenDelayMs > 0) await sleep(tokenDelayMs);
      if (!(await writeWithBackpressure(response, `data: ${JSON.stringify(chunk)}\n\n`))) return;
    }
    if (await writeWithBackpressure(response, 'data: [DONE]\n\n')) response.end();
  }

  const server = await listenH1AndH2c((request, response) => void handle(request, response));
  return {
    url: server.url,
    port: server.port,
    flavor: 'bedrock',
    setDown: (value) => void (down = value),
    isDown: () => down,
    setTokenDelay: (ms) => void (tokenDelayMs = ms),
    get requests() {
      return requests;
    },
    set requests(value: number) {
      requests = value;
    },
    close: () => server.close(),
  };
}

const H2_PREFACE = 'PRI * HTTP/2.0';

/** Listens on loopback with HTTP/1.1 and h2c (prior knowledge) on one port: the first bytes pick the parser. */
async function listenH1AndH2c(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
) {
  const http1 = createHttp1Server(handler);
  const http2 = createHttp2Server({}, handler as never);
  const sockets = new Set<Socket>();
  const net = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('readable', () => {
      const head: Buffer | null = socket.read();
      if (head) socket.unshift(head);
      (head?.toString('latin1', 0, H2_PREFACE.length) === H2_PREFACE ? http2 : http1).emit(
        'connection',
        socket,
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = net.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        net.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** The signature the emulator puts on (and expects back with) a reasoning block. */
export function reasoningSignature(text: string): string {
  return createHash('sha256').update(`bedrock-sandbox-reasoning\n${text}`).digest('base64');
}

function parseJson(text: string): ConverseRequest {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value))
      return value as ConverseRequest;
  } catch {
    // fall through
  }
  throw validation('Malformed input request, please reformat your input and try again.');
}

/** Validates a Converse request the way Bedrock does (the rules that matter) and builds the model input. */
function toEmulatedInput(request: ConverseRequest): EmulatedInput {
  const { messages, system, toolConfig, inferenceConfig, outputConfig } = request;
  if (!Array.isArray(messages) || messages.length === 0)
    throw validation(
      'A conversation must start with a user message. Try again with a conversation that starts with a user message.',
    );
  const input: EmulatedInput = { messages: [], tools: [], images: 0 };
  const systemText = (system ?? [])
    .flatMap((b) => (typeof b.text === 'string' ? [b.text] : []))
    .join('\n');
  if (systemText) input.messages.push({ role: 'system', text: systemText });
  let usesTools = false;
  messages.forEach((message, i) => {
    if (message.role !== (i % 2 === 0 ? 'user' : 'assistant')) {
      throw validation(
        'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.',
      );
    }
    if (!Array.isArray(message.content) || message.content.length === 0) {
      throw validation(
        `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`,
      );
    }
    const texts: string[] = [];
    const toolCalls: NonNullable<EmulatedInput['messages'][number]['toolCalls']> = [];
    for (const block of message.content) {
      checkBlock(block, message.role, i);
      if (typeof block.text === 'string') texts.push(block.text);
      if (block.image) input.images! += 1;
      if (block.toolUse)
        toolCalls.push({
          id: block.toolUse.toolUseId,
          name: block.toolUse.name,
          arguments: JSON.stringify(block.toolUse.input ?? {}),
        });
      if (block.toolResult) {
        const text = block.toolResult.content
          .map((c) =>
            typeof c.text === 'string'
              ? c.text
              : c.json !== undefined
                ? JSON.stringify(c.json)
                : '',
          )
          .join('\n');
        input.messages.push({ role: 'tool', text, toolCallId: block.toolResult.toolUseId });
      }
      usesTools ||= block.toolUse !== undefined || block.toolResult !== undefined;
    }
    if (message.role === 'assistant')
      input.messages.push({
        role: 'assistant',
        text: texts.join('\n'),
        ...(toolCalls.length > 0 ? { toolCalls } : {}),
      });
    else if (texts.length > 0) input.messages.push({ role: 'user', text: texts.join('\n') });
  });
  if (messages.at(-1)?.role !== 'user')
    throw validation(
      'A conversation must end with a user message. Try again with a conversation that ends with a user message.',
    );
  if (usesTools && !toolConfig)
    throw validation(
      'The toolConfig field must be defined when using toolUse and toolResult content blocks.',
    );
  for (const tool of toolConfig?.tools ?? []) {
    if (!tool.toolSpec) continue;
    const { name, description, inputSchema } = tool.toolSpec;
    input.tools.push({
      name,
      ...(description ? { description } : {}),
      ...(isRecord(inputSchema?.json) ? { parameters: inputSchema.json } : {}),
    });
  }
  const choice = toolConfig?.toolChoice;
  if (choice && 'any' in choice) input.toolChoice = 'required';
  else if (choice && 'tool' in choice) input.toolChoice = { name: choice.tool.name };
  if (inferenceConfig?.maxTokens !== undefined) input.maxTokens = inferenceConfig.maxTokens;
  if (inferenceConfig?.stopSequences) input.stop = inferenceConfig.stopSequences;
  const schema = outputConfig?.textFormat?.structure?.jsonSchema?.schema;
  if (typeof schema === 'string') {
    try {
      input.jsonSchema = JSON.parse(schema) as Record<string, unknown>;
    } catch {
      throw validation('The provided JSON schema in outputConfig is not valid JSON.');
    }
  }
  return input;
}

function checkBlock(block: ConverseContentBlock, role: string, index: number): void {
  const members = Object.keys(block).filter((key) => block[key] !== undefined);
  if (members.length !== 1)
    throw validation(`ContentBlock at messages.${index} must set exactly one member.`);
  if (typeof block.text === 'string' && block.text.trim() === '')
    throw validation(
      `The text field in the ContentBlock object at messages.${index} is blank. Add text to the text field, and try again.`,
    );
  if (block.toolResult && role !== 'user')
    throw validation('toolResult blocks are allowed in user messages only.');
  if ((block.toolUse || block.reasoningContent) && role !== 'assistant')
    throw validation(
      `${block.toolUse ? 'toolUse' : 'reasoningContent'} blocks are allowed in assistant messages only.`,
    );
  const reasoning = block.reasoningContent?.reasoningText;
  if (reasoning && reasoning.signature !== reasoningSignature(reasoning.text)) {
    throw validation(`messages.${index}: the signature of the reasoning block is invalid.`);
  }
}

const STOP_REASONS: Record<EmulatedOutput['finishReason'], string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
};

function toolUseId(id: string): string {
  return `tooluse_${id.replace(/^call_/, '')}`;
}

function usageOf(output: EmulatedOutput): Record<string, number> {
  const { inputTokens, cachedInputTokens, outputTokens } = output.usage;
  // Bedrock's inputTokens excludes cache reads (bedrock.md §4).
  const usage: Record<string, number> = {
    inputTokens: inputTokens - cachedInputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
  };
  if (cachedInputTokens > 0)
    Object.assign(usage, { cacheReadInputTokens: cachedInputTokens, cacheWriteInputTokens: 0 });
  return usage;
}

function converseResponse(output: EmulatedOutput): Record<string, unknown> {
  const content: ConverseContentBlock[] = [];
  if (output.reasoning !== undefined)
    content.push({
      reasoningContent: {
        reasoningText: { text: output.reasoning, signature: reasoningSignature(output.reasoning) },
      },
    });
  if (output.text !== '' || output.toolCalls.length === 0) content.push({ text: output.text });
  for (const call of output.toolCalls)
    content.push({
      toolUse: {
        toolUseId: toolUseId(call.id),
        name: call.name,
        input: JSON.parse(call.arguments) as unknown,
      },
    });
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: STOP_REASONS[output.finishReason],
    usage: usageOf(output),
    metrics: { latencyMs: 1 },
  };
}

/** The ConverseStream events of an answer, in wire order. */
function streamEvents(output: EmulatedOutput): Array<[string, Record<string, unknown>]> {
  const events: Array<[string, Record<string, unknown>]> = [
    ['messageStart', { role: 'assistant' }],
  ];
  let index = 0;
  if (output.reasoning !== undefined) {
    for (const piece of tokenize(output.reasoning))
      events.push([
        'contentBlockDelta',
        { contentBlockIndex: index, delta: { reasoningContent: { text: piece } } },
      ]);
    events.push([
      'contentBlockDelta',
      {
        contentBlockIndex: index,
        delta: { reasoningContent: { signature: reasoningSignature(output.reasoning) } },
      },
    ]);
    events.push(['contentBlockStop', { contentBlockIndex: index++ }]);
  }
  if (output.text !== '') {
    // Real Bedrock sends no contentBlockStart for text blocks (bedrock.md §5).
    for (const piece of tokenize(output.text))
      events.push(['contentBlockDelta', { contentBlockIndex: index, delta: { text: piece } }]);
    events.push(['contentBlockStop', { contentBlockIndex: index++ }]);
  }
  for (const call of output.toolCalls) {
    events.push([
      'contentBlockStart',
      {
        contentBlockIndex: index,
        start: { toolUse: { toolUseId: toolUseId(call.id), name: call.name } },
      },
    ]);
    for (const piece of tokenize(call.arguments))
      events.push([
        'contentBlockDelta',
        { contentBlockIndex: index, delta: { toolUse: { input: piece } } },
      ]);
    events.push(['contentBlockStop', { contentBlockIndex: index++ }]);
  }
  events.push(['messageStop', { stopReason: STOP_REASONS[output.finishReason] }]);
  events.push(['metadata', { usage: usageOf(output), metrics: { latencyMs: 1 } }]);
  return events;
}

/** The side-channel padding real Bedrock adds to every event payload. */
function padding(i: number): string {
  return 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123'.slice(0, 8 + (i % 40));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
