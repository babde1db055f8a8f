import { invalidParam } from '../errors.js';
import type { Item } from '../types.js';
import type { McpToolParam } from './mcp-items.js';
import { merged, isRecord } from '../../core/objects.js';

/**
 * MCP items sent back as `input` by a client that keeps its own state (`store: false`, or no
 * `previous_response_id`): `mcp_list_tools`, `mcp_call`, `mcp_approval_request` and
 * `mcp_approval_response`, with the shapes of the OpenAI spec. They are checked here (a bad one
 * is a 400 in the API's error shape) and then take part in the run like items of a stored
 * chain: a listing is reused instead of listing the server again, a request answered by an
 * `mcp_approval_response` is run, a recorded call is the model's context.
 */

export const MCP_ITEM_TYPES = new Set([
  'mcp_list_tools',
  'mcp_call',
  'mcp_approval_request',
  'mcp_approval_response',
]);

const CALL_STATUSES = new Set(['in_progress', 'completed', 'incomplete', 'calling', 'failed']);

/** Validates one MCP input item (`id` is the client's id, or a fresh one where the spec lets it be absent). */
export function normalizeMcpItem(
  value: Record<string, unknown>,
  type: string,
  id: string,
  at: string,
): Item {
  const string = (field: string) => {
    if (value[field] == null || value[field] === '')
      throw invalidParam(
        `Missing required parameter: '${at}.${field}'.`,
        `${at}.${field}`,
        'missing_required_parameter',
      );
    if (typeof value[field] !== 'string')
      throw invalidParam(
        `Invalid type for '${at}.${field}': expected a string.`,
        `${at}.${field}`,
        'invalid_type',
      );
  };
  const optional = (field: string, check: (entry: unknown) => boolean, expected: string) => {
    if (value[field] != null && !check(value[field]))
      throw invalidParam(
        `Invalid type for '${at}.${field}': expected ${expected}.`,
        `${at}.${field}`,
        'invalid_type',
      );
  };
  const arguments_ = () => {
    if (value['arguments'] == null)
      throw invalidParam(
        `Missing required parameter: '${at}.arguments'.`,
        `${at}.arguments`,
        'missing_required_parameter',
      );
    if (typeof value['arguments'] !== 'string')
      throw invalidParam(
        `Invalid type for '${at}.arguments': expected a string (JSON).`,
        `${at}.arguments`,
        'invalid_type',
      );
  };
  switch (type) {
    case 'mcp_list_tools': {
      string('id');
      string('server_label');
      const tools = value['tools'];
      if (tools == null)
        throw invalidParam(
          `Missing required parameter: '${at}.tools'.`,
          `${at}.tools`,
          'missing_required_parameter',
        );
      if (!Array.isArray(tools))
        throw invalidParam(
          `Invalid type for '${at}.tools': expected an array.`,
          `${at}.tools`,
          'invalid_type',
        );
      tools.forEach((tool, index) => {
        const where = `${at}.tools[${index}]`;
        if (!isRecord(tool))
          throw invalidParam(
            `Invalid type for '${where}': expected an object.`,
            where,
            'invalid_type',
          );
        if (typeof tool['name'] !== 'string' || tool['name'] === '')
          throw invalidParam(
            `Missing required parameter: '${where}.name'.`,
            `${where}.name`,
            'missing_required_parameter',
          );
        if (tool['input_schema'] == null)
          throw invalidParam(
            `Missing required parameter: '${where}.input_schema'.`,
            `${where}.input_schema`,
            'missing_required_parameter',
          );
        if (!isRecord(tool['input_schema']))
          throw invalidParam(
            `Invalid type for '${where}.input_schema': expected an object.`,
            `${where}.input_schema`,
            'invalid_type',
          );
        if (tool['description'] != null && typeof tool['description'] !== 'string')
          throw invalidParam(
            `Invalid type for '${where}.description': expected a string.`,
            `${where}.description`,
            'invalid_type',
          );
        if (tool['annotations'] != null && !isRecord(tool['annotations']))
          throw invalidParam(
            `Invalid type for '${where}.annotations': expected an object.`,
            `${where}.annotations`,
            'invalid_type',
          );
      });
      optional('error', (entry) => typeof entry === 'string', 'a string');
      return merged(value, { type, id }) as Item;
    }
    case 'mcp_approval_request':
      string('id');
      string('server_label');
      string('name');
      arguments_();
      return merged(value, { type, id }) as Item;
    case 'mcp_approval_response':
      string('approval_request_id');
      if (value['approve'] == null)
        throw invalidParam(
          `Missing required parameter: '${at}.approve'.`,
          `${at}.approve`,
          'missing_required_parameter',
        );
      if (typeof value['approve'] !== 'boolean')
        throw invalidParam(
          `Invalid type for '${at}.approve': expected a boolean.`,
          `${at}.approve`,
          'invalid_type',
        );
      optional('reason', (entry) => typeof entry === 'string', 'a string');
      return merged(value, { type, id }) as Item;
    case 'mcp_call': {
      string('id');
      string('server_label');
      string('name');
      arguments_();
      optional('output', (entry) => typeof entry === 'string', 'a string');
      optional(
        'error',
        (entry) => typeof entry === 'string' || isRecord(entry),
        'a string or an object',
      );
      optional('approval_request_id', (entry) => typeof entry === 'string', 'a string');
      const status = value['status'];
      if (status != null && (typeof status !== 'string' || !CALL_STATUSES.has(status))) {
        throw invalidParam(
          `Invalid value for '${at}.status': expected one of 'in_progress', 'completed', 'incomplete', 'calling' or 'failed'.`,
          `${at}.status`,
        );
      }
      return merged(value, { type, id }) as Item;
    }
    default:
      throw invalidParam(`Invalid '${at}.type': '${type}' is not an MCP item.`, `${at}.type`);
  }
}

/**
 * Checks, before a run starts, that every approving `mcp_approval_response` of the input can be
 * carried out: its `mcp_approval_request` is in the chain or in the input (or was already run),
 * and that request's server is in `tools`. Otherwise the request is a 400, not a failed run.
 */
export function checkApprovals(history: Item[], input: Item[], mcpTools: McpToolParam[]): void {
  const context = [...history, ...input];
  for (const answer of input) {
    if (answer.type !== 'mcp_approval_response' || answer['approve'] !== true) continue;
    const requestId = String(answer['approval_request_id']);
    if (
      context.some((item) => item.type === 'mcp_call' && item['approval_request_id'] === requestId)
    )
      continue;
    const asked = context.find(
      (item) => item.type === 'mcp_approval_request' && item.id === requestId,
    );
    if (!asked) {
      throw invalidParam(
        `No mcp_approval_request with id '${requestId}' was found in the previous response chain or in 'input'; send it back with the approval when previous_response_id is not used.`,
        'input',
      );
    }
    if (!mcpTools.some((tool) => tool.server_label === asked['server_label'])) {
      throw invalidParam(
        `The approved call '${requestId}' is for the MCP server '${String(asked['server_label'])}', which is not in 'tools'.`,
        'tools',
      );
    }
  }
}
