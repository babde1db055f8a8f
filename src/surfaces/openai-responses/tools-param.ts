import {
  type FunctionTool,
  invalidParam,
  type ToolChoice,
  unsupportedParam,
} from '../../runtime/index.js';
import type { McpToolParam } from '../../runtime/agent/mcp-items.js';
import { checkKey } from '../../runtime/tools/memory-store.js';
import { optionalString } from './fields.js';
import { merged, isRecord } from '../../core/objects.js';

/** The `tools` and `tool_choice` of a `CreateResponse`: function tools, MCP servers, the memory tool. */

/** `{type: "mcp", server_label, server_url, headers?, allowed_tools?, require_approval?}` tools. */
export function parseMcpTools(value: unknown): McpToolParam[] {
  if (!Array.isArray(value)) return [];
  const out: McpToolParam[] = [];
  value.forEach((tool, index) => {
    if (!isRecord(tool) || tool['type'] !== 'mcp') return;
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
      (!isRecord(headers) || !Object.values(headers).every((entry) => typeof entry === 'string'))
    )
      throw invalidParam(
        `Invalid type for '${at}.headers': expected an object of strings.`,
        `${at}.headers`,
        'invalid_type',
      );
    const approval = tool['require_approval'];
    if (approval != null && approval !== 'always' && approval !== 'never' && !isRecord(approval))
      throw invalidParam(`Invalid value for '${at}.require_approval'.`, `${at}.require_approval`);
    const allowed = tool['allowed_tools'];
    if (allowed != null && !Array.isArray(allowed) && !isRecord(allowed))
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
    out.push(
      merged(tool as McpToolParam, {
        headers: merged(
          authorization,
          (headers as Record<string, string> | null | undefined) ?? {},
        ),
      }),
    );
  });
  return out;
}

/**
 * `{type: "memory"}` (a Switchyard extension, runtime/tools/memory-tool.ts): the memory of the
 * user named by `safety_identifier`, else `user`; one of them is required.
 */
export function parseMemoryTool(value: Record<string, unknown>): { user: string } | undefined {
  if (!Array.isArray(value['tools'])) return undefined;
  const index = value['tools'].findIndex((tool) => isRecord(tool) && tool['type'] === 'memory');
  if (index < 0) return undefined;
  const at = `tools[${index}]`;
  for (const key of Object.keys(value['tools'][index] as object))
    if (key !== 'type')
      throw invalidParam(`Unknown parameter: '${at}.${key}'.`, `${at}.${key}`, 'unknown_parameter');
  if (value['tools'].filter((tool) => isRecord(tool) && tool['type'] === 'memory').length > 1)
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

export function parseTools(value: unknown): FunctionTool[] {
  if (value == null) return [];
  if (!Array.isArray(value))
    throw invalidParam("Invalid type for 'tools': expected an array.", 'tools', 'invalid_type');
  return value.map((tool, index): FunctionTool => {
    const at = `tools[${index}]`;
    if (!isRecord(tool))
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
    if (tool['parameters'] != null && !isRecord(tool['parameters']))
      throw invalidParam(
        `Invalid type for '${at}.parameters': expected an object.`,
        `${at}.parameters`,
        'invalid_type',
      );
    return tool as FunctionTool;
  });
}

export function parseToolChoice(value: unknown, tools: FunctionTool[]): ToolChoice {
  if (value == null) return 'auto';
  if (value === 'none' || value === 'auto' || value === 'required') return value;
  const names = new Set(tools.map((tool) => tool.name));
  if (isRecord(value) && value['type'] === 'function' && typeof value['name'] === 'string') {
    if (!names.has(value['name']))
      throw invalidParam(
        `Invalid 'tool_choice': function '${value['name']}' is not in 'tools'.`,
        'tool_choice',
      );
    return { type: 'function', name: value['name'] };
  }
  if (isRecord(value) && value['type'] === 'allowed_tools' && Array.isArray(value['tools'])) {
    const mode = value['mode'] === 'required' ? 'required' : 'auto';
    const allowed = value['tools'].map((tool, index) => {
      if (!isRecord(tool) || tool['type'] !== 'function' || typeof tool['name'] !== 'string')
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
