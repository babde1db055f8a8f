import {
  type CreateResponseParams,
  invalidParam,
  type TextFormat,
  unsupportedParam,
} from '../../runtime/index.js';
import { prepareTools } from '../../runtime/tools/hosted-tools.js';
import { MEMORY_FUNCTION, MEMORY_TOOL_NAME } from '../../runtime/tools/memory-tool.js';
import { optionalBoolean, optionalInteger, optionalNumber, optionalString } from './fields.js';
import { parseMcpTools, parseMemoryTool, parseToolChoice, parseTools } from './tools-param.js';
import { merged, isRecord } from '../../core/objects.js';

/**
 * `CreateResponse` (../shared/specs/openai-openapi.yaml) → {@link CreateResponseParams}.
 * Every optional field accepts `null`. Fields Switchyard does not implement are rejected by
 * name (`background`, `prompt`, non-function tools) rather than ignored; unknown fields get
 * the API's `Unknown parameter` error.
 */

/** Fields that are accepted and echoed (or harmless) without changing what the model is asked. */
const ECHOED = [
  'service_tier',
  'safety_identifier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
  'max_tool_calls',
  'top_logprobs',
  'moderation',
  'personality',
  'stream_options',
] as const;
const KNOWN = new Set<string>([
  ...ECHOED,
  'model',
  'input',
  'instructions',
  'previous_response_id',
  'conversation',
  'store',
  'stream',
  'background',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'max_output_tokens',
  'temperature',
  'top_p',
  'text',
  'reasoning',
  'metadata',
  'truncation',
  'context_management',
  'include',
  'user',
  'prompt',
  // Codex CLI sends it on every turn (its own bookkeeping, not in OpenAI's spec): accepted,
  // never forwarded (the runtime builds upstream requests from known fields only).
  'client_metadata',
]);

/** Validates a create body. `requireModel: false` for `/responses/input_tokens` (model optional there). */
export function parseCreateResponse(
  value: unknown,
  options: { requireModel?: boolean } = {},
): CreateResponseParams {
  if (!isRecord(value))
    throw invalidParam('Request body must be a JSON object.', null, 'invalid_type');
  for (const key of Object.keys(value)) {
    if (!KNOWN.has(key))
      throw invalidParam(`Unknown parameter: '${key}'.`, key, 'unknown_parameter');
  }
  const model = value['model'];
  if ((options.requireModel ?? true) && (typeof model !== 'string' || model === ''))
    throw invalidParam(
      "Missing required parameter: 'model'.",
      'model',
      'missing_required_parameter',
    );
  if (value['prompt'] != null)
    throw unsupportedParam(
      'Prompt templates are not supported by Switchyard; send instructions and input instead.',
      'prompt',
    );

  const echo: Record<string, unknown> = {};
  for (const key of ECHOED)
    if (value[key] != null && key !== 'stream_options' && key !== 'personality')
      echo[key] = value[key];
  const dropped = surfaceDrops(value, echo);
  if (value['client_metadata'] != null && !isRecord(value['client_metadata']))
    throw invalidParam(
      "Invalid type for 'client_metadata': expected an object.",
      'client_metadata',
      'invalid_type',
    );
  const prepared = prepareTools(value['tools']);
  const mcpTools = parseMcpTools(prepared.tools);
  const memory = parseMemoryTool(merged(value, { tools: prepared.tools }));
  const tools = parseTools(
    Array.isArray(prepared.tools)
      ? prepared.tools.filter(
          (tool) => !(isRecord(tool) && (tool['type'] === 'mcp' || tool['type'] === 'memory')),
        )
      : prepared.tools,
  );
  if (memory) {
    if (tools.some((tool) => tool.name === MEMORY_TOOL_NAME))
      throw invalidParam(
        `A function tool may not be named '${MEMORY_TOOL_NAME}' next to the memory tool.`,
        'tools',
      );
    tools.push({ ...MEMORY_FUNCTION });
  }
  return {
    model: typeof model === 'string' ? model : '',
    input: parseInput(value['input']),
    instructions: optionalString(value, 'instructions'),
    previousResponseId: optionalString(value, 'previous_response_id'),
    conversationId: parseConversation(value['conversation']),
    store: optionalBoolean(value, 'store') ?? true,
    stream: optionalBoolean(value, 'stream') ?? false,
    tools,
    toolChoice: parseToolChoice(value['tool_choice'], tools),
    parallelToolCalls: optionalBoolean(value, 'parallel_tool_calls'),
    maxOutputTokens: optionalInteger(value, 'max_output_tokens', 16),
    temperature: optionalNumber(value, 'temperature', 0, 2),
    topP: optionalNumber(value, 'top_p', 0, 1),
    text: parseText(value['text']),
    reasoning: parseReasoning(value['reasoning']),
    metadata: parseMetadata(value['metadata']),
    truncation: parseTruncation(value['truncation']),
    ...parseContextManagement(value['context_management']),
    include: parseInclude(value['include']),
    user: optionalString(value, 'user'),
    echo,
    ...(mcpTools.length > 0 ? { mcpTools } : {}),
    ...(memory ? { memory } : {}),
    ...(optionalBoolean(value, 'background') === true ? { background: true } : {}),
    ...(prepared.namespaced.size > 0 ? { namespaced: prepared.namespaced } : {}),
    ...(prepared.warnings.length + dropped.length > 0
      ? { warnings: [...prepared.warnings, ...dropped] }
      : {}),
  };
}

/**
 * Controls no deployment honours on /v1/responses (served over Chat Completions): removed from
 * the echo, so the Response shows what was done, and said in `x-switchyard-warnings`.
 * - `top_logprobs`: output text carries no logprobs here.
 * - `reasoning.summary`: no upstream is asked for a summary; reasoning text a model returns
 *   (Claude thinking, Gemini thoughts) is shown as `summary_text` whatever was asked.
 */
function surfaceDrops(value: Record<string, unknown>, echo: Record<string, unknown>): string[] {
  const warnings: string[] = [];
  if (typeof value['top_logprobs'] === 'number' && value['top_logprobs'] > 0)
    warnings.push('top_logprobs dropped: /v1/responses returns no logprobs');
  delete echo['top_logprobs'];
  const reasoning = value['reasoning'];
  if (isRecord(reasoning) && (reasoning['summary'] ?? reasoning['generate_summary']) != null)
    warnings.push('reasoning.summary dropped: no upstream is asked for a reasoning summary');
  return warnings;
}

/** `string` → one user message; null/absent → no input items. */
export function parseInput(input: unknown, param = 'input'): unknown[] {
  if (input == null) return [];
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  if (Array.isArray(input)) return input;
  throw invalidParam(
    `Invalid type for '${param}': expected a string or an array of input items.`,
    param,
    'invalid_type',
  );
}

/** `metadata`: ≤ 16 string values, keys ≤ 64 and values ≤ 512 characters. */
export function parseMetadata(value: unknown, param = 'metadata'): Record<string, string> {
  if (value == null) return {};
  if (!isRecord(value))
    throw invalidParam(`Invalid type for '${param}': expected an object.`, param, 'invalid_type');
  const entries = Object.entries(value);
  if (entries.length > 16)
    throw invalidParam(
      `Invalid '${param}': too many properties. Expected an object with at most 16 properties, but got ${entries.length} instead.`,
      param,
      'object_above_max_properties',
    );
  const out: Record<string, string> = {};
  for (const [key, item] of entries) {
    if (typeof item !== 'string')
      throw invalidParam(
        `Invalid type for '${param}.${key}': expected a string.`,
        `${param}.${key}`,
        'invalid_type',
      );
    if (key.length > 64)
      throw invalidParam(
        `Invalid '${param}': metadata keys must be at most 64 characters.`,
        param,
        'string_above_max_length',
      );
    if (item.length > 512)
      throw invalidParam(
        `Invalid '${param}.${key}': string too long. Expected a string with maximum length 512.`,
        `${param}.${key}`,
        'string_above_max_length',
      );
    out[key] = item;
  }
  return out;
}

function parseConversation(value: unknown): string | null {
  if (value == null) return null;
  if (typeof value === 'string' && value !== '') return value;
  if (isRecord(value) && typeof value['id'] === 'string' && value['id'] !== '') return value['id'];
  throw invalidParam(
    "Invalid 'conversation': expected a conversation id or {id}.",
    'conversation',
    'invalid_type',
  );
}

function parseText(value: unknown): { format: TextFormat; verbosity?: string | null } {
  if (value == null) return { format: { type: 'text' } };
  if (!isRecord(value))
    throw invalidParam("Invalid type for 'text': expected an object.", 'text', 'invalid_type');
  const verbosity = typeof value['verbosity'] === 'string' ? value['verbosity'] : null;
  const format = value['format'];
  if (format == null) return { format: { type: 'text' }, verbosity };
  if (!isRecord(format))
    throw invalidParam(
      "Invalid type for 'text.format': expected an object.",
      'text.format',
      'invalid_type',
    );
  if (format['type'] === 'text' || format['type'] === 'json_object')
    return { format: { type: format['type'] }, verbosity };
  if (format['type'] !== 'json_schema')
    throw invalidParam(
      `Invalid value for 'text.format.type': '${String(format['type'])}'.`,
      'text.format.type',
    );
  const name = format['name'];
  if (typeof name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(name))
    throw invalidParam(
      "Invalid 'text.format.name': expected 1-64 characters of a-z, A-Z, 0-9, _ and -.",
      'text.format.name',
    );
  if (!isRecord(format['schema']))
    throw invalidParam(
      "Missing required parameter: 'text.format.schema'.",
      'text.format.schema',
      'missing_required_parameter',
    );
  return {
    format: merged(format, { type: 'json_schema', name, schema: format['schema'] }) as TextFormat,
    verbosity,
  };
}

function parseReasoning(value: unknown): CreateResponseParams['reasoning'] {
  if (value == null) return null;
  if (!isRecord(value))
    throw invalidParam(
      "Invalid type for 'reasoning': expected an object.",
      'reasoning',
      'invalid_type',
    );
  const effort = value['effort'];
  // The summary asked for is not honoured (surfaceDrops): the Response echoes null.
  return { effort: typeof effort === 'string' ? effort : null, summary: null };
}

function parseTruncation(value: unknown): 'auto' | 'disabled' {
  if (value == null) return 'disabled';
  if (value === 'auto' || value === 'disabled') return value;
  throw invalidParam(
    `Invalid value for 'truncation': '${String(value)}'. Supported values are: 'auto' and 'disabled'.`,
    'truncation',
  );
}

function parseContextManagement(value: unknown): {
  compactThreshold: number | null;
  contextManagement: unknown;
} {
  if (value == null) return { compactThreshold: null, contextManagement: null };
  if (!Array.isArray(value) || value.length === 0)
    throw invalidParam(
      "Invalid 'context_management': expected a non-empty array.",
      'context_management',
      'invalid_type',
    );
  let threshold: number | null = null;
  value.forEach((entry, index) => {
    const at = `context_management[${index}]`;
    if (!isRecord(entry) || entry['type'] !== 'compaction')
      throw invalidParam(`Invalid '${at}.type': only 'compaction' is supported.`, `${at}.type`);
    const limit = entry['compact_threshold'];
    if (limit == null) return;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1000)
      throw invalidParam(
        `Invalid '${at}.compact_threshold': expected an integer >= 1000.`,
        `${at}.compact_threshold`,
      );
    threshold = limit;
  });
  return { compactThreshold: threshold, contextManagement: value };
}

function parseInclude(value: unknown): string[] {
  if (value == null) return [];
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string'))
    throw invalidParam(
      "Invalid type for 'include': expected an array of strings.",
      'include',
      'invalid_type',
    );
  return value as string[];
}
