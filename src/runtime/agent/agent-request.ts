import type { Principal } from '../../gateway/types.js';
import { loadContext } from '../context.js';
import type { RuntimeDeps } from '../deps.js';
import { invalidParam } from '../errors.js';
import { responseShell } from '../response-object.js';
import type { CreateResponseParams, Item, ResponseObject } from '../types.js';
import type { AgentState } from './loop/types.js';
import { checkApprovals } from './mcp-input.js';
import { echoMcpTool, type McpToolParam } from './mcp-items.js';
import { merged, isRecord } from '../../core/objects.js';

/**
 * A request as the agent runtime (service.ts) takes it in: whether it is an agent request at all,
 * the state its run starts from and the response shell its events carry.
 */

/** Whether a request runs through the agent loop (server-run tools, MCP items or background mode). */
export const isAgentRequest = (params: CreateResponseParams, httpTools: unknown[]) =>
  httpTools.length > 0 ||
  (params.mcpTools?.length ?? 0) > 0 ||
  params.background === true ||
  params.input.some(
    (item) => isRecord(item) && typeof item['type'] === 'string' && item['type'].startsWith('mcp_'),
  );

/** Normalizes the request's context once (approval responses are kept as input items). */
export async function initialState(
  deps: RuntimeDeps,
  params: CreateResponseParams,
  principal: Principal,
): Promise<AgentState> {
  const approvals: Item[] = [];
  const rest: unknown[] = [];
  for (const item of params.input) {
    if (isRecord(item) && item['type'] === 'mcp_approval_response') {
      if (typeof item['approval_request_id'] !== 'string' || typeof item['approve'] !== 'boolean') {
        throw invalidParam(
          "An mcp_approval_response needs 'approval_request_id' (string) and 'approve' (boolean).",
          'input',
        );
      }
      approvals.push(
        merged(item, {
          type: 'mcp_approval_response',
          id: typeof item['id'] === 'string' ? item['id'] : deps.ids('mcpa_'),
        }) as Item,
      );
    } else rest.push(item);
  }
  const loaded = await loadContext(
    deps.repository,
    {
      tenantId: principal.tenantId,
      previousResponseId: params.previousResponseId,
      conversationId: params.conversationId,
      input: rest,
    },
    deps.clock(),
    deps.ids,
  );
  checkApprovals(loaded.history, [...loaded.input, ...approvals], params.mcpTools ?? []);
  return {
    history: loaded.history,
    input: [...loaded.input, ...approvals],
    output: [],
    usage: null,
    steps: 0,
    started: [],
    events: [],
    done: false,
  };
}

/** The response object of a new agent run, before it ran (its MCP tools echoed). */
export function shellFor(
  params: CreateResponseParams,
  mcpTools: McpToolParam[],
  id: string,
  createdAt: number,
): ResponseObject {
  const shell = responseShell(params, id, createdAt);
  return merged(shell, {
    background: params.background === true,
    tools: [...(shell['tools'] as unknown[]), ...mcpTools.map(echoMcpTool)],
  });
}
