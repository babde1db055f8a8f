/**
 * Bedrock Converse / ConverseStream wire shapes (JSON as restJson1 serialises them: blobs are
 * base64 strings). Only the members Switchyard reads or writes are typed; every object keeps an
 * index signature so unknown members survive. Source: ../shared/specs/bedrock-runtime.json and
 * ../shared/protocols/bedrock.md §3–5.
 */

/** A ContentBlock union member set: exactly one key is present. */
export interface ConverseContentBlock {
  text?: string;
  image?: {
    format: string;
    source: { bytes?: string; s3Location?: { uri: string; bucketOwner?: string } };
  };
  document?: Record<string, unknown>;
  toolUse?: { toolUseId: string; name: string; input: unknown; type?: string };
  toolResult?: {
    toolUseId: string;
    content: ConverseToolResultContent[];
    status?: 'success' | 'error';
    type?: string;
  };
  reasoningContent?: {
    reasoningText?: { text: string; signature?: string };
    redactedContent?: string;
  };
  cachePoint?: { type: 'default'; ttl?: string };
  [key: string]: unknown;
}

/** A ToolResultContentBlock: `json`, `text`, `image` or `document`. */
export interface ConverseToolResultContent {
  json?: unknown;
  text?: string;
  image?: ConverseContentBlock['image'];
  document?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ConverseMessage {
  role: 'user' | 'assistant';
  content: ConverseContentBlock[];
}

/** SystemContentBlock: `text`, `guardContent` or `cachePoint`. */
export interface ConverseSystemBlock {
  text?: string;
  cachePoint?: { type: 'default'; ttl?: string };
  [key: string]: unknown;
}

export interface ConverseTool {
  toolSpec?: {
    name: string;
    description?: string;
    inputSchema: { json: unknown };
    strict?: boolean;
  };
  cachePoint?: { type: 'default' };
  [key: string]: unknown;
}

export type ConverseToolChoice =
  | { auto: Record<string, never> }
  | { any: Record<string, never> }
  | { tool: { name: string } };

export interface ConverseInferenceConfig {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stopSequences?: string[];
}

/** ConverseRequest / ConverseStreamRequest body (modelId is in the path). */
export interface ConverseRequest {
  messages?: ConverseMessage[];
  system?: ConverseSystemBlock[];
  inferenceConfig?: ConverseInferenceConfig;
  toolConfig?: { tools: ConverseTool[]; toolChoice?: ConverseToolChoice };
  additionalModelRequestFields?: Record<string, unknown>;
  additionalModelResponseFieldPaths?: string[];
  requestMetadata?: Record<string, string>;
  outputConfig?: {
    textFormat?: {
      type: 'json_schema';
      structure: { jsonSchema: { schema: string; name?: string; description?: string } };
    };
  };
  [key: string]: unknown;
}

export type ConverseStopReason =
  | 'end_turn'
  | 'tool_use'
  | 'max_tokens'
  | 'stop_sequence'
  | 'guardrail_intervened'
  | 'content_filtered'
  | 'malformed_model_output'
  | 'malformed_tool_use'
  | 'model_context_window_exceeded';

export interface ConverseTokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
  [key: string]: unknown;
}

export interface ConverseResponse {
  output: { message?: ConverseMessage };
  stopReason: ConverseStopReason | string;
  usage: ConverseTokenUsage;
  metrics: { latencyMs: number };
  additionalModelResponseFields?: unknown;
  [key: string]: unknown;
}

/** ContentBlockDelta union. */
export interface ConverseDelta {
  text?: string;
  toolUse?: { input: string };
  reasoningContent?: { text?: string; signature?: string; redactedContent?: string };
  [key: string]: unknown;
}

/** Payloads of the ConverseStream events, by `:event-type`. */
export interface ConverseStreamEvents {
  messageStart: { role: 'assistant' };
  contentBlockStart: {
    contentBlockIndex: number;
    start: { toolUse?: { toolUseId: string; name: string; type?: string }; [key: string]: unknown };
  };
  contentBlockDelta: { contentBlockIndex: number; delta: ConverseDelta };
  contentBlockStop: { contentBlockIndex: number };
  messageStop: { stopReason: ConverseStopReason | string; additionalModelResponseFields?: unknown };
  metadata: { usage: ConverseTokenUsage; metrics: { latencyMs: number }; [key: string]: unknown };
}

/** The `x-amzn-errortype` suffix real Bedrock appends to the exception name. */
export const ERROR_TYPE_SUFFIX = ':http://internal.amazon.com/coral/com.amazon.bedrock/';
