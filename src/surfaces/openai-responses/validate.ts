import {
  type CreateResponseParams,
  type FunctionTool,
  invalidParam,
  type TextFormat,
  type ToolChoice,
  unsupportedParam,
} from '../../runtime/index.js';
import type { McpToolParam } from '../../runtime/agent/mcp-items.js';
import { prepareTools } from '../../runtime/tools/hosted-tools.js';
import { checkKey } from '../../runtime/tools/memory-store.js';
import { MEMORY_FUNCTION, MEMORY_TOOL_NAME } from '../../runtime/tools/memory-tool.js';
import { isObject } from '../openai/validate.js';

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
  if (!isObject(value))
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
  if (value['client_metadata'] != null && !isObject(value['client_metadata']))
    throw invalidParam(
      "Invalid type for 'client_metadata': expected an object.",
      'client_metadata',
      'invalid_type',
    );
  const prepared = prepareTools(value['tools']);
  const mcpTools = parseMcpTools(prepared.tools);
  const memory = parseMemoryTool({ ...value, tools: prepared.tools });
  const tools = parseTools(
    Array.isArray(prepared.tools)
      ? prepared.tools.filter(
          (tool) => !(isObject(tool) && (tool['type'] === 'mcp' || tool['type'] === 'memory')),
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
  if (isObject(reasoning) && (reasoning['summary'] ?? reasoning['generate_summary']) != null)
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
  if (!isObject(value))
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
  if (isObject(value) && typeof value['id'] === 'string' && value['id'] !== '') return value['id'];
  throw invalidParam(
    "Invalid 'conversation': expected a conversation id or {id}.",
    'conversation',
    'invalid_type',
  );
}

/** `{type: "mcp", server_label, server_url, headers?, allowed_tools?, require_approval?}` tools. */
function parseMcpTools(value: unknown): McpToolParam[] {
  if (!Array.isArray(value)) return [];
  const out: McpToolParam[] = [];
  value.forEach((tool, index) => {
    if (!isObject(tool) || tool['type'] !== 'mcp') return;
    const at = `tools[${index}]`;
    for (const field of ['server_label', 'server_url']) {
      if (typeof tool[field] !== 'string' || tool[field] === '') {
        if (field === 'server_url' && tool['connector_id'] != null)
          throw unsupportedParam(
            'MCP connectors are not supported by Switchyard; give a server_url.',
            `${at}.connector_id`,
          );
        throw invalidParam(
          `Missing required parameter: '${at}.${field}'.`,
          `${at}.${field}`,
          'missing_required_parameter',
        );
      }
    }
    const headers = tool['headers'];
    if (
      headers != null &&
      (!isObject(headers) || !Object.values(headers).every((entry) => typeof entry === 'string'))
    )
      throw invalidParam(
        `Invalid type for '${at}.headers': expected an object of strings.`,
        `${at}.headers`,
        'invalid_type',
      );
    const approval = tool['require_approval'];
    if (approval != null && approval !== 'always' && approval !== 'never' && !isObject(approval))
      throw invalidParam(`Invalid value for '${at}.require_approval'.`, `${at}.require_approval`);
    const allowed = tool['allowed_tools'];
    if (allowed != null && !Array.isArray(allowed) && !isObject(allowed))
      throw invalidParam(
        `Invalid type for '${at}.allowed_tools'.`,
        `${at}.allowed_tools`,
        'invalid_type',
      );
    if (out.some((other) => other.server_label === tool['server_label']))
      throw invalidParam(
        `Duplicate MCP server_label '${String(tool['server_label'])}'.`,
        `${at}.server_label`,
      );
    const authorization: Record<string, string> =
      typeof tool['authorization'] === 'string'
        ? { authorization: `Bearer ${tool['authorization']}` }
        : {};
    out.push({
      ...(tool as McpToolParam),
      headers: {
        ...authorization,
        ...((headers as Record<string, string> | null | undefined) ?? {}),
      },
    });
  });
  return out;
}

/**
 * `{type: "memory"}` (a Switchyard extension, runtime/tools/memory-tool.ts): the memory of the
 * user named by `safety_identifier`, else `user`; one of them is required.
 */
function parseMemoryTool(value: Record<string, unknown>): { user: string } | undefined {
  if (!Array.isArray(value['tools'])) return undefined;
  const index = value['tools'].findIndex((tool) => isObject(tool) && tool['type'] === 'memory');
  if (index < 0) return undefined;
  const at = `tools[${index}]`;
  for (const key of Object.keys(value['tools'][index] as object))
    if (key !== 'type')
      throw invalidParam(`Unknown parameter: '${at}.${key}'.`, `${at}.${key}`, 'unknown_parameter');
  if (value['tools'].filter((tool) => isObject(tool) && tool['type'] === 'memory').length > 1)
    throw invalidParam('The memory tool may be listed once.', at);
  const user = optionalString(value, 'safety_identifier') ?? optionalString(value, 'user');
  if (user === null || user === '')
    throw invalidParam(
      "The memory tool needs 'safety_identifier' (or 'user'): the id of the end user whose memory it reads and writes.",
      'safety_identifier',
      'missing_required_parameter',
    );
  try {
    checkKey(user, 'safety_identifier');
  } catch (error) {
    throw invalidParam(
      `Invalid 'safety_identifier' for the memory tool: ${(error as Error).message}.`,
      'safety_identifier',
    );
  }
  return { user };
}

function parseTools(value: unknown): FunctionTool[] {
  if (value == null) return [];
  if (!Array.isArray(value))
    throw invalidParam("Invalid type for 'tools': expected an array.", 'tools', 'invalid_type');
  return value.map((tool, index): FunctionTool => {
    const at = `tools[${index}]`;
    if (!isObject(tool))
      throw invalidParam(`Invalid type for '${at}': expected an object.`, at, 'invalid_type');
    if (tool['type'] !== 'function')
      throw unsupportedParam(
        `Tools of type '${String(tool['type'])}' are not supported by Switchyard yet; only function tools are.`,
        `${at}.type`,
      );
    if (typeof tool['name'] !== 'string' || tool['name'] === '')
      throw invalidParam(
        `Missing required parameter: '${at}.name'.`,
        `${at}.name`,
        'missing_required_parameter',
      );
    if (tool['parameters'] != null && !isObject(tool['parameters']))
      throw invalidParam(
        `Invalid type for '${at}.parameters': expected an object.`,
        `${at}.parameters`,
        'invalid_type',
      );
    return tool as FunctionTool;
  });
}

function parseToolChoice(value: unknown, tools: FunctionTool[]): ToolChoice {
  if (value == null) return 'auto';
  if (value === 'none' || value === 'auto' || value === 'required') return value;
  const names = new Set(tools.map((tool) => tool.name));
  if (isObject(value) && value['type'] === 'function' && typeof value['name'] === 'string') {
    if (!names.has(value['name']))
      throw invalidParam(
        `Invalid 'tool_choice': function '${value['name']}' is not in 'tools'.`,
        'tool_choice',
      );
    return { type: 'function', name: value['name'] };
  }
  if (isObject(value) && value['type'] === 'allowed_tools' && Array.isArray(value['tools'])) {
    const mode = value['mode'] === 'required' ? 'required' : 'auto';
    const allowed = value['tools'].map((tool, index) => {
      if (!isObject(tool) || tool['type'] !== 'function' || typeof tool['name'] !== 'string')
        throw unsupportedParam(
          'allowed_tools may list function tools only.',
          `tool_choice.tools[${index}]`,
        );
      return { type: 'function' as const, name: tool['name'] };
    });
    return { type: 'allowed_tools', mode, tools: allowed };
  }
  if (typeof value === 'string')
    throw invalidParam(
      `Invalid value for 'tool_choice': '${value}'. Supported values are: 'none', 'auto', and 'required'.`,
      'tool_choice',
    );
  throw unsupportedParam(
    'This tool_choice is not supported by Switchyard; use none, auto, required, a function or allowed_tools.',
    'tool_choice',
  );
}

function parseText(value: unknown): { format: TextFormat; verbosity?: string | null } {
  if (value == null) return { format: { type: 'text' } };
  if (!isObject(value))
    throw invalidParam("Invalid type for 'text': expected an object.", 'text', 'invalid_type');
  const verbosity = typeof value['verbosity'] === 'string' ? value['verbosity'] : null;
  const format = value['format'];
  if (format == null) return { format: { type: 'text' }, verbosity };
  if (!isObject(format))
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
  if (!isObject(format['schema']))
    throw invalidParam(
      "Missing required parameter: 'text.format.schema'.",
      'text.format.schema',
      'missing_required_parameter',
    );
  return {
    format: { ...format, type: 'json_schema', name, schema: format['schema'] } as TextFormat,
    verbosity,
  };
}

function parseReasoning(value: unknown): CreateResponseParams['reasoning'] {
  if (value == null) return null;
  if (!isObject(value))
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
    if (!isObject(entry) || entry['type'] !== 'compaction')
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

function optionalString(value: Record<string, unknown>, field: string): string | null {
  const item = value[field];
  if (item == null) return null;
  if (typeof item !== 'string')
    throw invalidParam(`Invalid type for '${field}': expected a string.`, field, 'invalid_type');
  return item;
}

function optionalBoolean(value: Record<string, unknown>, field: string): boolean | null {
  const item = value[field];
  if (item == null) return null;
  if (typeof item !== 'boolean')
    throw invalidParam(`Invalid type for '${field}': expected a boolean.`, field, 'invalid_type');
  return item;
}

function optionalNumber(
  value: Record<string, unknown>,
  field: string,
  min: number,
  max: number,
): number | null {
  const item = value[field];
  if (item == null) return null;
  if (typeof item !== 'number' || !Number.isFinite(item))
    throw invalidParam(`Invalid type for '${field}': expected a number.`, field, 'invalid_type');
  if (item < min || item > max)
    throw invalidParam(
      `Invalid '${field}': expected a value between ${min} and ${max}, but got ${item} instead.`,
      field,
    );
  return item;
}

function optionalInteger(
  value: Record<string, unknown>,
  field: string,
  min: number,
): number | null {
  const item = value[field];
  if (item == null) return null;
  if (typeof item !== 'number' || !Number.isInteger(item))
    throw invalidParam(`Invalid type for '${field}': expected an integer.`, field, 'invalid_type');
  if (item < min)
    throw invalidParam(
      `Invalid '${field}': integer below minimum value. Expected a value >= ${min}, but got ${item} instead.`,
      field,
      'integer_below_min_value',
    );
  return item;
}
