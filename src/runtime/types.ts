import type { ApiKind } from '../config/index.js';
import type { Principal } from '../gateway/types.js';

/**
 * Types of the Responses/Conversations runtime. Items and Response objects follow the OpenAI
 * OpenAPI spec (../shared/specs/openai-openapi.yaml: `InputItem`, `OutputItem`, `Response`);
 * they are kept as loose records so fields this runtime does not interpret survive storage.
 */

/** An item (`message`, `function_call`, `function_call_output`, `reasoning`, `compaction`, …). */
export type Item = Record<string, unknown> & { type: string; id?: string };

/** A function tool as the Responses API declares it. */
export interface FunctionTool {
  type: 'function';
  name: string;
  description?: string | null;
  parameters?: Record<string, unknown> | null;
  strict?: boolean | null;
  [key: string]: unknown;
}

/** `text.format` of a request. */
export type TextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      name: string;
      schema?: Record<string, unknown>;
      strict?: boolean | null;
      description?: string | null;
    };

/** `tool_choice` of a request. */
export type ToolChoice =
  | 'none'
  | 'auto'
  | 'required'
  | { type: 'function'; name: string }
  | {
      type: 'allowed_tools';
      mode: 'auto' | 'required';
      tools: Array<{ type: 'function'; name: string }>;
    };

/** A validated `POST /v1/responses` body (see surfaces/openai-responses/validate.ts). */
export interface CreateResponseParams {
  model: string;
  /** Input items as sent, not yet normalized (a string input is already one user message). */
  input: unknown[];
  instructions: string | null;
  previousResponseId: string | null;
  conversationId: string | null;
  store: boolean;
  stream: boolean;
  tools: FunctionTool[];
  toolChoice: ToolChoice;
  parallelToolCalls: boolean | null;
  maxOutputTokens: number | null;
  temperature: number | null;
  topP: number | null;
  text: { format: TextFormat; verbosity?: string | null };
  reasoning: { effort?: string | null; summary?: string | null } | null;
  metadata: Record<string, string>;
  truncation: 'auto' | 'disabled';
  /** Compaction threshold in tokens from `context_management`, or null when not requested. */
  compactThreshold: number | null;
  /** `context_management` echoed as sent. */
  contextManagement: unknown;
  include: string[];
  user: string | null;
  /** Fields echoed in the Response as sent (service_tier, safety_identifier, prompt_cache_key, …). */
  echo: Record<string, unknown>;
  /** `{type: "mcp"}` tools (server-run by the agent layer, runtime/agent). */
  mcpTools?: McpToolParam[];
  /** `{type: "memory"}` was listed: the memory of this user (`safety_identifier`, else `user`) of the tenant (runtime/tools/memory-tool.ts). */
  memory?: { user: string };
  /** `background: true`: run asynchronously (runtime/agent). */
  background?: boolean;
  /** Function tools flattened out of `namespace` tools (tools/hosted-tools.ts), to map calls back. */
  namespaced?: Map<string, { namespace: string; name: string }>;
  /** What the request lost on the way (dropped hosted tools), for the `x-switchyard-warnings` header. */
  warnings?: string[];
}

/** Who asks and on which request: passed to every runtime operation. */
export interface CallContext {
  principal: Principal;
  /** HTTP request id; the main model call uses it, a compaction call `<id>:compact`. */
  requestId: string;
  signal: AbortSignal;
  tags?: string[] | undefined;
  /** The caller asked for `usage.cost` (header `x-switchyard-include-cost`). */
  includeCost?: boolean | undefined;
  /** API kind of the model calls made for this request (licence `apis`); default `stateful`. */
  apiKind?: ApiKind | undefined;
}

/** `ResponseUsage`. */
export interface ResponseUsage {
  input_tokens: number;
  /** `cache_write_tokens`: extension, prompt-cache writes (Anthropic, Bedrock), when any. */
  input_tokens_details: { cached_tokens: number; cache_write_tokens?: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
  /** Switchyard's extension: the booked cost, USD, when the caller asked for it. */
  cost?: number;
}

/** The Response object (`object: "response"`). */
export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: 'completed' | 'failed' | 'in_progress' | 'cancelled' | 'queued' | 'incomplete';
  completed_at: number | null;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  output: Item[];
  usage: ResponseUsage | null;
  [key: string]: unknown;
}

/** One keyset page request (`limit` 1–100, `order`, `after` = item id). */
export interface ListOptions {
  limit: number;
  order: 'asc' | 'desc';
  after?: string | undefined;
}

/** `{object: "list", data, first_id, last_id, has_more}`. */
export interface ItemList {
  object: 'list';
  data: Item[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** A `{type: "mcp"}` tool of a request, as validated (headers kept apart from what is echoed). */
export interface McpToolParam {
  type: 'mcp';
  server_label: string;
  server_url: string;
  /** Secret headers: used for the connection only, never stored in items, events or logs. */
  headers?: Record<string, string> | null;
  allowed_tools?: string[] | { tool_names?: string[] | null; read_only?: boolean | null } | null;
  require_approval?:
    | 'always'
    | 'never'
    | {
        always?: { tool_names?: string[] | null } | null;
        never?: { tool_names?: string[] | null } | null;
      }
    | null;
  server_description?: string | null;
  [key: string]: unknown;
}
