import type { RuntimeDeps } from '../../deps.js';
import type { McpSession, McpToolInfo } from '../../tools/mcp-client.js';
import type { HttpTool } from '../../tools/http-tools.js';
import type { CreateResponseParams, Item } from '../../types.js';
import type { McpToolParam } from '../mcp-items.js';
import type { AgentLimits, AgentRequest, AgentState, Checkpointer } from './types.js';

/**
 * One run of the loop as its steps see it: what runAgent (run-agent.ts) sets up before its first
 * step, handed to the helpers that record the model's answer (model-answer.ts), run the tool
 * calls (tool-calls.ts) and end the run (finish.ts).
 */
export interface AgentRun {
  deps: RuntimeDeps;
  limits: AgentLimits;
  request: AgentRequest;
  params: CreateResponseParams;
  /** The checkpointed progress, changed in place by every step. */
  state: AgentState;
  checkpoints: Checkpointer;
  /** Aborts tool calls (see runAgent). */
  toolSignal: AbortSignal;
  /** Numbers an event, records it in `state.events` and passes it on. */
  emit: (event: Record<string, unknown>) => void;
  /** Appends an item to the output; returns its index. */
  place: (item: Item) => number;
  /** Checkpoints the state; throws RunStopped when the run should stop. */
  save: () => Promise<void>;
  /** The MCP session of a server, opened on first use (and closed when the run ends). */
  session: (tool: McpToolParam) => Promise<McpSession>;
  /** Tools of each MCP server, by server label. */
  listed: Map<string, McpToolInfo[]>;
  /** The MCP server of each MCP tool offered to the model, by tool name. */
  byName: Map<string, McpToolParam>;
  /** Server-registered HTTP tools the request lists, by name. */
  httpByName: Map<string, HttpTool>;
}
