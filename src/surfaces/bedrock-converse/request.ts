import type { ChatMessage, ChatRequest, ChatTool, ChatToolCall } from '../../core/chat.js';
import { invalidRequest } from '../../errors/index.js';
import { fromContentBlocks } from '../../providers/bedrock/content.js';
import { CONVERSE_PASSTHROUGH } from '../../providers/bedrock/request.js';
import type {
  ConverseContentBlock,
  ConverseRequest,
  ConverseTool,
} from '../../providers/bedrock/types.js';
import { isRecord } from '../../core/objects.js';

const KNOWN = new Set([
  'modelId',
  'messages',
  'system',
  'inferenceConfig',
  'toolConfig',
  'additionalModelRequestFields',
  'outputConfig',
  ...CONVERSE_PASSTHROUGH,
]);

/**
 * Converse request → ChatRequest: the inverse of the Bedrock provider's mapping, so a Converse
 * client reaches any provider. Tool-use ids and reasoning signatures are kept (`toolUseId` ↔
 * `tool_calls[].id`, `reasoningText.signature` ↔ `reasoning_signature`). Bedrock-only members
 * (`guardrailConfig`, `performanceConfig`, `additionalModelRequestFields`, ...) travel in
 * `provider_options.bedrock` and take effect when a Bedrock deployment serves the request.
 * Throws a 400 GatewayError (rendered as ValidationException) for malformed input.
 */
export function converseToChat(body: unknown, model: string, stream: boolean): ChatRequest {
  if (!isRecord(body))
    throw invalidRequest('Malformed input request, please reformat your input and try again.');
  const request = body as ConverseRequest;
  for (const key of Object.keys(request)) {
    if (!KNOWN.has(key))
      throw invalidRequest(`Unsupported Converse field '${key}'`, key, 'unsupported_parameter');
  }
  const {
    messages,
    system,
    inferenceConfig,
    toolConfig,
    additionalModelRequestFields,
    outputConfig,
    requestMetadata,
  } = request;
  if (!Array.isArray(messages) || messages.length === 0)
    throw invalidRequest('A conversation must start with a user message.', 'messages');

  const out: ChatMessage[] = [];
  const systemText = (system ?? []).map((block, i) => {
    if (typeof block.text === 'string') return block.text;
    if (block.cachePoint) return undefined;
    throw invalidRequest(
      'Only text and cachePoint system blocks are supported',
      `system[${i}]`,
      'unsupported_parameter',
    );
  });
  const texts = systemText.filter((t): t is string => t !== undefined);
  if (texts.length > 0) out.push({ role: 'system', content: texts.join('\n') });

  messages.forEach((message, i) => {
    if (
      !isRecord(message) ||
      (message.role !== 'user' && message.role !== 'assistant') ||
      !Array.isArray(message.content)
    ) {
      throw invalidRequest(
        `messages.${i} must have role user or assistant and a content list`,
        `messages[${i}]`,
      );
    }
    if (message.role === 'assistant') out.push(assistantMessage(message.content, i));
    else out.push(...userMessages(message.content, i));
  });

  const chat: ChatRequest = { model, messages: out, stream };
  if (stream) chat.stream_options = { include_usage: true };
  checkInferenceConfig(inferenceConfig);
  if (inferenceConfig?.maxTokens != null) chat.max_tokens = inferenceConfig.maxTokens;
  if (inferenceConfig?.temperature != null) chat.temperature = inferenceConfig.temperature;
  if (inferenceConfig?.topP != null) chat.top_p = inferenceConfig.topP;
  if (inferenceConfig?.stopSequences?.length) chat.stop = inferenceConfig.stopSequences;
  if (toolConfig) {
    const tools = (toolConfig.tools ?? []).flatMap((tool, i) => toTool(tool, i));
    if (tools.length > 0) chat.tools = tools;
    const choice = toolConfig.toolChoice as Record<string, { name?: string }> | undefined;
    if (choice?.['auto']) chat.tool_choice = 'auto';
    else if (choice?.['any']) chat.tool_choice = 'required';
    else if (choice?.['tool']?.name)
      chat.tool_choice = { type: 'function', function: { name: choice['tool'].name } };
  }
  const jsonSchema = outputConfig?.textFormat?.structure?.jsonSchema;
  if (jsonSchema) {
    let schema: Record<string, unknown>;
    try {
      schema = JSON.parse(jsonSchema.schema) as Record<string, unknown>;
    } catch {
      throw invalidRequest(
        'outputConfig.textFormat.structure.jsonSchema.schema must be a JSON document',
        'outputConfig',
      );
    }
    chat.response_format = {
      type: 'json_schema',
      json_schema: {
        name: jsonSchema.name ?? 'response',
        schema,
        ...(jsonSchema.description ? { description: jsonSchema.description } : {}),
      },
    };
  }
  if (requestMetadata) chat.metadata = requestMetadata;
  const bedrock: Record<string, unknown> = {};
  for (const key of CONVERSE_PASSTHROUGH) {
    if (key !== 'outputConfig' && key !== 'requestMetadata' && request[key] !== undefined)
      bedrock[key] = request[key];
  }
  if (additionalModelRequestFields !== undefined) {
    bedrock['additionalModelRequestFields'] = additionalModelRequestFields;
    mapReasoning(additionalModelRequestFields, chat);
  }
  if (Object.keys(bedrock).length > 0) chat.provider_options = { bedrock };
  return chat;
}

/**
 * Reasoning asked through `additionalModelRequestFields`, made meaningful to every provider:
 * gpt-oss's `reasoning_effort`, Claude's `thinking` (an explicit budget kept exact, adaptive a
 * permission), so a Converse client reaches Anthropic and OpenAI with the same intent.
 */
function mapReasoning(fields: unknown, chat: ChatRequest): void {
  if (!isRecord(fields)) return;
  if (typeof fields['reasoning_effort'] === 'string')
    chat.reasoning_effort = fields['reasoning_effort'];
  const thinking = fields['thinking'];
  if (!isRecord(thinking)) return;
  if (thinking['type'] === 'adaptive') chat.reasoning_mode = 'adaptive';
  else if (thinking['type'] === 'enabled') {
    const budget = thinking['budget_tokens'];
    if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1024)
      throw invalidRequest(
        'additionalModelRequestFields.thinking.budget_tokens must be an integer of at least 1024',
        'additionalModelRequestFields.thinking.budget_tokens',
      );
    chat.reasoning_budget_tokens = budget;
  }
}

/**
 * Bedrock validates member types as its Smithy model declares them (`maxTokens` an integer ≥ 1,
 * `temperature` and `topP` floats in 0..1, `stopSequences` a list of up to 4 strings); so does
 * this surface, rather than passing a string on to a provider that may coerce it.
 */
function checkInferenceConfig(config: unknown): void {
  if (config === undefined) return;
  if (!isRecord(config)) throw validation('inferenceConfig', 'Member must be a structure');
  for (const key of Object.keys(config)) {
    if (!['maxTokens', 'temperature', 'topP', 'stopSequences'].includes(key))
      throw invalidRequest(`Unsupported inferenceConfig field '${key}'`, `inferenceConfig.${key}`);
  }
  const { maxTokens, temperature, topP, stopSequences } = config;
  if (maxTokens != null && (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens)))
    throw validation('inferenceConfig.maxTokens', 'Member must be an integer');
  if (typeof maxTokens === 'number' && maxTokens < 1)
    throw validation(
      'inferenceConfig.maxTokens',
      'Member must have value greater than or equal to 1',
    );
  for (const [name, value] of [
    ['temperature', temperature],
    ['topP', topP],
  ] as const) {
    if (value == null) continue;
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw validation(`inferenceConfig.${name}`, 'Member must be a number');
    if (value < 0 || value > 1)
      throw validation(`inferenceConfig.${name}`, 'Member must have value between 0 and 1');
  }
  if (
    stopSequences != null &&
    (!Array.isArray(stopSequences) ||
      stopSequences.length > 4 ||
      !stopSequences.every((item) => typeof item === 'string' && item !== ''))
  )
    throw validation(
      'inferenceConfig.stopSequences',
      'Member must be a list of at most 4 non-empty strings',
    );
}

/** A 400 worded as AWS words its model validation errors. */
function validation(member: string, constraint: string) {
  return invalidRequest(
    `1 validation error detected: Value at '${member}' failed to satisfy constraint: ${constraint}`,
    member,
  );
}

function userMessages(blocks: ConverseContentBlock[], index: number): ChatMessage[] {
  const out: ChatMessage[] = [];
  const rest: ConverseContentBlock[] = [];
  for (const block of blocks) {
    if (!isRecord(block))
      throw invalidRequest(
        `messages.${index}: content blocks must be objects`,
        `messages[${index}].content`,
      );
    if (block.toolUse || block.reasoningContent)
      throw invalidRequest(
        `messages.${index}: toolUse and reasoningContent belong to assistant messages`,
        `messages[${index}].content`,
      );
    if (!block.toolResult) {
      rest.push(checkPlain(block, index));
      continue;
    }
    const { toolUseId, content, status } = block.toolResult;
    const text = (content ?? []).map((part) => {
      if (typeof part.text === 'string') return part.text;
      if (part.json !== undefined) return JSON.stringify(part.json);
      throw invalidRequest(
        'Tool results may hold text or json only',
        `messages[${index}].content`,
        'unsupported_parameter',
      );
    });
    const message: ChatMessage = {
      role: 'tool',
      tool_call_id: toolUseId,
      content: text.join('\n'),
    };
    if (status === 'error') message['is_error'] = true;
    out.push(message);
  }
  // Tool results first: OpenAI wants them right after the assistant turn that called the tools.
  if (rest.length > 0) out.push({ role: 'user', content: fromContentBlocks(rest) });
  return out;
}

function assistantMessage(blocks: ConverseContentBlock[], index: number): ChatMessage {
  const message: ChatMessage = { role: 'assistant', content: null };
  const content: ConverseContentBlock[] = [];
  const calls: ChatToolCall[] = [];
  for (const block of blocks) {
    if (block.toolUse) {
      const { toolUseId, name, input } = block.toolUse;
      calls.push({
        id: toolUseId,
        type: 'function',
        function: { name, arguments: JSON.stringify(input ?? {}) },
      });
    } else if (block.reasoningContent?.reasoningText) {
      message.reasoning_content =
        (message.reasoning_content ?? '') + block.reasoningContent.reasoningText.text;
      if (block.reasoningContent.reasoningText.signature)
        message.reasoning_signature = block.reasoningContent.reasoningText.signature;
    } else if (block.reasoningContent?.redactedContent !== undefined)
      message['reasoning_redacted'] = block.reasoningContent.redactedContent;
    else if (block.toolResult)
      throw invalidRequest(
        `messages.${index}: toolResult belongs to user messages`,
        `messages[${index}].content`,
      );
    else content.push(checkPlain(block, index));
  }
  if (content.length > 0) message.content = fromContentBlocks(content);
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

const PLAIN = ['text', 'image', 'document', 'cachePoint'];

/** A block that maps to OpenAI content; anything else (video, audio, guardContent...) is refused, not dropped. */
function checkPlain(block: ConverseContentBlock, index: number): ConverseContentBlock {
  const member = Object.keys(block).find((key) => block[key] !== undefined) ?? '';
  if (!PLAIN.includes(member))
    throw invalidRequest(
      `messages.${index}: '${member}' content blocks are not supported`,
      `messages[${index}].content`,
      'unsupported_parameter',
    );
  return block;
}

function toTool(tool: ConverseTool, index: number): ChatTool[] {
  if (tool.cachePoint) return [];
  if (!tool.toolSpec?.name)
    throw invalidRequest(
      'Only toolSpec tools are supported',
      `toolConfig.tools[${index}]`,
      'unsupported_parameter',
    );
  const { name, description, inputSchema, strict } = tool.toolSpec;
  const fn: ChatTool['function'] = { name };
  if (description) fn.description = description;
  if (isRecord(inputSchema?.json)) fn.parameters = inputSchema.json;
  if (strict !== undefined) fn.strict = strict;
  return [{ type: 'function', function: fn }];
}
