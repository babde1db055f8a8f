import type { ChatRequest, ChatTool, ChatToolChoice } from '../../core/chat.js';
import { invalidRequest } from '../../errors/index.js';
import { effortForBudget } from '../internal/thinking.js';
import { toGeminiContents } from './contents.js';
import { isEmptyObjectSchema, toGeminiSchema } from './schema.js';
import type { GeminiFunctionDeclaration, GenerateContentRequest } from './types.js';

/**
 * ChatRequest → Gemini `GenerateContentRequest`. Known fields are mapped; the rest is decided
 * field by field (STYLE.md "Provider adapters"):
 * - not sent, by design: `model` (in the URL), `stream` (picks the endpoint), `stream_options`
 *   (Gemini always reports usage), `user` and `metadata` (gateway-level), `provider_options`
 *   (merged last: `provider_options.gemini`, then `provider_options.vertex` on Vertex; plain
 *   objects merge deeply, anything else replaces);
 * - no-op values accepted: `parallel_tool_calls: true`, `logprobs: false`, `store: false`,
 *   `service_tier: 'auto'`, `modalities: ['text']`;
 * - everything else with a non-null value → 400 `unsupported_parameter` naming the field.
 */

/** What the mapping needs to know about the target. */
export interface RequestContext {
  providerType: 'gemini' | 'vertex';
  /** Upstream model id, to choose the thinking config and signature handling. */
  model: string;
}

/** Builds the upstream body for a chat call. */
export function toGenerateContent(
  body: ChatRequest,
  context: RequestContext,
): GenerateContentRequest {
  const {
    model: _model,
    stream: _stream,
    stream_options: _streamOptions,
    user: _user,
    metadata: _metadata,
    // Dropped with an x-switchyard-warnings header (../controls.ts): Gemini caches
    // implicitly and its request has no tier or end-user field.
    prompt_cache_key: _cacheKey,
    prompt_cache_retention: _cacheRetention,
    prompt_cache_options: _cacheOptions,
    service_tier: _serviceTier,
    safety_identifier: _safetyIdentifier,
    provider_options: providerOptions,
    messages,
    tools,
    tool_choice: toolChoice,
    parallel_tool_calls: parallelToolCalls,
    response_format: responseFormat,
    temperature,
    top_p: topP,
    max_tokens: maxTokens,
    max_completion_tokens: maxCompletionTokens,
    stop,
    n,
    seed,
    presence_penalty: presencePenalty,
    frequency_penalty: frequencyPenalty,
    reasoning_effort: reasoningEffort,
    reasoning_budget_tokens: budget,
    reasoning_mode: _adaptive,
    logprobs,
    top_logprobs: topLogprobs,
    ...rest
  } = body;
  rejectUnknown(rest);
  if (logprobs === true || topLogprobs != null) {
    throw invalidRequest(
      'logprobs are not supported for Gemini deployments',
      logprobs === true ? 'logprobs' : 'top_logprobs',
      'unsupported_parameter',
    );
  }
  if (parallelToolCalls === false) {
    throw invalidRequest(
      'Gemini cannot be limited to one tool call per turn',
      'parallel_tool_calls',
      'unsupported_parameter',
    );
  }
  if (!Array.isArray(messages)) throw invalidRequest('messages must be an array', 'messages');

  const generation: Record<string, unknown> = {};
  const set = (key: string, value: unknown): void => {
    if (value != null) generation[key] = value;
  };
  set('temperature', temperature);
  set('topP', topP);
  set('maxOutputTokens', maxCompletionTokens ?? maxTokens);
  set('stopSequences', typeof stop === 'string' ? [stop] : stop);
  set('candidateCount', n);
  set('seed', seed);
  set('presencePenalty', presencePenalty);
  set('frequencyPenalty', frequencyPenalty);
  if (responseFormat?.type === 'json_object') generation['responseMimeType'] = 'application/json';
  else if (responseFormat?.type === 'json_schema') {
    generation['responseMimeType'] = 'application/json';
    const schema = responseFormat.json_schema?.schema;
    if (schema)
      generation['responseSchema'] = toGeminiSchema(schema, 'response_format.json_schema.schema');
  } else if (responseFormat != null && responseFormat.type !== 'text') {
    const type = String((responseFormat as { type?: unknown }).type);
    throw invalidRequest(
      `response_format "${type}" is not supported`,
      'response_format.type',
      'unsupported_parameter',
    );
  }
  const gemini3 = isGemini3(context.model);
  if (reasoningEffort != null)
    generation['thinkingConfig'] = thinkingConfig(String(reasoningEffort), gemini3);
  else if (typeof budget === 'number')
    // An explicit budget (Anthropic/Bedrock clients): 2.x takes it as is, 3+ thinks in levels.
    // Adaptive thinking (`reasoning_mode`) is Gemini's default (dynamic thinking): nothing to send.
    generation['thinkingConfig'] = gemini3
      ? { thinkingLevel: effortForBudget(budget), includeThoughts: true }
      : { thinkingBudget: budget, includeThoughts: true };

  const request: GenerateContentRequest = {
    ...toGeminiContents(messages, { fillMissingSignatures: gemini3 }),
  };
  if (tools != null && tools.length > 0)
    request.tools = [{ functionDeclarations: tools.map(declaration) }];
  const toolConfig = functionCalling(toolChoice);
  if (toolConfig) request.toolConfig = toolConfig;
  if (Object.keys(generation).length > 0) request.generationConfig = generation;

  mergeDeep(request, providerOptions?.['gemini']);
  if (context.providerType === 'vertex') mergeDeep(request, providerOptions?.['vertex']);
  return request;
}

const NO_OP: Record<string, (value: unknown) => boolean> = {
  store: (value) => value === false,
  service_tier: (value) => value === 'auto' || value === 'default',
  modalities: (value) => Array.isArray(value) && value.length === 1 && value[0] === 'text',
};

function rejectUnknown(rest: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined || value === null || NO_OP[key]?.(value)) continue;
    throw invalidRequest(
      `Parameter "${key}" is not supported for Gemini deployments`,
      key,
      'unsupported_parameter',
    );
  }
}

/** Gemini 3+ models think in levels and require thought signatures; older ones take a token budget. */
export function isGemini3(model: string): boolean {
  const major = /gemini-(\d+)/.exec(model)?.[1];
  return major !== undefined && Number(major) >= 3;
}

const BUDGETS: Record<string, number> = {
  none: 0,
  minimal: 512,
  low: 1024,
  medium: 8192,
  high: 24_576,
};
const LEVELS: Record<string, string> = {
  none: 'minimal',
  minimal: 'minimal',
  low: 'low',
  medium: 'medium',
  high: 'high',
};

/** reasoning_effort → thinkingConfig (Gemini 3: thinkingLevel; 2.x: thinkingBudget, 0 turns thinking off). */
function thinkingConfig(effort: string, gemini3: boolean): Record<string, unknown> {
  const level = LEVELS[effort];
  const budget = BUDGETS[effort];
  if (level === undefined || budget === undefined) {
    throw invalidRequest(
      `reasoning_effort "${effort}" is not one of ${Object.keys(BUDGETS).join(', ')}`,
      'reasoning_effort',
    );
  }
  const includeThoughts = effort !== 'none';
  return gemini3
    ? { thinkingLevel: level, includeThoughts }
    : { thinkingBudget: budget, includeThoughts };
}

function declaration(tool: ChatTool, index: number): GeminiFunctionDeclaration {
  if (tool.type !== 'function' || typeof tool.function?.name !== 'string') {
    throw invalidRequest(
      `Tool type "${String(tool.type)}" is not supported by Gemini`,
      `tools[${index}].type`,
      'unsupported_parameter',
    );
  }
  const { name, description, parameters } = tool.function;
  const out: GeminiFunctionDeclaration = { name };
  if (description) out.description = description;
  if (parameters && !isEmptyObjectSchema(parameters))
    out.parameters = toGeminiSchema(parameters, `tools[${index}].function.parameters`);
  return out;
}

function functionCalling(choice: ChatToolChoice | undefined): GenerateContentRequest['toolConfig'] {
  if (choice == null) return undefined;
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  if (
    typeof choice === 'object' &&
    choice.type === 'function' &&
    typeof choice.function?.name === 'string'
  ) {
    return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  }
  throw invalidRequest('tool_choice must be none, auto, required or a function', 'tool_choice');
}

/** Merges `source` into `target`: plain objects recursively, anything else replaces. */
function mergeDeep(target: Record<string, unknown>, source: unknown): void {
  if (source === null || typeof source !== 'object' || Array.isArray(source)) return;
  for (const [key, value] of Object.entries(source)) {
    const current = target[key];
    if (isPlainObject(value) && isPlainObject(current)) mergeDeep(current, value);
    else target[key] = value;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
