import type { ChatMessage, ChatRequest, ChatTool } from '../../core/chat.js';
import { invalidRequest } from '../../errors/index.js';
import { BEDROCK_SERVICE_TIERS, cacheTtl, cachingAsked } from '../controls.js';
import { claudeThinking, effortForBudget } from '../internal/thinking.js';
import { BEDROCK_TOOL_CALL_IDS, fitToolCallIds } from '../internal/tool-call-ids.js';
import { toContentBlocks, toSystemBlocks, toolResultBlock } from './content.js';
import type {
  ConverseContentBlock,
  ConverseMessage,
  ConverseRequest,
  ConverseTool,
  ConverseToolChoice,
} from './types.js';
import { copied, merged } from '../../core/objects.js';

/**
 * ChatRequest → Converse request body. Every known field is mapped or rejected; unknown
 * fields are rejected with `unsupported_parameter` unless they hold a neutral value.
 *
 * Choices worth knowing:
 * - `response_format: json_schema` → `outputConfig.textFormat` (Bedrock structured outputs).
 *   With `provider_options.bedrock.structuredOutput: 'tool'` it becomes a forced tool named
 *   {@link JSON_TOOL_NAME} instead (for models without structured outputs); its input is
 *   returned as the message text. `json_object` has no Converse equivalent and is rejected.
 * - Reasoning → Claude models: `additionalModelRequestFields.thinking`, an explicit budget kept
 *   exact, an effort through the same table as the Anthropic provider, both below `maxTokens`
 *   (../internal/thinking.ts), adaptive as is; other models (gpt-oss):
 *   `additionalModelRequestFields.reasoning_effort` (from the budget when one was given);
 *   adaptive thinking is dropped for them (a permission, not a requirement).
 * - `tool_choice: 'none'` → no toolConfig, unless the history holds tool calls (Converse then
 *   requires toolConfig): the tools are kept and the model is not forced.
 * - `user`, `safety_identifier` and `metadata` → `requestMetadata` (Bedrock invocation logs).
 *   Message `name` is ignored.
 * - Prompt caching asked (`prompt_cache_key` / `prompt_cache_retention`) without cache points
 *   of the client's own → `cachePoint` blocks after the system prompt and the last message
 *   (`ttl: '1h'` for OpenAI's extended `24h` retention); `service_tier` → `serviceTier`
 *   (../controls.ts says what is dropped instead).
 * - `provider_options.bedrock`: `additionalModelRequestFields` (merged), the Converse fields
 *   in {@link CONVERSE_PASSTHROUGH}, and `structuredOutput`.
 */
export function toConverseRequest(
  body: ChatRequest,
  modelId: string,
): { body: ConverseRequest; jsonTool?: string } {
  const {
    model: _model,
    messages,
    stream: _stream,
    stream_options: _streamOptions,
    tools,
    tool_choice,
    parallel_tool_calls,
    response_format,
    temperature,
    top_p,
    max_tokens,
    max_completion_tokens,
    stop,
    n,
    seed,
    logprobs,
    top_logprobs,
    user,
    metadata,
    safety_identifier,
    prompt_cache_key: _cacheKey,
    prompt_cache_retention: _cacheRetention,
    prompt_cache_options: _cacheOptions,
    service_tier,
    reasoning_effort,
    reasoning_budget_tokens,
    reasoning_mode,
    provider_options,
    models: _models,
    fallback_models: _fallbackModels,
    ...rest
  } = body;
  for (const [field, value] of Object.entries(rest)) {
    if (!isNeutral(field, value))
      throw invalidRequest(`Bedrock does not support '${field}'`, field, 'unsupported_parameter');
  }
  if (n !== undefined && n !== null && n !== 1)
    throw invalidRequest('Bedrock supports only n=1', 'n', 'unsupported_parameter');
  if (seed !== undefined && seed !== null)
    throw invalidRequest("Bedrock does not support 'seed'", 'seed', 'unsupported_parameter');
  if (logprobs === true || (top_logprobs !== undefined && top_logprobs !== null)) {
    throw invalidRequest(
      'Bedrock does not return logprobs',
      logprobs === true ? 'logprobs' : 'top_logprobs',
      'unsupported_parameter',
    );
  }
  if (parallel_tool_calls === false) {
    throw invalidRequest(
      'Bedrock Converse cannot turn off parallel tool calls',
      'parallel_tool_calls',
      'unsupported_parameter',
    );
  }
  if (!Array.isArray(messages) || messages.length === 0)
    throw invalidRequest("'messages' must be a non-empty array", 'messages');

  const { structuredOutput, additionalModelRequestFields, ...passthrough } =
    provider_options?.['bedrock'] ?? {};
  for (const key of Object.keys(passthrough)) {
    if (!CONVERSE_PASSTHROUGH.includes(key)) {
      throw invalidRequest(
        `Unknown provider_options.bedrock field '${key}'`,
        `provider_options.bedrock.${key}`,
        'unsupported_parameter',
      );
    }
  }

  // toolUseId allows 1-64 of [a-zA-Z0-9_-]; longer ids (Gemini's) are shortened (../internal/tool-call-ids.ts).
  const converse: ConverseRequest = {
    messages: toMessages(fitToolCallIds(messages, BEDROCK_TOOL_CALL_IDS)),
  };
  const system = messages
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .flatMap((m, i) => toSystemBlocks(m, i));
  if (system.length > 0) converse.system = system;

  const inference: NonNullable<ConverseRequest['inferenceConfig']> = {};
  const maxTokens = max_completion_tokens ?? max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) inference.maxTokens = maxTokens;
  if (temperature !== undefined && temperature !== null) inference.temperature = temperature;
  if (top_p !== undefined && top_p !== null) inference.topP = top_p;
  if (typeof stop === 'string') inference.stopSequences = [stop];
  else if (Array.isArray(stop) && stop.length > 0) inference.stopSequences = stop;
  if (Object.keys(inference).length > 0) converse.inferenceConfig = inference;

  const hasToolHistory = converse.messages!.some((m) =>
    m.content.some((b) => b.toolUse !== undefined || b.toolResult !== undefined),
  );
  if (tools !== undefined && tools.length > 0 && (tool_choice !== 'none' || hasToolHistory)) {
    converse.toolConfig = { tools: tools.map(toTool) };
    const choice = toToolChoice(tool_choice);
    if (choice) converse.toolConfig.toolChoice = choice;
  }

  let jsonTool: string | undefined;
  if (response_format?.type === 'json_object') {
    throw invalidRequest(
      "Bedrock Converse has no JSON mode; use response_format 'json_schema'",
      'response_format',
      'unsupported_parameter',
    );
  }
  if (response_format?.type === 'json_schema') {
    const { name, schema = {}, description } = response_format.json_schema;
    if (structuredOutput === 'tool') {
      if (converse.toolConfig)
        throw invalidRequest(
          "structuredOutput 'tool' cannot be combined with tools",
          'response_format',
          'unsupported_parameter',
        );
      jsonTool = JSON_TOOL_NAME;
      converse.toolConfig = {
        tools: [
          {
            toolSpec: {
              name: jsonTool,
              description: description ?? `Respond with ${name}`,
              inputSchema: { json: schema },
            },
          },
        ],
        toolChoice: { tool: { name: jsonTool } },
      };
    } else {
      const jsonSchema = {
        schema: JSON.stringify(schema),
        name,
        ...(description ? { description } : {}),
      };
      converse.outputConfig = { textFormat: { type: 'json_schema', structure: { jsonSchema } } };
    }
  }

  const reasoning = reasoningFields(
    { effort: reasoning_effort, budget: reasoning_budget_tokens, mode: reasoning_mode },
    modelId,
    inference.maxTokens,
  );
  if (reasoning.maxTokens !== undefined && reasoning.maxTokens !== inference.maxTokens) {
    inference.maxTokens = reasoning.maxTokens;
    converse.inferenceConfig = inference;
  }
  const additional: Record<string, unknown> = copied(reasoning.fields);
  if (additionalModelRequestFields !== undefined)
    Object.assign(additional, additionalModelRequestFields);
  if (Object.keys(additional).length > 0) converse.additionalModelRequestFields = additional;

  const requestMetadata: Record<string, string> = copied(metadata ?? {});
  if (user) requestMetadata['user'] = user;
  if (typeof safety_identifier === 'string' && safety_identifier !== '')
    requestMetadata['safety_identifier'] = safety_identifier;
  if (Object.keys(requestMetadata).length > 0) converse.requestMetadata = requestMetadata;

  const tier = typeof service_tier === 'string' ? BEDROCK_SERVICE_TIERS[service_tier] : undefined;
  if (tier !== undefined) converse.serviceTier = { type: tier };
  if (cachingAsked(body)) addCachePoints(converse, cacheTtl(body));

  Object.assign(converse, passthrough);
  return jsonTool === undefined ? { body: converse } : { body: converse, jsonTool };
}

/**
 * Cache points after the system prompt and after the last message's content, unless the request
 * holds one already (the client's placement wins; Bedrock allows four).
 */
function addCachePoints(converse: ConverseRequest, ttl: '1h' | undefined): void {
  const point = { cachePoint: { type: 'default' as const, ...(ttl ? { ttl } : {}) } };
  const messages = converse.messages ?? [];
  const placed =
    (converse.system ?? []).some((block) => block.cachePoint !== undefined) ||
    messages.some((message) => message.content.some((block) => block.cachePoint !== undefined));
  if (placed) return;
  if (converse.system && converse.system.length > 0) converse.system.push({ ...point });
  const last = messages.at(-1);
  if (last && last.content.length > 0) last.content.push({ ...point });
}

/** Name of the forced tool used for structured output in `structuredOutput: 'tool'` mode. */
export const JSON_TOOL_NAME = 'json_response';

/** Converse request fields that `provider_options.bedrock` may set directly. */
export const CONVERSE_PASSTHROUGH = [
  'guardrailConfig',
  'performanceConfig',
  'serviceTier',
  'additionalModelResponseFieldPaths',
  'promptVariables',
  'requestMetadata',
  'outputConfig',
];

/** Fields Bedrock cannot honour but that clients often send with a do-nothing value. */
const NEUTRAL: Record<string, (value: unknown) => boolean> = {
  frequency_penalty: (v) => v === 0,
  presence_penalty: (v) => v === 0,
  logit_bias: (v) => typeof v === 'object' && Object.keys(v ?? {}).length === 0,
  store: (v) => v === false,
  modalities: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text',
};

function isNeutral(field: string, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  return NEUTRAL[field]?.(value) ?? false;
}

/** Non-system messages → alternating Converse messages (tool results join the user turn). */
function toMessages(messages: ChatMessage[]): ConverseMessage[] {
  const out: ConverseMessage[] = [];
  messages.forEach((message, index) => {
    let role: ConverseMessage['role'];
    let blocks: ConverseContentBlock[];
    if (message.role === 'system' || message.role === 'developer') return;
    if (message.role === 'tool') {
      role = 'user';
      blocks = [toolResultBlock(message, index)];
    } else if (message.role === 'assistant') {
      role = 'assistant';
      blocks = assistantBlocks(message, index);
    } else if (message.role === 'user') {
      role = 'user';
      blocks = toContentBlocks(message.content, `messages[${index}].content`);
    } else {
      throw invalidRequest(`Unknown role '${String(message.role)}'`, `messages[${index}].role`);
    }
    if (blocks.length === 0) return;
    const last = out.at(-1);
    // Converse requires alternating roles: merge consecutive turns of the same role.
    if (last?.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  });
  return out;
}

function assistantBlocks(message: ChatMessage, index: number): ConverseContentBlock[] {
  const blocks: ConverseContentBlock[] = [];
  if (message.reasoning_content) {
    const reasoningText: { text: string; signature?: string } = { text: message.reasoning_content };
    if (message.reasoning_signature) reasoningText.signature = message.reasoning_signature;
    blocks.push({ reasoningContent: { reasoningText } });
  }
  const redacted = message['reasoning_redacted'];
  if (typeof redacted === 'string' && redacted)
    blocks.push({ reasoningContent: { redactedContent: redacted } });
  blocks.push(...toContentBlocks(message.content, `messages[${index}].content`));
  for (const [i, call] of (message.tool_calls ?? []).entries()) {
    let input: unknown;
    try {
      input = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments);
    } catch {
      throw invalidRequest(
        'Tool call arguments must be JSON',
        `messages[${index}].tool_calls[${i}].function.arguments`,
      );
    }
    blocks.push({ toolUse: { toolUseId: call.id, name: call.function.name, input } });
  }
  return blocks;
}

function toTool(tool: ChatTool, index: number): ConverseTool {
  if (tool.type !== 'function' || !tool.function?.name) {
    throw invalidRequest(
      `Bedrock supports only function tools (got '${String(tool.type)}')`,
      `tools[${index}]`,
      'unsupported_parameter',
    );
  }
  const { name, description, parameters, strict } = tool.function;
  const toolSpec: NonNullable<ConverseTool['toolSpec']> = {
    name,
    inputSchema: { json: parameters ?? { type: 'object', properties: {} } },
  };
  if (description) toolSpec.description = description;
  if (strict !== undefined) toolSpec.strict = strict;
  return { toolSpec };
}

function toToolChoice(choice: ChatRequest['tool_choice']): ConverseToolChoice | undefined {
  if (choice === undefined || choice === 'none') return undefined;
  if (choice === 'auto') return { auto: {} };
  if (choice === 'required') return { any: {} };
  if (typeof choice === 'object' && choice.function?.name)
    return { tool: { name: choice.function.name } };
  throw invalidRequest('Unsupported tool_choice', 'tool_choice', 'unsupported_parameter');
}

function reasoningFields(
  asked: { effort: string | undefined; budget: number | undefined; mode: 'adaptive' | undefined },
  modelId: string,
  maxTokens: number | undefined,
): { fields: Record<string, unknown>; maxTokens?: number | undefined } {
  if (/anthropic|claude/i.test(modelId)) {
    // `minimal` asks for as little reasoning as possible: Claude's equivalent is none.
    const effort = asked.effort === 'minimal' ? undefined : asked.effort;
    const thinking = claudeThinking(merged(asked, { effort, maxTokens }));
    if (thinking === undefined) return { fields: {} };
    return { fields: { thinking: thinking.thinking }, maxTokens: thinking.maxTokens };
  }
  const effort =
    asked.effort ?? (asked.budget === undefined ? undefined : effortForBudget(asked.budget));
  return effort === undefined ? { fields: {} } : { fields: { reasoning_effort: effort } };
}
