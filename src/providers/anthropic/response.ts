import type {
  ChatCompletion,
  ChatMessage,
  ChatToolCall,
  ChatUsage,
  FinishReason,
} from '../../core/chat.js';
import { GatewayError } from '../../errors/index.js';
import type { AnthropicMessage, AnthropicStopReason, AnthropicUsage } from './types.js';

/**
 * Maps Anthropic's `stop_reason` to an OpenAI `finish_reason`. `refusal` is a content-policy stop;
 * `model_context_window_exceeded` ran out of room, as `length` does; `pause_turn` (a server-tool
 * loop paused) ends the turn normally.
 */
export function finishReasonOf(
  reason: AnthropicStopReason | string | null | undefined,
): FinishReason {
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/**
 * Maps Anthropic usage to OpenAI usage. Anthropic's `input_tokens` excludes cache reads and
 * writes; OpenAI's `prompt_tokens` includes them, with reads reported as `cached_tokens` and
 * writes as the extension `cache_write_tokens` (the one-hour part as `cache_write_1h_tokens`,
 * from `cache_creation.ephemeral_1h_input_tokens`), the names src/core/usage.ts reads.
 */
export function usageOf(usage: AnthropicUsage | undefined): ChatUsage {
  const input = count(usage?.input_tokens);
  const read = count(usage?.cache_read_input_tokens);
  const written = count(usage?.cache_creation_input_tokens);
  const hour = count(usage?.cache_creation?.ephemeral_1h_input_tokens);
  const output = count(usage?.output_tokens);
  const prompt = input + read + written;
  return {
    prompt_tokens: prompt,
    completion_tokens: output,
    total_tokens: prompt + output,
    prompt_tokens_details: {
      cached_tokens: read,
      ...(written > 0 && { cache_write_tokens: written }),
      ...(hour > 0 && { cache_write_1h_tokens: Math.min(hour, written) }),
    },
    completion_tokens_details: {
      reasoning_tokens: count(usage?.output_tokens_details?.thinking_tokens),
    },
  };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/**
 * Maps a non-streaming Anthropic message to a ChatCompletion: text blocks join into `content`,
 * `tool_use` blocks become `tool_calls` (same ids, `arguments` = JSON of `input`), and thinking
 * becomes `reasoning_content` with its `reasoning_signature`. Server-tool and redacted-thinking
 * blocks have no Chat Completions equivalent and are left out of the message.
 */
export function fromAnthropicMessage(json: unknown, created: number): ChatCompletion {
  if (!isMessage(json)) {
    throw new GatewayError('Anthropic returned a body that is not a message', {
      code: 'upstream_bad_response',
      status: 502,
      errorClass: 'bad_response',
    });
  }
  let text = '';
  let reasoning: string | undefined;
  let signature: string | undefined;
  const toolCalls: ChatToolCall[] = [];
  for (const block of json.content) {
    if (block.type === 'text') text += block.text;
    else if (block.type === 'thinking') {
      reasoning = (reasoning ?? '') + block.thinking;
      if (block.signature) signature = block.signature;
    } else if (block.type === 'tool_use') {
      toolCalls.push({
        id: block.id,
        type: 'function',
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  const message: ChatMessage & { role: 'assistant' } = {
    role: 'assistant',
    content: text === '' && toolCalls.length > 0 ? null : text,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (reasoning !== undefined) message.reasoning_content = reasoning;
  if (signature !== undefined) message.reasoning_signature = signature;
  return {
    id: json.id,
    object: 'chat.completion',
    created,
    model: json.model,
    choices: [
      {
        index: 0,
        message,
        finish_reason: finishReasonOf(json.stop_reason),
        logprobs: null,
        ...stopSequenceOf(json.stop_sequence),
      },
    ],
    usage: usageOf(json.usage),
    ...serviceTierOf((json.usage as { service_tier?: unknown } | undefined)?.service_tier),
  };
}

/** Anthropic's `usage.service_tier` (`standard`, `priority`, `batch`) in OpenAI's words. */
function serviceTierOf(tier: unknown): { service_tier?: string } {
  if (typeof tier !== 'string') return {};
  return { service_tier: tier === 'standard' ? 'default' : tier };
}

/**
 * Extension: the stop sequence that ended the answer, kept on the choice (`stop_sequence`) so the
 * Anthropic surface can report it; OpenAI clients ignore the unknown key.
 */
export function stopSequenceOf(sequence: unknown): { stop_sequence?: string } {
  return typeof sequence === 'string' ? { stop_sequence: sequence } : {};
}

function isMessage(json: unknown): json is AnthropicMessage {
  if (typeof json !== 'object' || json === null) return false;
  const candidate = json as Partial<AnthropicMessage>;
  return typeof candidate.id === 'string' && Array.isArray(candidate.content);
}
