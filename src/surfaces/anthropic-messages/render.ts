import type { ChatCompletion, ChatUsage, FinishReason } from '../../core/chat.js';
import { randomId } from '../../core/ids.js';
import { type GatewayError, errorHeaders } from '../../errors/index.js';
import type {
  AnthropicContentBlock,
  AnthropicErrorBody,
  AnthropicMessage,
  AnthropicStopReason,
  AnthropicUsage,
} from '../../providers/anthropic/index.js';
import { merged } from '../../core/objects.js';

/** `finish_reason` → Anthropic `stop_reason` (a known stop sequence turns `stop` into `stop_sequence`). */
export function stopReasonOf(
  finish: FinishReason | null | undefined,
  stopSequence: string | null,
): AnthropicStopReason {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return stopSequence !== null ? 'stop_sequence' : 'end_turn';
  }
}

/**
 * OpenAI usage → Anthropic usage: Anthropic's `input_tokens` excludes cache reads and writes,
 * OpenAI's `prompt_tokens` includes them.
 */
export function anthropicUsageOf(
  usage: ChatUsage | null | undefined,
): Required<
  Pick<
    AnthropicUsage,
    'input_tokens' | 'output_tokens' | 'cache_read_input_tokens' | 'cache_creation_input_tokens'
  >
> &
  AnthropicUsage {
  const read = count(usage?.prompt_tokens_details?.cached_tokens);
  const written = count(usage?.prompt_tokens_details?.['cache_write_tokens']);
  const hour = Math.min(written, count(usage?.prompt_tokens_details?.['cache_write_1h_tokens']));
  const out: AnthropicUsage & {
    input_tokens: number;
    output_tokens: number;
    cache_read_input_tokens: number;
    cache_creation_input_tokens: number;
  } = {
    input_tokens: Math.max(0, count(usage?.prompt_tokens) - read - written),
    output_tokens: count(usage?.completion_tokens),
    cache_creation_input_tokens: written,
    cache_read_input_tokens: read,
  };
  if (written > 0)
    out.cache_creation = {
      ephemeral_5m_input_tokens: written - hour,
      ephemeral_1h_input_tokens: hour,
    };
  const reasoning = count(usage?.completion_tokens_details?.reasoning_tokens);
  if (reasoning > 0) out.output_tokens_details = { thinking_tokens: reasoning };
  // Switchyard's extension: the booked cost, USD, when the caller asked for it.
  if (typeof usage?.['cost'] === 'number') out['cost'] = usage['cost'];
  return out;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** An Anthropic message id for a completion id (`msg_…` kept, anything else re-prefixed). */
export function messageIdOf(id: string | undefined): string {
  if (id === undefined || id === '') return randomId('msg_');
  return id.startsWith('msg_') ? id : `msg_${id.replace(/^chatcmpl-/, '')}`;
}

/** Parses tool-call arguments for a `tool_use.input`; invalid JSON is kept under `_raw` rather than lost. */
export function toolInputOf(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { _raw: text };
  }
}

/**
 * Renders a ChatCompletion as an Anthropic message: thinking first (with its signature), then
 * text, then `tool_use` blocks with the tool-call ids.
 */
export function toAnthropicMessage(completion: ChatCompletion, model: string): AnthropicMessage {
  const choice = completion.choices[0];
  const message = choice?.message;
  const content: AnthropicContentBlock[] = [];
  if (message?.reasoning_content !== undefined && message.reasoning_content !== '') {
    content.push({
      type: 'thinking',
      thinking: message.reasoning_content,
      signature: message.reasoning_signature ?? '',
    });
  }
  const text =
    textOf(message?.content) || (typeof message?.refusal === 'string' ? message.refusal : '');
  if (text !== '') content.push({ type: 'text', text });
  for (const call of message?.tool_calls ?? []) {
    content.push({
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: toolInputOf(call.function.arguments),
    });
  }
  if (content.length === 0) content.push({ type: 'text', text: '' });
  const stopSequence =
    typeof choice?.['stop_sequence'] === 'string' ? choice['stop_sequence'] : null;
  return {
    id: messageIdOf(completion.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReasonOf(choice?.finish_reason, stopSequence),
    // Bedrock may not say which sequence matched: the reason is kept, the unknown text is null.
    stop_sequence: stopSequence || null,
    usage: anthropicUsageOf(completion.usage),
  };
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: { type?: unknown; text?: unknown }) =>
      part.type === 'text' && typeof part.text === 'string' ? part.text : '',
    )
    .join('');
}

/**
 * Status and Anthropic `error.type` for a GatewayError. Overload stays (or becomes) 529
 * `overloaded_error`, which Anthropic SDKs retry and treat as a capacity problem
 * (../shared/protocols/error-classification.md §3).
 */
export function anthropicErrorOf(error: GatewayError): { status: number; type: string } {
  if (error.status === 529 || error.errorClass === 'overloaded')
    return { status: 529, type: 'overloaded_error' };
  const status = error.status;
  const type =
    status === 401
      ? 'authentication_error'
      : status === 402
        ? 'billing_error'
        : status === 403
          ? 'permission_error'
          : status === 404
            ? 'not_found_error'
            : status === 413
              ? 'request_too_large'
              : status === 429
                ? 'rate_limit_error'
                : status === 504
                  ? 'timeout_error'
                  : status >= 500
                    ? 'api_error'
                    : 'invalid_request_error';
  return { status, type };
}

/** The Anthropic error body `{"type":"error","error":{"type","message"},"request_id"}`. */
export function renderAnthropicError(error: GatewayError, requestId: string): AnthropicErrorBody {
  return {
    type: 'error',
    error: { type: anthropicErrorOf(error).type, message: error.message },
    request_id: requestId,
  };
}

/** Headers for an error answer: retry hints (`retry-after`, `x-should-retry`) plus the request id. */
export function anthropicErrorHeaders(
  error: GatewayError,
  requestId: string,
): Record<string, string> {
  return merged(errorHeaders(error), { 'request-id': requestId });
}
