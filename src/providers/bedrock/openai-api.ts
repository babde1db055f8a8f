import type { ChatRequest } from '../../core/chat.js';
import { invalidRequest } from '../../errors/index.js';
import type { GatewayCall, UpstreamRequest } from '../adapter.js';
import { droppedControls } from '../controls.js';
import { BEDROCK_OPENAI_TOOL_CALL_IDS, fitToolCallIds } from '../internal/tool-call-ids.js';
import { toOpenAIShape } from '../openai/allow-list.js';
import { sameProtocol } from '../openai/request.js';
import { CONVERSE_PASSTHROUGH } from './request.js';
import { copied, merged } from '../../core/objects.js';

/** Fields only Switchyard reads; never forwarded upstream. */
const GATEWAY_FIELDS = ['provider_options', 'models', 'fallback_models'] as const;

/**
 * The request for Bedrock's OpenAI-compatible Chat Completions endpoint
 * (`POST {base}/openai/v1/chat/completions`, bedrock.md §8), used by deployments with
 * `api: 'openai'`. The body is the client's OpenAI body (cut down to OpenAI's request shape when
 * it was translated from another protocol: ../openai/allow-list.ts) with targeted edits: `model`
 * set to the Bedrock model id, `stream_options.include_usage` when streaming (for metering),
 * gateway fields stripped. From `provider_options.bedrock`, `additionalModelRequestFields` are
 * merged into the body (they are model fields) and other plain fields are forwarded; the
 * Converse-only members (`guardrailConfig`, `performanceConfig`, ...) cannot apply here and are
 * rejected with `unsupported_parameter`. Auth is added by the caller.
 */
export function buildOpenAIChatRequest(call: GatewayCall, base: string): UpstreamRequest {
  const source = call.body as ChatRequest;
  // A body translated from another protocol keeps only members of OpenAI's chat request.
  const body: Record<string, unknown> = sameProtocol(call)
    ? copied(source)
    : toOpenAIShape(source, { azure: false, maxCompletionTokens: true });
  for (const field of GATEWAY_FIELDS) delete body[field];
  // OpenAI account features this endpoint does not take: dropped with a warning header.
  for (const { field } of droppedControls('bedrock', 'openai', body)) delete body[field];
  const {
    additionalModelRequestFields,
    structuredOutput: _converseOnly,
    ...extra
  } = source.provider_options?.['bedrock'] ?? {};
  for (const key of Object.keys(extra)) {
    if (CONVERSE_PASSTHROUGH.includes(key)) {
      throw invalidRequest(
        `'${key}' applies to Bedrock Converse, not to this model's OpenAI-compatible endpoint`,
        `provider_options.bedrock.${key}`,
        'unsupported_parameter',
      );
    }
  }
  Object.assign(body, extra);
  if (additionalModelRequestFields && typeof additionalModelRequestFields === 'object')
    Object.assign(body, additionalModelRequestFields);
  body['model'] = call.deployment.model;
  if (Array.isArray(body['messages']))
    body['messages'] = fitToolCallIds(
      body['messages'] as ChatRequest['messages'],
      BEDROCK_OPENAI_TOOL_CALL_IDS,
    );
  body['stream'] = call.stream;
  if (call.stream) {
    const options = body['stream_options'];
    body['stream_options'] = merged(options && typeof options === 'object' ? options : {}, {
      include_usage: true,
    });
  } else delete body['stream_options'];
  return {
    method: 'POST',
    url: `${base}/openai/v1/chat/completions`,
    headers: {
      'content-type': 'application/json',
      accept: call.stream ? 'text/event-stream' : 'application/json',
    },
    body: JSON.stringify(body),
  };
}
