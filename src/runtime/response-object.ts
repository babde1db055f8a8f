import type { ChatUsage } from '../core/chat.js';
import type { GatewayError } from '../errors/index.js';
import type { CreateResponseParams, Item, ResponseObject, ResponseUsage } from './types.js';
import { copied, merged } from '../core/objects.js';

/**
 * The Response object (spec `Response`): every request field it echoes, then status, output,
 * usage and error as the run goes. Built the same way for JSON answers, stream events, the
 * store and replays, so they all agree.
 */
export function responseShell(
  params: CreateResponseParams,
  id: string,
  createdAt: number,
): ResponseObject {
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status: 'in_progress',
    background: false,
    completed_at: null,
    conversation: params.conversationId === null ? null : { id: params.conversationId },
    error: null,
    incomplete_details: null,
    instructions: params.instructions,
    max_output_tokens: params.maxOutputTokens,
    max_tool_calls: null,
    model: params.model,
    output: [],
    parallel_tool_calls: params.parallelToolCalls ?? true,
    previous_response_id: params.previousResponseId,
    reasoning: {
      effort: params.reasoning?.effort ?? null,
      summary: params.reasoning?.summary ?? null,
    },
    service_tier: 'default',
    store: params.store,
    temperature: params.temperature ?? 1,
    text: { format: params.text.format, verbosity: params.text.verbosity ?? 'medium' },
    tool_choice: params.toolChoice,
    tools: params.tools.map((tool) =>
      merged(tool, {
        description: tool.description ?? null,
        parameters: tool.parameters ?? null,
        strict: tool.strict ?? null,
      }),
    ),
    top_logprobs: 0,
    top_p: params.topP ?? 1,
    truncation: params.truncation,
    usage: null,
    user: params.user,
    metadata: params.metadata,
    ...params.echo,
  };
}

/**
 * The shell as honoured by the deployment that served it: a control it dropped
 * (providers/controls.ts) is not echoed (`service_tier` falls back to `default`), and
 * `service_tier` is the tier the upstream says it used, when it says one.
 */
export function honouredShell(
  shell: ResponseObject,
  dropped: readonly { field: string }[] | undefined,
  usedTier?: unknown,
): ResponseObject {
  const out: ResponseObject = copied(shell);
  for (const { field } of dropped ?? []) out[field] = field === 'service_tier' ? 'default' : null;
  if (typeof usedTier === 'string' && usedTier !== '') out['service_tier'] = usedTier;
  return out;
}

/** The terminal state of a run: `completed`, or `incomplete` with its reason. */
export function finishedResponse(
  shell: ResponseObject,
  output: Item[],
  usage: ResponseUsage,
  finishReason: string | null,
  completedAt: number,
): ResponseObject {
  const reason =
    finishReason === 'length'
      ? 'max_output_tokens'
      : finishReason === 'content_filter'
        ? 'content_filter'
        : null;
  // Object.assign, not a spread: overriding keys after a spread is a slow path in V8.
  return Object.assign({}, shell, {
    status: reason === null ? 'completed' : 'incomplete',
    completed_at: reason === null ? completedAt : null,
    incomplete_details: reason === null ? null : { reason },
    output,
    usage,
  } as const);
}

/** A failed run: the output produced so far and `error: {code, message}`. */
export function failedResponse(
  shell: ResponseObject,
  output: Item[],
  usage: ResponseUsage | null,
  error: GatewayError,
): ResponseObject {
  return Object.assign({}, shell, {
    status: 'failed',
    output,
    usage,
    error: { code: responseErrorCode(error), message: error.message },
  } as const);
}

/**
 * `ResponseErrorCode` for a gateway error (the spec's enum has no finer codes for these). A tool
 * call interrupted under `runtime.tools.interruptedCalls: fail` keeps its own code, so a client
 * can tell it from a server fault and decide whether to run the tool again itself.
 */
export function responseErrorCode(error: GatewayError): string {
  if (error.code === 'tool_call_interrupted') return 'tool_call_interrupted';
  if (error.status === 429 || error.errorClass === 'rate_limited') return 'rate_limit_exceeded';
  if (error.errorClass === 'invalid_request' || error.errorClass === 'context_overflow')
    return 'invalid_prompt';
  return 'server_error';
}

/** The cache-write extension, present only when there were writes (OpenAI never reports any). */
export function cacheWrites(tokens: number): { cache_write_tokens?: number } {
  return Number.isFinite(tokens) && tokens > 0 ? { cache_write_tokens: tokens } : {};
}

/** Chat usage → `ResponseUsage` (zeros when the provider reported none). */
export function responseUsage(
  usage: ChatUsage | null | undefined,
  extra?: ResponseUsage,
): ResponseUsage {
  const input = (usage?.prompt_tokens ?? 0) + (extra?.input_tokens ?? 0);
  const output = (usage?.completion_tokens ?? 0) + (extra?.output_tokens ?? 0);
  return {
    input_tokens: input,
    input_tokens_details: {
      cached_tokens:
        (usage?.prompt_tokens_details?.cached_tokens ?? 0) +
        (extra?.input_tokens_details.cached_tokens ?? 0),
      ...cacheWrites(
        Number(usage?.prompt_tokens_details?.['cache_write_tokens'] ?? 0) +
          (extra?.input_tokens_details.cache_write_tokens ?? 0),
      ),
    },
    output_tokens: output,
    output_tokens_details: {
      reasoning_tokens:
        (usage?.completion_tokens_details?.reasoning_tokens ?? 0) +
        (extra?.output_tokens_details.reasoning_tokens ?? 0),
    },
    total_tokens: input + output,
    // Switchyard's extension: the booked cost, USD, when the caller asked for it.
    ...(typeof usage?.['cost'] === 'number' && { cost: usage['cost'] }),
  };
}
