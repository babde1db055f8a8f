import type { Principal } from '../../../gateway/types.js';
import type { RuntimeDeps } from '../../deps.js';
import type { HttpTool } from '../../tools/http-tools.js';
import type { OutboundPolicy } from '../../tools/ssrf.js';
import type { CreateResponseParams, Item, ResponseObject, ResponseUsage } from '../../types.js';
import type { McpToolParam } from '../mcp-items.js';
import type { StopReason } from './errors.js';

/** Limits of the loop (config `runtime.tools`). */
export interface AgentLimits {
  policy: OutboundPolicy;
  /** Per MCP request (connect, list, call), ms. */
  toolTimeoutMs: number;
  /** Model calls per response. */
  maxSteps: number;
  /** Tool output kept (characters); longer output is truncated. */
  maxToolOutputChars: number;
  /** A non-idempotent call interrupted by a crash: record it failed and go on, or fail the run. Default `continue`. */
  interruptedCalls?: 'continue' | 'fail';
}

/** What a run needs to start or resume (stored in the run row; tool headers included). */
export interface AgentRequest {
  params: CreateResponseParams;
  mcpTools: McpToolParam[];
  /** Server-registered HTTP tools the request lists (tools/http-tools.ts). */
  httpTools?: HttpTool[];
  principal: Principal;
  requestId: string;
  tags?: string[] | undefined;
}

/** The checkpointed progress of a run. */
export interface AgentState {
  /** History (chain or conversation) and this request's input, fixed at the start. */
  history: Item[];
  input: Item[];
  output: Item[];
  usage: ResponseUsage | null;
  steps: number;
  /** Ids of `mcp_call` items whose call was started. */
  started: string[];
  /** Events emitted so far (numbered). */
  events: Array<Record<string, unknown>>;
  /** Set when the run reached its end. */
  done: boolean;
}

/** Where a run's progress goes. Returns `cancel: true` when the run should stop. */
export interface Checkpointer {
  save(state: AgentState, response: ResponseObject): Promise<{ stop: StopReason | null }>;
  /**
   * Called once the final response is stored: a background run deleted while it ended (its row
   * gone) removes what was just stored, so a DELETE racing the end of a run still wins.
   */
  persisted?(): Promise<void>;
}

/** What one run works on, the same for every caller (a JSON answer, a stream, a background run). */
export interface RunInputs {
  deps: RuntimeDeps;
  limits: AgentLimits;
  request: AgentRequest;
  shell: ResponseObject;
  state: AgentState;
  checkpoints: Checkpointer;
}

/** How a caller follows and stops one run. */
export interface RunControl {
  /** Stops the run at its next step. */
  signal: AbortSignal;
  /** Each event, numbered, as the run emits it. */
  onEvent?: (event: Record<string, unknown>) => void;
  /**
   * Aborts tool calls: `signal` unless the caller lets a tool call in flight finish (and its
   * result be recorded) after `signal` stopped the run (handover).
   */
  toolSignal?: AbortSignal;
  /** Called once every MCP server's tool list was read (before any model call). */
  onListed?: () => void;
}
