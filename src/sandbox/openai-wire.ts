import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatContentPart,
  ChatDelta,
  ChatMessage,
  ChatRequest,
  ChatUsage,
} from '../core/chat.js';
import type { EmulatedInput, EmulatedOutput } from './model.js';
import { isRecord } from '../core/objects.js';

/**
 * OpenAI Chat Completions wire format for the sandbox emulators: request validation (answering
 * in OpenAI's error shape), OpenAI request → {@link EmulatedInput}, and
 * {@link EmulatedOutput} → `chat.completion` / `chat.completion.chunk` objects.
 * Field shapes follow the OpenAI OpenAPI spec (../shared/specs/openai-openapi.yaml).
 */

/** An HTTP error answer: status plus the JSON body to send. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

/** An OpenAI-shaped error `{error:{message,type,param,code}}`. */
export function openAIError(
  status: number,
  message: string,
  options: { type?: string; param?: string | null; code?: string | null } = {},
): HttpError {
  const type = options.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
  return new HttpError(status, {
    error: { message, type, param: options.param ?? null, code: options.code ?? null },
  });
}

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

/** Parses JSON text, answering 400 like OpenAI does on a body that is not JSON. */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw openAIError(
      400,
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    );
  }
}

/**
 * Validates a chat request and builds the emulated model's input. `model` is required unless
 * the caller supplies it (Azure classic takes the deployment from the URL). Throws
 * {@link HttpError} 400 with OpenAI's messages and codes (`missing_required_parameter`,
 * `invalid_type`, `invalid_value`, `empty_array`, `integer_below_min_value`).
 * Text of array content is the text parts joined with '\n'; `image_url` parts are counted.
 */
export function parseChatRequest(
  body: unknown,
  options: { requireModel: boolean },
): { request: ChatRequest; input: EmulatedInput } {
  if (!isRecord(body)) throw invalidType('body', 'an object', body);
  if (options.requireModel && (typeof body['model'] !== 'string' || body['model'] === '')) {
    throw openAIError(400, 'you must provide a model parameter');
  }
  const messages = body['messages'];
  if (messages === undefined) throw missing('messages');
  if (!Array.isArray(messages)) throw invalidType('messages', 'an array of objects', messages);
  if (messages.length === 0) {
    throw openAIError(
      400,
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      { param: 'messages', code: 'empty_array' },
    );
  }
  let images = 0;
  const parsed = messages.map((raw: unknown, i): EmulatedInput['messages'][number] => {
    const at = `messages[${i}]`;
    if (!isRecord(raw)) throw invalidType(at, 'an object', raw);
    const role = raw['role'];
    if (!ROLES.includes(role as (typeof ROLES)[number])) {
      throw openAIError(
        400,
        `Invalid value: '${String(role)}'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'.`,
        { param: `${at}.role`, code: 'invalid_value' },
      );
    }
    const message = raw as ChatMessage;
    const content = message.content;
    if (content === undefined || (content === null && role !== 'assistant'))
      throw missing(`${at}.content`);
    if (content !== null && typeof content !== 'string' && !Array.isArray(content)) {
      throw invalidType(`${at}.content`, 'one of a string or array of objects', content);
    }
    const parts: ChatContentPart[] = Array.isArray(content) ? content : [];
    images += parts.filter((p) => p.type === 'image_url').length;
    const text =
      typeof content === 'string'
        ? content
        : parts
            .flatMap((p) => (p.type === 'text' && typeof p['text'] === 'string' ? [p['text']] : []))
            .join('\n');
    const out: EmulatedInput['messages'][number] = {
      role: role === 'developer' ? 'system' : (role as 'system' | 'user' | 'assistant' | 'tool'),
      text,
    };
    if (role === 'tool') {
      if (typeof message.tool_call_id !== 'string') throw missing(`${at}.tool_call_id`);
      out.toolCallId = message.tool_call_id;
    }
    if (role === 'assistant' && message.tool_calls !== undefined) {
      if (!Array.isArray(message.tool_calls))
        throw invalidType(`${at}.tool_calls`, 'an array of objects', message.tool_calls);
      out.toolCalls = message.tool_calls.map((c, j) => {
        if (typeof c?.id !== 'string' || typeof c.function?.name !== 'string')
          throw missing(`${at}.tool_calls[${j}].function.name`);
        return { id: c.id, name: c.function.name, arguments: String(c.function.arguments ?? '') };
      });
    }
    return out;
  });

  const request = body as ChatRequest;
  const input: EmulatedInput = { messages: parsed, tools: parseTools(request), images };
  const toolChoice = request.tool_choice;
  if (toolChoice !== undefined) {
    if (input.tools.length === 0)
      throw openAIError(
        400,
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        { param: 'tool_choice' },
      );
    if (typeof toolChoice === 'string') {
      if (!['auto', 'none', 'required'].includes(toolChoice))
        throw openAIError(
          400,
          `Invalid value: '${toolChoice}'. Supported values are: 'none', 'auto', and 'required'.`,
          { param: 'tool_choice', code: 'invalid_value' },
        );
      input.toolChoice = toolChoice;
    } else {
      const name =
        isRecord(toolChoice) && isRecord(toolChoice.function)
          ? toolChoice.function.name
          : undefined;
      if (typeof name !== 'string' || !input.tools.some((t) => t.name === name)) {
        throw openAIError(
          400,
          `Invalid value for 'tool_choice': tool '${String(name)}' is not in 'tools'.`,
          { param: 'tool_choice', code: 'invalid_value' },
        );
      }
      input.toolChoice = { name };
    }
  }
  if (request.parallel_tool_calls === false) input.parallelToolCalls = false;
  for (const key of ['max_completion_tokens', 'max_tokens'] as const) {
    const value = request[key];
    if (value === undefined || value === null) continue;
    if (!Number.isInteger(value)) throw invalidType(key, 'an integer', value);
    if (value < 1)
      throw openAIError(
        400,
        `Invalid '${key}': integer below minimum value. Expected a value >= 1, but got ${value} instead.`,
        { param: key, code: 'integer_below_min_value' },
      );
    input.maxTokens ??= value;
  }
  const stop = request.stop;
  if (typeof stop === 'string') input.stop = [stop];
  else if (Array.isArray(stop)) {
    if (stop.length > 4 || stop.some((s) => typeof s !== 'string'))
      throw invalidType('stop', 'a string or an array of at most 4 strings', stop);
    input.stop = stop;
  } else if (stop !== undefined && stop !== null)
    throw invalidType('stop', 'a string or an array of at most 4 strings', stop);
  if (
    request.stream !== undefined &&
    request.stream !== null &&
    typeof request.stream !== 'boolean'
  )
    throw invalidType('stream', 'a boolean', request.stream);
  if (request.n !== undefined && request.n !== null && request.n !== 1) {
    throw openAIError(400, 'The sandbox emulator supports only n=1.', {
      param: 'n',
      code: 'unsupported_value',
    });
  }
  const format = request.response_format;
  if (format?.type === 'json_schema') {
    if (!isRecord(format.json_schema) || typeof format.json_schema.name !== 'string')
      throw missing('response_format.json_schema.name');
    input.jsonSchema = format.json_schema.schema ?? {};
  } else if (format?.type === 'json_object') input.jsonSchema = { type: 'object' };
  return { request, input };
}

function parseTools(request: ChatRequest): EmulatedInput['tools'] {
  const tools = request.tools;
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) throw invalidType('tools', 'an array of objects', tools);
  return tools.map((tool, i) => {
    const fn = isRecord(tool) ? tool.function : undefined;
    if (!isRecord(fn) || typeof fn.name !== 'string' || fn.name === '')
      throw missing(`tools[${i}].function.name`);
    const out: EmulatedInput['tools'][number] = { name: fn.name };
    if (typeof fn.description === 'string') out.description = fn.description;
    if (isRecord(fn.parameters)) out.parameters = fn.parameters;
    return out;
  });
}

/** OpenAI `usage` from the emulated counts. `prompt_tokens` includes cached tokens. */
export function toChatUsage(usage: EmulatedOutput['usage']): ChatUsage {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: usage.reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** Identity of one completion: id, model echoed back, unix seconds. */
export interface CompletionMeta {
  id: string;
  model: string;
  created: number;
}

/** A non-streaming `chat.completion`. Content is null when the answer is only tool calls. */
export function buildCompletion(meta: CompletionMeta, output: EmulatedOutput): ChatCompletion {
  const toolOnly = output.toolCalls.length > 0 && output.text === '';
  const message: ChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: toolOnly ? null : output.text,
    refusal: null,
    annotations: [],
  };
  if (output.toolCalls.length > 0) {
    message.tool_calls = output.toolCalls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.arguments },
    }));
  }
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: output.finishReason }],
    usage: toChatUsage(output.usage),
    service_tier: 'default',
    system_fingerprint: 'fp_sandbox',
  };
}

/**
 * The chunks of a streamed answer, in wire order: role chunk (`content: ''`, or null when the
 * answer is only tool calls), one chunk per token of text, per tool call a first fragment
 * (`index`, `id`, `type`, `function.name`, `arguments: ''`) then one fragment per argument
 * token, the finish chunk (`delta: {}`), and, when `includeUsage`, the usage chunk with
 * `choices: []`. With `includeUsage` every other chunk carries `usage: null`, as the spec says.
 */
export function* completionChunks(
  meta: CompletionMeta,
  output: EmulatedOutput,
  options: { includeUsage: boolean; tokenize: (text: string) => string[] },
): Generator<ChatCompletionChunk> {
  const chunk = (
    delta: ChatDelta | undefined,
    finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null,
  ): ChatCompletionChunk => {
    const out: ChatCompletionChunk = {
      id: meta.id,
      object: 'chat.completion.chunk',
      created: meta.created,
      model: meta.model,
      service_tier: 'default',
      system_fingerprint: 'fp_sandbox',
      choices:
        delta === undefined ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    if (options.includeUsage) out.usage = delta === undefined ? toChatUsage(output.usage) : null;
    return out;
  };
  const toolOnly = output.toolCalls.length > 0 && output.text === '';
  yield chunk({ role: 'assistant', content: toolOnly ? null : '', refusal: null });
  for (const piece of options.tokenize(output.text)) yield chunk({ content: piece });
  for (const [index, call] of output.toolCalls.entries()) {
    yield chunk({
      tool_calls: [
        { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
      ],
    });
    for (const piece of options.tokenize(call.arguments))
      yield chunk({ tool_calls: [{ index, function: { arguments: piece } }] });
  }
  yield chunk({}, output.finishReason);
  if (options.includeUsage) yield chunk(undefined);
}

function missing(param: string): HttpError {
  return openAIError(400, `Missing required parameter: '${param}'.`, {
    param,
    code: 'missing_required_parameter',
  });
}

function invalidType(param: string, expected: string, got: unknown): HttpError {
  const kind = got === null ? 'null' : Array.isArray(got) ? 'an array' : `a ${typeof got}`;
  return openAIError(
    400,
    `Invalid type for '${param}': expected ${expected}, but got ${kind} instead.`,
    { param, code: 'invalid_type' },
  );
}
