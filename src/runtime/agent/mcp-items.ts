import type { Item, McpToolParam } from '../types.js';
import { merged } from '../../core/objects.js';

export type { McpToolParam } from '../types.js';

/** The tool as the Response echoes it: no headers. */
export function echoMcpTool(tool: McpToolParam): Record<string, unknown> {
  const { headers: _headers, authorization: _authorization, ...rest } = tool;
  return merged(rest, {
    headers: null,
    allowed_tools: tool.allowed_tools ?? null,
    require_approval: tool.require_approval ?? 'always',
    server_description: tool.server_description ?? null,
  });
}

/** Whether a tool name passes the server's `allowed_tools`. */
export function toolAllowed(tool: McpToolParam, name: string): boolean {
  const allowed = tool.allowed_tools;
  if (allowed == null) return true;
  if (Array.isArray(allowed)) return allowed.includes(name);
  if (Array.isArray(allowed.tool_names)) return allowed.tool_names.includes(name);
  return true;
}

/** Whether calling `name` needs an approval (`require_approval`, default `always`). */
export function needsApproval(tool: McpToolParam, name: string): boolean {
  const rule = tool.require_approval ?? 'always';
  if (rule === 'always') return true;
  if (rule === 'never') return false;
  if (rule.never?.tool_names?.includes(name)) return false;
  if (rule.always?.tool_names?.includes(name)) return true;
  // A filter object naming only `never` tools: the others need approval; naming only `always`: the others do not.
  if (rule.always && !rule.never) return false;
  return true;
}

export const DENIED_OUTPUT = 'The user denied this tool call; do not retry it.';

/**
 * Items with MCP items → items the chat mapping understands: an executed `mcp_call` becomes a
 * function call and its output (the error as output when it failed); a denied
 * `mcp_approval_request` becomes a call answered "denied"; listings, pending requests and
 * approval responses are dropped (they are not part of the model's context).
 */
export function mcpItemsForModel(items: Item[]): Item[] {
  const answers = new Map<string, boolean>();
  for (const item of items)
    if (item.type === 'mcp_approval_response')
      answers.set(String(item['approval_request_id']), item['approve'] === true);
  const out: Item[] = [];
  for (const item of items) {
    switch (item.type) {
      case 'mcp_call': {
        if (item['output'] == null && item['error'] == null) break;
        out.push({
          type: 'function_call',
          id: `${String(item.id)}_fc`,
          call_id: String(item.id),
          name: String(item['name']),
          arguments: String(item['arguments'] ?? '{}'),
        });
        out.push({
          type: 'function_call_output',
          id: `${String(item.id)}_fco`,
          call_id: String(item.id),
          output:
            item['error'] != null ? `Error: ${errorText(item['error'])}` : String(item['output']),
        });
        break;
      }
      case 'mcp_approval_request': {
        if (answers.get(String(item.id)) === false) {
          out.push({
            type: 'function_call',
            id: `${String(item.id)}_fc`,
            call_id: String(item.id),
            name: String(item['name']),
            arguments: String(item['arguments'] ?? '{}'),
          });
          out.push({
            type: 'function_call_output',
            id: `${String(item.id)}_fco`,
            call_id: String(item.id),
            output: DENIED_OUTPUT,
          });
        }
        break;
      }
      case 'mcp_list_tools':
      case 'mcp_approval_response':
        break;
      default:
        out.push(item);
    }
  }
  return out;
}

/** An `mcp_call` error as text: ours are strings; a client may send the spec's error objects back. */
function errorText(error: unknown): string {
  if (typeof error === 'string') return error;
  if (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
  )
    return (error as { message: string }).message;
  return JSON.stringify(error);
}
