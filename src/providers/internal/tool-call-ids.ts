import { createHash } from 'node:crypto';
import type { ChatMessage } from '../../core/chat.js';
import { copied, merged } from '../../core/objects.js';

/**
 * Tool-call ids travel through clients unchanged, so a conversation can bring back to one
 * upstream the ids another minted: Gemini's carry thought signatures (`call_sig_…`, a few hundred
 * characters, see ../gemini/signatures.ts), other hosts use `.`, `|` or `:`. Each upstream
 * validates the ids it is sent, so every adapter fits the ids of its request to its own rule:
 * an id that passes is kept byte for byte; one that does not becomes `call_` + 24 base62
 * characters of its SHA-256. The mapping is a pure function of the id, so an assistant tool call
 * and the tool result that answers it still pair, on this turn and on every later one. Only
 * requests are rewritten: answers carry the ids the upstream itself minted.
 */

/** What one upstream accepts as a tool-call id. */
export interface ToolCallIdRule {
  maxLength: number;
  /** Whole-id pattern, when the upstream restricts characters. */
  pattern?: RegExp;
}

/** OpenAI and Azure OpenAI: "Expected a string with maximum length 40" for `tool_calls[].id`. */
export const OPENAI_TOOL_CALL_IDS: ToolCallIdRule = { maxLength: 40 };

/**
 * Bedrock Converse `toolUseId`: 1–64 characters of `[a-zA-Z0-9_-]`
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolUseBlock.html).
 */
export const BEDROCK_TOOL_CALL_IDS: ToolCallIdRule = { maxLength: 64, pattern: /^[a-zA-Z0-9_-]+$/ };

/** Bedrock's OpenAI-compatible endpoint: OpenAI's length cap and Converse's characters. */
export const BEDROCK_OPENAI_TOOL_CALL_IDS: ToolCallIdRule = {
  maxLength: 40,
  pattern: /^[a-zA-Z0-9_-]+$/,
};

/** Anthropic `tool_use.id` / `tool_result.tool_use_id`: "String should match pattern '^[a-zA-Z0-9_-]+$'" (no length cap). */
export const ANTHROPIC_TOOL_CALL_IDS: ToolCallIdRule = {
  maxLength: Number.POSITIVE_INFINITY,
  pattern: /^[a-zA-Z0-9_-]+$/,
};

const BASE62 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * `id` if `rule` accepts it, else its deterministic short form.
 * @example fitToolCallId('call_sig_' + 'A'.repeat(200), OPENAI_TOOL_CALL_IDS) // → 'call_' + 24 base62 chars
 */
export function fitToolCallId(id: string, rule: ToolCallIdRule): string {
  return fits(id, rule) ? id : shortToolCallId(id);
}

/** `call_` + 24 base62 characters of SHA-256(id): 29 characters that every upstream accepts. */
export function shortToolCallId(id: string): string {
  const digest = createHash('sha256').update(id).digest();
  let out = 'call_';
  for (let i = 0; i < 24; i++) out += BASE62[digest[i]! % 62];
  return out;
}

/**
 * `messages` with every assistant `tool_calls[].id` and tool `tool_call_id` fitted to `rule`.
 * Returns `messages` itself (no copy) when every id already fits, which is the common case.
 */
export function fitToolCallIds(messages: ChatMessage[], rule: ToolCallIdRule): ChatMessage[] {
  if (!Array.isArray(messages) || !messages.some((message) => needsFit(message, rule)))
    return messages;
  return messages.map((message) => {
    if (!needsFit(message, rule)) return message;
    const fitted: ChatMessage = copied(message);
    if (typeof message.tool_call_id === 'string')
      fitted.tool_call_id = fitToolCallId(message.tool_call_id, rule);
    if (Array.isArray(message.tool_calls)) {
      fitted.tool_calls = message.tool_calls.map((call) =>
        typeof call?.id === 'string' && !fits(call.id, rule)
          ? merged(call, { id: shortToolCallId(call.id) })
          : call,
      );
    }
    return fitted;
  });
}

function needsFit(message: ChatMessage, rule: ToolCallIdRule): boolean {
  if (message === null || typeof message !== 'object') return false;
  if (typeof message.tool_call_id === 'string' && !fits(message.tool_call_id, rule)) return true;
  return (
    Array.isArray(message.tool_calls) &&
    message.tool_calls.some((call) => typeof call?.id === 'string' && !fits(call.id, rule))
  );
}

function fits(id: string, rule: ToolCallIdRule): boolean {
  return (
    id.length > 0 &&
    id.length <= rule.maxLength &&
    (rule.pattern === undefined || rule.pattern.test(id))
  );
}
